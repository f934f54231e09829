//! The login throttle from the attacker's side: guesses sent all at once,
//! guesses spread over addresses behind a proxy or over instances, and the
//! account page's current-password check. The owner is never locked out
//! by other people's failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_domain::AttemptCounter;
use tokio::sync::Barrier;

use crate::cluster::{postgres_url, Cluster};
use crate::support::*;

/// The CSRF token of the form at `url`, bound to browser `b`.
async fn csrf_at(b: &reqwest::Client, url: &str) -> String {
    let page = b.get(url).send().await.unwrap().text().await.unwrap();
    hidden(&page, "csrf")
}

/// A browser with the sign-in page's CSRF token: it may post to `/login`
/// on any instance sharing the KEK.
async fn login_form(app: &impl Server) -> (reqwest::Client, String) {
    let b = browser();
    let csrf = csrf_at(&b, &app.url("/login")).await;
    (b, csrf)
}

/// One sign-in attempt to the account pages, sent with `X-Forwarded-For:
/// forwarded` when given; returns the status.
async fn attempt(
    b: &reqwest::Client,
    url: &str,
    csrf: &str,
    username: &str,
    password: &str,
    forwarded: Option<&str>,
) -> u16 {
    let mut req = b.post(url).form(&[
        ("csrf", csrf),
        ("username", username),
        ("password", password),
    ]);
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status().as_u16()
}

