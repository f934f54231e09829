//! What an operator sees: request ids on every answer and in the logs.

use crate::support::*;

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("an X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_answer_names_its_request_and_only_a_proxy_names_it_for_us() {
    let app = TestApp::spawn().await;
    let a = api().get(app.url("/healthz")).send().await.unwrap();
    let b = api().get(app.url("/no-such-page")).send().await.unwrap();
    let (a, b) = (request_id(&a), request_id(&b));
    assert_ne!(a, b, "a new id per request, errors included");
    assert!(a.len() >= 16, "{a}");
    // A client that is not a trusted proxy cannot choose the id (it could
    // make its requests look like someone else's in the logs).
    let resp = api()
        .get(app.url("/healthz"))
        .header("X-Request-Id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&resp), "chosen-by-the-client");

    // Behind a trusted proxy its id is kept, unless malformed.
    let proxied = TestApp::spawn_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let resp = api()
        .get(proxied.url("/healthz"))
        .header("X-Request-Id", "lb-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&resp), "lb-7f3a:42");
    let resp = api()
        .get(proxied.url("/healthz"))
        .header("X-Request-Id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&resp), "has spaces and \"quotes\"");
}

/// The value of the series `name` whose labels include all of `labels`
/// (summed when several match), from a scrape in the OpenMetrics text
/// format; 0 when none does.
fn series(body: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            let ok = n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            ok.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

async fn client_credentials(app: &TestApp, client: &TestClient, secret: &str) {
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
}

async fn scrape(app: &TestApp) -> String {
    let resp = api()
        .get(app.metrics.as_deref().expect("a metrics listener"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_what_happened_on_their_own_listener_without_naming_anyone() {
    use latchkey_core::admin::NewClient;

    let app = TestApp::spawn_with(|c| {
        c.server.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    // Never on the public listener.
    let resp = api().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // Nor does the metrics listener serve anything else.
    let other = app
        .metrics
        .as_deref()
        .unwrap()
        .replace("/metrics", "/token");
    assert_eq!(api().get(other).send().await.unwrap().status(), 404);

    let before = scrape(&app).await;
    assert_eq!(
        series(&before, "latchkey_tokens_issued_total", &[]),
        0.0,
        "{before}"
    );

    // Client credentials: two issued, one refused.
    let machine = app.machine_client().await;
    for secret in [machine.secret(), machine.secret(), "wrong"] {
        client_credentials(&app, &machine, secret).await;
    }

    // A sign-in after one wrong password, a code, a refresh, then the
    // old refresh token again (reuse: the family dies).
    app.add_user("alice").await;
    let web = app
        .add_client(NewClient {
            name: "Refreshing app".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![
                latchkey_domain::GrantType::AuthorizationCode,
                latchkey_domain::GrantType::RefreshToken,
            ],
            scope: Some("openid offline_access".into()),
            ..NewClient::default()
        })
        .await;
    let (verifier, challenge) = pkce();
    let b = browser();
    let auth = authorize_url(
        &app,
        web.id(),
        &challenge,
        &[("scope", "openid offline_access")],
    );
    let page = login_page(&app, &b, &auth).await;
    let wrong = page.sign_in(&app, &b, "alice", "not-the-password").await;
    assert_ne!(wrong.status(), 303);
    let back = sign_in(&app, &b, &auth, "alice").await;
    let code = param(&back, "code").expect("a code");
    let tokens: serde_json::Value = redeem(&app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let first = tokens["refresh_token"].as_str().unwrap();
    let refresh = |token: String| {
        let (app, web) = (&app, &web);
        async move {
            api()
                .post(app.url("/token"))
                .basic_auth(web.id(), Some(web.secret()))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(refresh(first.to_owned()).await, 200);
    assert_eq!(refresh(first.to_owned()).await, 400);

    let body = scrape(&app).await;
    let count = |name: &str, labels: &[(&str, &str)]| series(&body, name, labels);
    assert_eq!(
        count(
            "latchkey_tokens_issued_total",
            &[("grant_type", "client_credentials"), ("alg", "RS256")]
        ),
        2.0,
        "{body}"
    );
    assert_eq!(
        count(
            "latchkey_tokens_issued_total",
            &[("grant_type", "authorization_code")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "latchkey_token_errors_total",
            &[
                ("grant_type", "client_credentials"),
                ("error", "invalid_client")
            ]
        ),
        1.0
    );
    assert_eq!(
        count(
            "latchkey_token_errors_total",
            &[("grant_type", "refresh_token"), ("error", "invalid_grant")]
        ),
        1.0
    );
    assert_eq!(
        count("latchkey_refresh_total", &[("outcome", "rotated")]),
        1.0
    );
    assert_eq!(
        count("latchkey_refresh_total", &[("outcome", "reuse_detected")]),
        1.0
    );
    assert_eq!(
        count(
            "latchkey_revocations_total",
            &[("reason", "refresh_token_reuse")]
        ),
        1.0
    );
    assert_eq!(
        count("latchkey_logins_total", &[("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(
        count("latchkey_logins_total", &[("outcome", "failed")]),
        1.0
    );
    assert_eq!(
        count(
            "latchkey_http_requests_total",
            &[
                ("endpoint", "/token"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        4.0
    );
    assert_eq!(
        count(
            "latchkey_http_request_duration_seconds_count",
            &[("endpoint", "/token")]
        ),
        6.0
    );
    assert_eq!(count("latchkey_signing_keys", &[("state", "current")]), 1.0);
    assert!(count("latchkey_current_signing_key_age_seconds", &[]) >= 0.0);
    assert!(count("latchkey_db_pool_max_connections", &[]) >= 1.0);
    assert_eq!(count("latchkey_backchannel_outbox_backlog", &[]), 0.0);
    // Bounded labels: no client, user or token ever names a series.
    for who in [machine.id(), web.id(), "alice", first] {
        assert!(!body.contains(who), "{who} appears in the scrape");
    }
    assert_eq!(count("latchkey_swept_rows_total", &[]), 0.0);
    assert_eq!(
        count(
            "latchkey_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(
        count("latchkey_start_time_seconds", &[]),
        latchkey_domain::Clock::unix(&*app.clock) as f64,
        "the instance started at the test clock's time"
    );

    // Two days on, the sweeps remove the spent code (among others) and
    // say so, kind by kind.
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    app.core.housekeeping().sweep().await.unwrap();
    let body = scrape(&app).await;
    assert_eq!(
        series(&body, "latchkey_swept_rows_total", &[("kind", "codes")]),
        1.0,
        "{body}"
    );
    assert!(series(&body, "latchkey_swept_rows_total", &[("kind", "sessions")]) >= 1.0);
}

#[tokio::test]
async fn a_starved_pool_shows_its_waiters_and_their_waits() {
    let app = TestApp::spawn_with(|c| {
        c.server.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
        c.database.max_connections = 1;
    })
    .await;
    let web = app.web_client().await;
    let before = scrape(&app).await;
    let passed = series(
        &before,
        "latchkey_db_pool_acquire_duration_seconds_count",
        &[],
    );
    assert!(
        passed >= 1.0,
        "the scrape's own reads pass the gate: {before}"
    );
    assert_eq!(series(&before, "latchkey_db_pool_waiters", &[]), 0.0);

    // Each authorization request stores a pending request: with one
    // connection, all but one of those released together wait for it.
    let (_, challenge) = pkce();
    let url = authorize_url(&app, web.id(), &challenge, &[]);
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(24));
    let requests: Vec<_> = (0..24)
        .map(|_| {
            let (url, gate) = (url.clone(), gate.clone());
            tokio::spawn(async move {
                let b = browser();
                gate.wait().await;
                b.get(url).send().await.unwrap().status()
            })
        })
        .collect();
    for r in requests {
        // To the sign-in page, with the pending request stored.
        assert_eq!(r.await.unwrap(), 303);
    }

    let after = scrape(&app).await;
    let count = |name: &str, labels: &[(&str, &str)]| series(&after, name, labels);
    let passed_now = count("latchkey_db_pool_acquire_duration_seconds_count", &[]);
    assert!(passed_now >= passed + 24.0, "{after}");
    let waited = passed_now
        - count(
            "latchkey_db_pool_acquire_duration_seconds_bucket",
            &[("le", "0.0")],
        );
    assert!(
        waited >= 1.0,
        "nobody waited for the one connection: {after}"
    );
    assert!(count("latchkey_db_pool_acquire_duration_seconds_sum", &[]) > 0.0);
    assert_eq!(
        count(
            "latchkey_db_pool_acquire_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        passed_now
    );
    // Everyone got through: nobody is left waiting.
    assert_eq!(count("latchkey_db_pool_waiters", &[]), 0.0);
    assert_eq!(count("latchkey_db_pool_max_connections", &[]), 1.0);
}

/// Every metric a file of `deploy/` names (`latchkey_...`).
fn metrics_named_in(path: &str) -> std::collections::BTreeSet<String> {
    let file = format!("{}/../../deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("latchkey_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_dashboard_and_alerts_name_only_metrics_latchkey_exports() {
    let app = TestApp::spawn_with(|c| {
        c.server.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    // One token issued and one refused: their series exist from then on
    // (grant type and algorithm are not a closed set known in advance).
    let machine = app.machine_client().await;
    for secret in [machine.secret(), "wrong"] {
        client_credentials(&app, &machine, secret).await;
    }
    let body = scrape(&app).await;
    // What a query may name: every sample, and every family's series even
    // before its first sample (a counter's `_total`, a histogram's parts).
    let mut exported = std::collections::BTreeSet::new();
    for line in body.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (family, kind) = t.split_once(' ').unwrap();
            match kind {
                "counter" => {
                    exported.insert(format!("{family}_total"));
                }
                "histogram" => {
                    for part in ["bucket", "count", "sum"] {
                        exported.insert(format!("{family}_{part}"));
                    }
                }
                _ => {
                    exported.insert(family.to_owned());
                }
            }
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            exported.insert(name.to_owned());
        }
    }
    for file in [
        "grafana/latchkey-dashboard.json",
        "prometheus/latchkey-alerts.yaml",
    ] {
        let named = metrics_named_in(file);
        assert!(named.len() >= 8, "{file} names {named:?}");
        for name in named {
            assert!(
                exported.contains(&name),
                "{file} names {name}, which Latchkey does not export:\n{body}"
            );
        }
    }
}
