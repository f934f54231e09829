//! Refresh-token families, revocation (RFC 7009) and introspection
//! (RFC 7662), over HTTP.

use std::time::Duration;

use latchkey_core::admin::NewClient;

use crate::support::*;

/// A web app that may refresh.
async fn refresh_client(app: &TestApp) -> TestClient {
    app.add_client(NewClient {
        name: "Refreshing app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![
            latchkey_domain::GrantType::AuthorizationCode,
            latchkey_domain::GrantType::RefreshToken,
        ],
        scope: Some("openid profile offline_access sessions".into()),
        ..NewClient::default()
    })
    .await
}

/// Signs alice in and returns the token response.
async fn login_tokens(app: &TestApp, client: &TestClient) -> serde_json::Value {
    if app
        .core
        .admin(Actor::CommandLine)
        .users()
        .list()
        .await
        .unwrap()
        .is_empty()
    {
        app.add_user("alice").await;
    }
    let (verifier, challenge) = pkce();
    let b = browser();
    let back = sign_in(
        app,
        &b,
        &authorize_url(
            app,
            client.id(),
            &challenge,
            &[("scope", "openid profile offline_access")],
        ),
        "alice",
    )
    .await;
    let code = param(&back, "code").expect("code");
    let resp = redeem(app, client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `n` refreshes with one token, each waiting at `barrier` so they reach
/// the server at the same instant; each yields its status and, on success,
/// the token response.
fn spawn_refreshes(
    app: &TestApp,
    c: &TestClient,
    token: &str,
    n: usize,
    barrier: &std::sync::Arc<tokio::sync::Barrier>,
) -> Vec<tokio::task::JoinHandle<(u16, Option<serde_json::Value>)>> {
    (0..n)
        .map(|_| {
            let (b, url, id, secret, token) = (
                barrier.clone(),
                app.url("/token"),
                c.id().to_owned(),
                c.secret().to_owned(),
                token.to_owned(),
            );
            tokio::spawn(async move {
                b.wait().await;
                let resp = api()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body = if status == 200 {
                    Some(resp.json().await.unwrap())
                } else {
                    None
                };
                (status, body)
            })
        })
        .collect()
}

pub async fn refresh(app: &impl Server, client: &TestClient, token: &str) -> reqwest::Response {
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    api()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn introspect(app: &impl Server, rs: &TestClient, token: &str) -> serde_json::Value {
    let resp = api()
        .post(app.url("/introspect"))
        .basic_auth(rs.id(), rs.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_replay_kills_the_family() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let first = login_tokens(&app, &c).await;
    let r0 = first["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();

    let resp = refresh(&app, &c, &r0).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let second: serde_json::Value = resp.json().await.unwrap();
    let r1 = second["refresh_token"].as_str().unwrap().to_owned();
    let a1 = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r0, r1, "every use rotates");
    assert!(second.get("id_token").is_none());
    assert_eq!(userinfo_status(&app, &a1).await, 200);

    // The used token again: refused, and the whole family dies, including
    // the newest refresh token and the access tokens issued from it.
    assert_oauth_error(refresh(&app, &c, &r0).await, 400, "invalid_grant").await;
    assert_oauth_error(refresh(&app, &c, &r1).await, 400, "invalid_grant").await;
    assert_eq!(userinfo_status(&app, &a1).await, 401);
    assert_eq!(
        userinfo_status(&app, first["access_token"].as_str().unwrap()).await,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_refreshes_with_one_token_yield_one_success() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks = spawn_refreshes(&app, &c, &r0, 20, &barrier);
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (200, Some(body)) => winners.push(body),
            (400, _) => {}
            (s, _) => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 concurrent refreshes wins"
    );
    // The losers presented a token already consumed: that is reuse, so the
    // family dies with the winner's new tokens (docs/tokens.md). The
    // outcome does not depend on which request reached the database first.
    let won = &winners[0];
    assert_oauth_error(
        refresh(&app, &c, won["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        userinfo_status(&app, won["access_token"].as_str().unwrap()).await,
        401
    );
}

/// Narrowing a client's scope narrows the families it already holds, at
/// their next refresh: they never mint what the client may no longer ask
/// for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_client_gets_no_more_scope_from_its_old_families() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut narrowed = c.client.clone();
    narrowed.scope = latchkey_protocol::Scope::parse("openid offline_access").unwrap();
    assert!(app.store.update_client(&narrowed).await.unwrap());
    // Changed behind the server's back: its one-second copy must lapse.
    app.clock.advance(std::time::Duration::from_secs(2));

    let resp = api()
        .post(app.url("/token"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r0.as_str()),
            ("scope", "openid profile"),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_scope").await;
    let resp = refresh(&app, &c, &r0).await;
    assert_eq!(resp.status(), 200, "the refused request consumed nothing");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "offline_access openid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_may_narrow_scope_never_widen_it() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r0.as_str()),
            ("scope", "openid sessions"),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_scope").await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", r0.as_str()),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the widening attempt consumed nothing");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn families_expire_when_idle() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::from_secs(15 * 86_400));
    assert_oauth_error(refresh(&app, &c, &r0).await, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_response_can_be_recovered_when_configured() {
    let app = TestApp::spawn_with(|c| c.refresh.recovery_window = 30).await;
    let c = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lost: serde_json::Value = refresh(&app, &c, &r0).await.json().await.unwrap();
    // The response never reached the client: it retries with r0.
    let resp = refresh(&app, &c, &r0).await;
    assert_eq!(resp.status(), 200, "recovered within the window");
    let recovered: serde_json::Value = resp.json().await.unwrap();
    // The lost pair is dead; the recovered one works.
    assert_eq!(
        userinfo_status(&app, lost["access_token"].as_str().unwrap()).await,
        401
    );
    assert_oauth_error(
        refresh(&app, &c, lost["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    // ...and that second presentation of a used token killed the family.
    assert_oauth_error(
        refresh(&app, &c, recovered["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;

    // Past the window, a retry is a replay.
    let c2 = refresh_client(&app).await;
    let r0 = login_tokens(&app, &c2).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    refresh(&app, &c2, &r0).await;
    app.clock.advance(Duration::from_secs(31));
    assert_oauth_error(refresh(&app, &c2, &r0).await, 400, "invalid_grant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_tokens_and_introspection() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let rs = app.resource_server().await;
    let tokens = login_tokens(&app, &c).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let info = introspect(&app, &rs, access).await;
    assert_eq!(info["active"], true);
    for f in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "aud",
        "token_type",
        "jti",
    ] {
        assert!(!info[f].is_null(), "{f} missing: {info}");
    }
    assert_eq!(info["client_id"], c.id());

    // Another client cannot revoke it: it stays active.
    let other = refresh_client(&app).await;
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(other.id(), other.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(&app, &rs, access).await["active"], true);
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(other.id(), other.secret.as_deref())
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        refresh(&app, &c, refresh_token).await.status(),
        200,
        "still usable by its own client"
    );

    // Its own client revokes the access token (with a misleading hint).
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[("token", access), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        introspect(&app, &rs, access).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(userinfo_status(&app, access).await, 401);

    // Unknown tokens: 200 to revoke, inactive to introspect.
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[("token", "no-such-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        introspect(&app, &rs, "no-such-token").await,
        serde_json::json!({"active": false})
    );

    // Without client authentication: refused.
    let resp = api()
        .post(app.url("/revoke"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = api()
        .post(app.url("/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
}

/// A confidential client learns only about its own tokens: anything else
/// introspects as inactive, unless an administrator marked the client as a
/// resource server (CLI `client update --introspect true`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_its_own_tokens_unless_an_administrator_allows_more() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let snoop = app.machine_client().await;
    let tokens = login_tokens(&app, &c).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (machine_token, _) = {
        let resp = api()
            .post(app.url("/token"))
            .basic_auth(snoop.id(), snoop.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), body)
    };

    for token in [access, refresh_token] {
        let info = introspect(&app, &snoop, token).await;
        assert_eq!(
            info,
            serde_json::json!({ "active": false }),
            "another client's token"
        );
        assert_eq!(introspect(&app, &c, token).await["active"], true, "its own");
    }
    assert_eq!(
        introspect(&app, &snoop, &machine_token).await["active"],
        true
    );
    assert_eq!(introspect(&app, &c, &machine_token).await["active"], false);

    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            snoop.id(),
            &latchkey_core::admin::ClientSettings {
                introspect: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for token in [access, refresh_token] {
        assert_eq!(
            introspect(&app, &snoop, token).await["active"],
            true,
            "a resource server sees every token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_refresh_token_kills_its_family() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let rs = app.machine_client().await;
    let tokens = login_tokens(&app, &c).await;
    let r0 = tokens["refresh_token"].as_str().unwrap();
    let next: serde_json::Value = refresh(&app, &c, r0).await.json().await.unwrap();
    let r1 = next["refresh_token"].as_str().unwrap();
    let a1 = next["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&app, &rs, r1).await["active"],
        false,
        "another client cannot inspect a client's refresh token"
    );
    let own = introspect(&app, &c, r1).await;
    assert_eq!(own["active"], true);
    assert_eq!(own["token_type"], "refresh_token");

    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[("token", r1)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_oauth_error(refresh(&app, &c, r1).await, 400, "invalid_grant").await;
    assert_eq!(
        userinfo_status(&app, a1).await,
        401,
        "access tokens of the family die with it"
    );
    assert_eq!(introspect(&app, &c, r1).await["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_racing_a_revocation_leaves_no_live_token() {
    let app = TestApp::spawn().await;
    let c = refresh_client(&app).await;
    let rs = app.resource_server().await;
    let r0 = login_tokens(&app, &c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(11));
    let refreshes = spawn_refreshes(&app, &c, &r0, 10, &barrier);
    let (b, url, id, secret, token) = (
        barrier.clone(),
        app.url("/revoke"),
        c.id().to_owned(),
        c.secret().to_owned(),
        r0.clone(),
    );
    let revoke = tokio::spawn(async move {
        b.wait().await;
        api()
            .post(url)
            .basic_auth(id, Some(secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .status()
    });
    let mut issued = Vec::new();
    for t in refreshes {
        if let (200, Some(v)) = t.await.unwrap() {
            issued.push(v);
        }
    }
    assert_eq!(revoke.await.unwrap(), 200);
    assert!(issued.len() <= 1, "at most one refresh wins");
    // Once the revocation has answered, nothing issued is alive.
    for v in issued {
        assert_eq!(
            introspect(&app, &rs, v["access_token"].as_str().unwrap()).await["active"],
            false
        );
        assert_oauth_error(
            refresh(&app, &c, v["refresh_token"].as_str().unwrap()).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

/// A revoked access token stays refused for as long as it could be
/// accepted at all: past its `exp` by the whole `keys.clock_skew`, even
/// when that is longer than the usual minute, and through every sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_never_comes_back_within_a_long_clock_skew() {
    let app = TestApp::spawn_with(|c| {
        c.keys.clock_skew = 240;
        c.tokens.access_token_ttl = 60;
    })
    .await;
    let machine = app.machine_client().await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &machine, &token).await["active"], true);
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(&app, &machine, &token).await["active"], false);
    // 60 s of life, then 240 s of skew: at 130 s and 270 s past issue the
    // token alone would still pass; its revocation must outlive it.
    let mut elapsed = 0;
    for secs in [70, 70, 70, 60] {
        elapsed += secs;
        app.clock.advance(Duration::from_secs(secs));
        app.core.housekeeping().sweep().await.unwrap();
        app.core.revocations().sync().await.unwrap();
        assert_eq!(
            introspect(&app, &machine, &token).await["active"],
            false,
            "{elapsed} s after issue"
        );
    }
}