/// `n` wrong guesses at alice's password, released at the same instant,
/// the i-th to `urls[i % urls.len()]`; returns how many got 401 and 429.
async fn guesses_at_once(
    b: &reqwest::Client,
    csrf: &str,
    urls: &[String],
    n: usize,
) -> (usize, usize) {
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (b, barrier, csrf, url) = (
                b.clone(),
                barrier.clone(),
                csrf.to_owned(),
                urls[i % urls.len()].clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                attempt(&b, &url, &csrf, "alice", &format!("guess number {i}"), None).await
            })
        })
        .collect();
    let (mut wrong, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            401 => wrong += 1,
            429 => refused += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    (wrong, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_simultaneous_guesses_get_at_most_ten_answers() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let (b, csrf) = login_form(&app).await;
    let (wrong, refused) = guesses_at_once(&b, &csrf, &[app.url("/login")], 60).await;
    assert!(
        (1..=10).contains(&wrong),
        "{wrong} guesses were checked, {refused} refused"
    );
    assert_eq!(wrong + refused, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_counts_alone_and_spoofing_does_not_help() {
    // The test client plays the proxy: its connections come from 127.0.0.1.
    let app =
        TestApp::spawn_with(|c| c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
            .await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let (b, csrf) = login_form(&app).await;
    let login = app.url("/login");
    let mallory = Some("203.0.113.66");
    // Mallory sprays 35 accounts through the proxy: her address is spent.
    let mut statuses = Vec::new();
    for i in 0..35 {
        let user = format!("user{i}");
        statuses.push(attempt(&b, &login, &csrf, &user, "guess", mallory).await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    // Writing another address in front of hers changes nothing: the proxy
    // appended her real one after it.
    let spoofed = Some("198.51.100.1, 203.0.113.66");
    assert_eq!(
        attempt(&b, &login, &csrf, "alice", "guess", spoofed).await,
        429
    );
    // Garbage in the header is never an error, and never a way out.
    for garbage in ["", ",,,", "unknown", "300.1.1.1", "[::1", "a, b, c"] {
        let header = format!("{garbage}, 203.0.113.66");
        let status = attempt(&b, &login, &csrf, "alice", "guess", Some(&header)).await;
        assert_eq!(status, 429, "{header:?}");
        let status = attempt(&b, &login, &csrf, "nobody", "guess", Some(garbage)).await;
        assert!(status == 401 || status == 429, "{garbage:?}: {status}");
    }
    let not_text = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.66").unwrap();
    let status = b
        .post(&login)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "x"),
        ])
        .header("x-forwarded-for", not_text)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 429, "bytes that are not text");
    let lines = b
        .post(&login)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "nobody"),
            ("password", "x"),
        ])
        .header("x-forwarded-for", "192.0.2.1")
        .header("x-forwarded-for", "203.0.113.66")
        .send()
        .await
        .unwrap();
    assert_eq!(lines.status(), 429, "several lines are one list");
    // Everyone else behind the same proxy signs in as usual.
    let other = Some("198.51.100.7");
    assert_eq!(
        attempt(&b, &login, &csrf, "bob", PASSWORD, other).await,
        303
    );
    let (alice, csrf2) = login_form(&app).await;
    let status = attempt(
        &alice,
        &login,
        &csrf2,
        "alice",
        PASSWORD,
        Some("192.0.2.44"),
    )
    .await;
    assert_eq!(status, 303);

    // A server that trusts another network ignores the header from here:
    // rotating it does not escape the limit.
    let app =
        TestApp::spawn_with(|c| c.server.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()])
            .await;
    app.add_user("alice").await;
    let (b, csrf) = login_form(&app).await;
    let login = app.url("/login");
    let mut statuses = Vec::new();
    for i in 0..7 {
        let spoofed = format!("192.0.2.{i}");
        statuses.push(attempt(&b, &login, &csrf, "alice", "guess", Some(&spoofed)).await);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_never_refused_for_others_failures_only_delayed() {
    let app =
        TestApp::spawn_with(|c| c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
            .await;
    app.add_user("alice").await;
    let (b, csrf) = login_form(&app).await;
    let login = app.url("/login");
    // 25 guesses at alice at once, from five addresses behind the proxy.
    let barrier = Arc::new(Barrier::new(25));
    let tasks: Vec<_> = (0..25)
        .map(|i| {
            let (b, barrier, csrf, login) =
                (b.clone(), barrier.clone(), csrf.clone(), login.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let from = format!("203.0.113.{}", i % 5);
                attempt(&b, &login, &csrf, "alice", "guess", Some(&from)).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401, "each address is within its budget");
    }
    assert_eq!(
        attempt(&b, &login, &csrf, "alice", "guess", Some("203.0.113.0")).await,
        429,
        "an attacker's address is refused"
    );
    app.clock.advance(Duration::from_secs(4));
    // The owner, from an address with no failures of its own.
    let (owner, csrf) = login_form(&app).await;
    let started = Instant::now();
    let status = attempt(&owner, &login, &csrf, "alice", PASSWORD, Some("192.0.2.10")).await;
    let waited = started.elapsed();
    assert_eq!(status, 303, "the owner gets in");
    assert!(
        waited >= Duration::from_secs(3),
        "the account is slowed down: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "by at most the account's delay: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_at_the_account_page_is_throttled() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let (b, csrf) = login_form(&app).await;
    assert_eq!(
        attempt(&b, &app.url("/login"), &csrf, "alice", PASSWORD, None).await,
        303
    );
    // Someone with alice's session, guessing her password.
    let csrf = csrf_at(&b, &app.url("/account/password")).await;
    let barrier = Arc::new(Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (b, barrier, csrf, url) = (
                b.clone(),
                barrier.clone(),
                csrf.clone(),
                app.url("/account/password"),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                b.post(url)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("current", &format!("guess number {i}")),
                        ("new", "a brand new password"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let (mut wrong, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            400 => wrong += 1,
            429 => refused += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert!(
        wrong <= 10,
        "{wrong} guesses were checked, {refused} refused"
    );
    assert_eq!(wrong + refused, 50);
}

/// Two `latchkey serve` processes on one Postgres, counting in Redis and
/// then (without Redis) in the database: guesses sent to both at once are
/// counted together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_count_simultaneous_guesses_together() {
    let Some(pg) = postgres_url() else { return };
    for redis in [true, false] {
        let mut cluster = Cluster::new(&pg).await;
        if !redis {
            cluster.env.retain(|(k, _)| k != "LATCHKEY_REDIS_URL");
        }
        let a = cluster.start().await;
        let b = cluster.start().await;
        cluster.cli(
            &["user", "add", "alice", "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        let va = Remote {
            base: a.base.clone(),
            issuer: cluster.issuer.clone(),
        };
        let (browser, csrf) = login_form(&va).await;
        let urls = [format!("{}/login", a.base), format!("{}/login", b.base)];
        let (wrong, refused) = guesses_at_once(&browser, &csrf, &urls, 60).await;
        assert!(
            (1..=10).contains(&wrong),
            "redis {redis}: {wrong} guesses were checked, {refused} refused"
        );
    }
}

/// The Redis counter under concurrency: each of many hits at once on one
/// key sees its own count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counts_concurrent_attempts_one_by_one() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().await;
    let counter = latchkey_cache::RedisRevocations::connect(&redis.url, "t:")
        .await
        .unwrap()
        .attempts();
    let keys = vec!["p:x".to_owned(), "i:y".to_owned()];
    let barrier = Arc::new(Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (c, barrier, keys) = (counter.clone(), barrier.clone(), keys.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                c.hit(&keys, 1_000, 60_000).await.unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        let hits = t.await.unwrap();
        assert_eq!(hits[0].count, hits[1].count, "both keys counted together");
        assert_eq!(hits[0].previous_ms.is_some(), hits[0].count > 1);
        counts.push(hits[0].count);
    }
    counts.sort();
    assert_eq!(counts, (1..=40).collect::<Vec<_>>());
    // Taken back, never below zero; cleared; restarted after the window.
    counter.forgive("p:x").await.unwrap();
    assert_eq!(
        counter.hit(&keys[..1], 2_000, 60_000).await.unwrap()[0].count,
        40
    );
    counter.clear(&keys[..1]).await.unwrap();
    counter.forgive("p:x").await.unwrap();
    let hit = counter.hit(&keys, 3_000, 60_000).await.unwrap();
    assert_eq!((hit[0].count, hit[0].previous_ms), (1, None));
    assert_eq!((hit[1].count, hit[1].previous_ms), (41, Some(1_000)));
    let hit = counter.hit(&keys[1..], 63_000, 60_000).await.unwrap();
    assert_eq!((hit[0].count, hit[0].previous_ms), (1, None), "a new run");
}
