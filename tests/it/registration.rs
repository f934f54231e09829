//! Dynamic client registration (RFC 7591), client management (RFC 7592),
//! secret rotation, `private_key_jwt`, the admin API and its OpenAPI
//! document, over HTTP against the real server.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::*;
use crate::tokens::{introspect, refresh};

/// The mock clock's time.
pub(crate) fn now(app: &TestApp) -> i64 {
    latchkey_domain::Clock::unix(&*app.clock)
}

/// An initial access token good for `uses` registrations.
pub(crate) async fn initial_token(app: &TestApp, uses: i64) -> String {
    app.core
        .admin(Actor::CommandLine)
        .tokens()
        .create_registration_token(3600, uses)
        .await
        .expect("registration token")
        .token
}

pub(crate) async fn admin_token(app: &TestApp) -> String {
    app.core
        .admin(Actor::CommandLine)
        .tokens()
        .create_admin_token("tests", None)
        .await
        .unwrap()
        .token
}

/// `POST /register` with a JSON body and, if given, a Bearer token.
pub(crate) async fn register_raw(
    app: &TestApp,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = api().post(app.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers and returns the client information (status 201 asserted).
pub(crate) async fn register(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = register_raw(app, Some(token), &body).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 201, "registration of {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The registration access token an RFC 7592 answer carries, which
/// replaces `presented` (RFC 7592 §3).
#[track_caller]
pub(crate) fn next_rat(info: &Value, presented: &str) -> String {
    let next = info["registration_access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no registration_access_token in {info}"))
        .to_owned();
    assert_ne!(next, presented, "a new registration access token each time");
    next
}

pub(crate) fn web_metadata() -> Value {
    json!({
        "client_name": "Registered web app",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email offline_access",
        "contacts": ["ops@example.com"],
        "client_uri": "https://app.example.com",
        "unknown_member": {"is_admin": true},
    })
}

/// The registered client as the test helpers want it.
pub(crate) async fn test_client(app: &TestApp, info: &Value) -> TestClient {
    TestClient {
        client: app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .show(info["client_id"].as_str().unwrap())
            .await
            .unwrap(),
        secret: info["client_secret"].as_str().map(str::to_owned),
    }
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    api()
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

pub(crate) fn machine_metadata() -> Value {
    json!({
        "client_name": "Registered machine",
        "grant_types": ["client_credentials"],
        "scope": "api:read",
    })
}

/// Lets registered clients have `api:read` besides the default scopes.
pub(crate) async fn spawn_with_api_scope(
    tweak: impl FnOnce(&mut latchkey_config::Config),
) -> TestApp {
    TestApp::spawn_with(|c| {
        c.registration.allowed_scopes = plus_scope(&c.registration.allowed_scopes, "api:read");
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn registration_is_closed_without_an_initial_access_token() {
    let app = TestApp::spawn().await;
    let resp = register_raw(&app, None, &web_metadata()).await;
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_oauth_error(resp, 401, "invalid_token").await;
    for wrong in ["nope", "lkr_0123456789abcdef", &admin_token(&app).await] {
        let resp = register_raw(&app, Some(wrong), &web_metadata()).await;
        assert_oauth_error(resp, 401, "invalid_token").await;
    }
    // A used-up token, and an expired one.
    let once = initial_token(&app, 1).await;
    register(&app, &once, web_metadata()).await;
    let resp = register_raw(&app, Some(&once), &web_metadata()).await;
    assert_oauth_error(resp, 401, "invalid_token").await;
    let expiring = initial_token(&app, 5).await;
    app.clock.advance(Duration::from_secs(3601));
    let resp = register_raw(&app, Some(&expiring), &web_metadata()).await;
    assert_oauth_error(resp, 401, "invalid_token").await;
    assert_eq!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn open_registration_needs_no_token_when_the_operator_says_so() {
    let app = TestApp::spawn_with(|c| c.registration.open = true).await;
    let resp = register_raw(&app, None, &web_metadata()).await;
    assert_eq!(resp.status(), 201);
    // A token that is presented must still be a real one.
    let resp = register_raw(&app, Some("garbage"), &web_metadata()).await;
    assert_oauth_error(resp, 401, "invalid_token").await;
}

#[tokio::test]
async fn register_read_update_and_delete() {
    let app = TestApp::spawn().await;
    let info = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = info["client_secret"].as_str().unwrap();
    assert!(
        URL_SAFE_NO_PAD.decode(secret).unwrap().len() >= 32,
        "256-bit secret"
    );
    assert_eq!(info["client_secret_expires_at"], 0);
    assert_eq!(
        info["registration_client_uri"],
        format!("{}/register/{id}", app.issuer)
    );
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["contacts"], json!(["ops@example.com"]));
    assert!(info["client_id_issued_at"].as_i64().unwrap() > 0);
    assert!(
        info.get("unknown_member").is_none(),
        "unknown metadata is dropped"
    );
    // Only hashes are stored.
    let stored = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&id)
        .await
        .unwrap();
    assert_ne!(stored.secret_hash.as_deref(), Some(secret));

    let read = |token: String, client: String| {
        let app = &app;
        async move {
            api()
                .get(app.url(&format!("/register/{client}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let resp = read(rat.clone(), id.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let shown: Value = resp.json().await.unwrap();
    assert_eq!(shown["client_name"], "Registered web app");
    assert_eq!(shown["redirect_uris"], json!([REDIRECT]));
    assert!(
        shown.get("client_secret").is_none(),
        "the secret is shown once"
    );
    // Each read answers with the next registration access token.
    let rat = next_rat(&shown, &rat);
    assert_eq!(
        shown["registration_client_uri"],
        format!("{}/register/{id}", app.issuer)
    );
    // A wrong token, another client's id, and no token: all 401.
    let other = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    assert_oauth_error(read("wrong".into(), id.clone()).await, 401, "invalid_token").await;
    assert_oauth_error(
        read(rat.clone(), other["client_id"].as_str().unwrap().into()).await,
        401,
        "invalid_token",
    )
    .await;
    assert_oauth_error(
        read(rat.clone(), "no-such-client".into()).await,
        401,
        "invalid_token",
    )
    .await;
    let resp = api()
        .get(app.url(&format!("/register/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // PUT replaces the metadata; the body must name the client.
    let put = |rat: String, body: Value| {
        let (app, id) = (&app, id.clone());
        async move {
            api()
                .put(app.url(&format!("/register/{id}")))
                .bearer_auth(rat)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let new_meta = json!({
        "client_id": id,
        "client_name": "Renamed",
        "redirect_uris": ["https://app.example.com/cb"],
    });
    let resp = put(rat.clone(), new_meta.clone()).await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    let rat = next_rat(&updated, &rat);
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );
    assert_eq!(
        updated["grant_types"],
        json!(["authorization_code"]),
        "omitted: default"
    );
    assert!(updated.get("contacts").is_none());
    assert!(updated.get("client_secret").is_none(), "the secret is kept");
    let stored = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&id)
        .await
        .unwrap();
    assert_eq!(stored.name, "Renamed");
    assert_eq!(
        stored.redirect_uris[0].as_str(),
        "https://app.example.com/cb"
    );
    // The old secret still authenticates (the code grant's client, refused
    // only for the grant it lacks).
    let resp = client_credentials(&app, &id, secret).await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;

    // Refused updates: each with the same token, which they leave working.
    let mut no_id = new_meta.clone();
    no_id.as_object_mut().unwrap().remove("client_id");
    assert_oauth_error(put(rat.clone(), no_id).await, 400, "invalid_request").await;
    let mut other_id = new_meta.clone();
    other_id["client_id"] = other["client_id"].clone();
    assert_oauth_error(put(rat.clone(), other_id).await, 400, "invalid_request").await;
    let mut wrong_secret = new_meta.clone();
    wrong_secret["client_secret"] = json!("not-the-secret");
    assert_oauth_error(put(rat.clone(), wrong_secret).await, 400, "invalid_request").await;
    let mut right_secret = new_meta.clone();
    right_secret["client_secret"] = json!(secret);
    let resp = put(rat.clone(), right_secret).await;
    assert_eq!(resp.status(), 200);
    let rat = next_rat(&resp.json().await.unwrap(), &rat);
    let mut bad = new_meta.clone();
    bad["redirect_uris"] = json!(["http://evil.example/cb"]);
    assert_oauth_error(put(rat.clone(), bad).await, 400, "invalid_redirect_uri").await;

    // DELETE: 204, then the client and its token are gone.
    let resp = api()
        .delete(app.url(&format!("/register/{id}")))
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_oauth_error(read(rat.clone(), id.clone()).await, 401, "invalid_token").await;
    assert!(app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&id)
        .await
        .is_err());
    let resp = client_credentials(&app, &id, secret).await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

/// An RFC 7592 call: `method` on `/register/{id}` (or `{id}/secret`) with
/// `token` as the Bearer token and, for PUT, a JSON body.
async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = api().request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// A refused registration access token: 401 `invalid_token` with a Bearer
/// challenge, and no token in the answer.
async fn assert_token_refused(resp: reqwest::Response, what: &str) {
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|h| h.to_str().unwrap().to_owned());
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer")),
        "{what}: {challenge:?}"
    );
    let body = assert_oauth_error(resp, 401, "invalid_token").await;
    assert!(body.get("registration_access_token").is_none(), "{what}");
}

/// RFC 7592 §3: each read and update answers with a new registration access
/// token, and the one presented stops working at once for every call. A
/// refused update changes nothing, the token included.
#[tokio::test]
async fn the_registration_access_token_rotates_on_every_read_and_update() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    let info = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    let path = format!("/register/{id}");
    let uri = format!("{}{path}", app.issuer);
    let rat0 = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut meta = web_metadata();
    meta["client_id"] = json!(id);
    // Every call a token opens; none of them may work with a stale token.
    let any_update = meta.clone();
    let refused_everywhere = |stale: String| {
        let (app, path, meta) = (&app, path.clone(), any_update.clone());
        async move {
            for (method, p, body) in [
                (Method::GET, path.clone(), None),
                (Method::PUT, path.clone(), Some(&meta)),
                (Method::DELETE, path.clone(), None),
                (Method::POST, format!("{path}/secret"), None),
            ] {
                let what = format!("{method} {p} with a rotated-away token");
                assert_token_refused(manage(app, method, &p, &stale, body).await, &what).await;
            }
        }
    };

    // A read: a new token and the client's URI; the old token is dead.
    let resp = manage(&app, Method::GET, &path, &rat0, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let read: Value = resp.json().await.unwrap();
    let rat1 = next_rat(&read, &rat0);
    assert_eq!(read["registration_client_uri"], uri);
    assert!(read.get("client_secret").is_none());
    refused_everywhere(rat0.clone()).await;
    // Latchkey keeps only the new token's SHA-256.
    let stored = app
        .store
        .find_registration(&latchkey_protocol::ClientId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .registration_token_hash
        .unwrap();
    assert_eq!(stored, latchkey_domain::TokenHash::of(&rat1).into_string());
    assert_ne!(stored, rat1);

    // An update: the same, and the change is made.
    meta["client_name"] = json!("Renamed");
    let resp = manage(&app, Method::PUT, &path, &rat1, Some(&meta)).await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    let rat2 = next_rat(&updated, &rat1);
    assert_ne!(rat2, rat0);
    assert_eq!(updated["registration_client_uri"], uri);
    assert_eq!(updated["client_name"], "Renamed");
    refused_everywhere(rat1.clone()).await;

    // Refused updates (bad metadata, a wrong client_id or secret): no
    // token in the answer, nothing changed, and the token still works.
    let mut bad_uri = meta.clone();
    bad_uri["redirect_uris"] = json!(["http://evil.example/cb"]);
    let mut bad_method = meta.clone();
    bad_method["token_endpoint_auth_method"] = json!("magic");
    let mut other_id = meta.clone();
    other_id["client_id"] = json!("someone-else");
    let mut wrong_secret = meta.clone();
    wrong_secret["client_secret"] = json!("not-the-secret");
    for (body, code) in [
        (bad_uri, "invalid_redirect_uri"),
        (bad_method, "invalid_client_metadata"),
        (other_id, "invalid_request"),
        (wrong_secret, "invalid_request"),
    ] {
        let resp = manage(&app, Method::PUT, &path, &rat2, Some(&body)).await;
        let err = assert_oauth_error(resp, 400, code).await;
        assert!(err.get("registration_access_token").is_none(), "{err}");
    }
    // A body that is not JSON is refused before the token is looked at.
    let resp = api()
        .put(app.url(&path))
        .bearer_auth(&rat2)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    let resp = manage(&app, Method::GET, &path, &rat2, None).await;
    assert_eq!(resp.status(), 200);
    let shown: Value = resp.json().await.unwrap();
    assert_eq!(shown["client_name"], "Renamed", "nothing changed");
    let rat3 = next_rat(&shown, &rat2);
    refused_everywhere(rat2.clone()).await;

    // Secret rotation spends the token too: a thief holding it mints a
    // secret once at most, and locks the owner out, who then notices.
    let resp = manage(&app, Method::POST, &format!("{path}/secret"), &rat3, None).await;
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    assert_ne!(rotated["client_secret"], json!(secret));
    let rat4 = next_rat(&rotated, &rat3);
    refused_everywhere(rat3.clone()).await;

    // DELETE with the current token.
    let resp = manage(&app, Method::DELETE, &path, &rat4, None).await;
    assert_eq!(resp.status(), 204);
    for t in [&rat0, &rat1, &rat2, &rat3, &rat4] {
        let resp = manage(&app, Method::GET, &path, t, None).await;
        assert_token_refused(resp, "after DELETE").await;
    }
    assert!(app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .show(&id)
        .await
        .is_err());
}

/// Calls released at the same instant with one registration access token:
/// exactly one rotates it; every other is refused like a wrong token, and
/// the one new token is the only one that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_calls_with_one_registration_access_token_exactly_one_rotates_it() {
    use reqwest::Method;
    const GETS: usize = 12;
    const PUTS: usize = 4;
    let app = TestApp::spawn().await;
    let info = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let path = format!("/register/{id}");
    let mut meta = web_metadata();
    meta["client_id"] = json!(id);
    let mut token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut name = "Registered web app".to_owned();
    for round in 0..3 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(GETS + PUTS));
        let answers = futures_util::future::join_all((0..GETS + PUTS).map(|i| {
            let (app, path, token, barrier) = (&app, &path, &token, barrier.clone());
            let mut body = meta.clone();
            body["client_name"] = json!(format!("Writer {i}"));
            async move {
                barrier.wait().await;
                let resp = if i < GETS {
                    manage(app, Method::GET, path, token, None).await
                } else {
                    manage(app, Method::PUT, path, token, Some(&body)).await
                };
                let status = resp.status().as_u16();
                let challenge = resp.headers().contains_key("www-authenticate");
                let body: Value = resp.json().await.unwrap();
                (i, status, challenge, body)
            }
        }))
        .await;
        let mut winners = vec![];
        for (i, status, challenge, body) in answers {
            match status {
                200 => winners.push((i, next_rat(&body, &token))),
                401 => {
                    assert!(challenge, "round {round}, call {i}: {body}");
                    assert_eq!(body["error"], "invalid_token", "round {round}: {body}");
                    assert!(body.get("registration_access_token").is_none());
                }
                other => panic!("round {round}, call {i}: {other} {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (winner, new) = winners.pop().unwrap();
        // The old token is dead; the winner's token works (and rotates).
        let resp = manage(&app, Method::GET, &path, &token, None).await;
        assert_token_refused(resp, "the raced-away token").await;
        let resp = manage(&app, Method::GET, &path, &new, None).await;
        assert_eq!(resp.status(), 200, "round {round}");
        let shown: Value = resp.json().await.unwrap();
        // A winning PUT wrote its metadata; a losing one wrote nothing.
        if winner >= GETS {
            name = format!("Writer {winner}");
        }
        assert_eq!(shown["client_name"], name.as_str(), "round {round}");
        token = next_rat(&shown, &new);
    }
}

#[tokio::test]
async fn every_metadata_rule_is_enforced() {
    let app = spawn_with_api_scope(|_| {}).await;
    // One use: refusals must not spend it.
    let token = initial_token(&app, 1).await;
    let base = json!({ "redirect_uris": ["https://app.example.com/cb"] });
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let rsa_jwk = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    // RSA keys whose every verification, forged ones too, would cost what
    // the registrant chose (or that anyone could forge): refused.
    let n = |bytes: usize| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vec![0xC5u8; bytes])
    };
    let costly_keys = [
        json!({"kty": "RSA", "n": n(256), "e": "Aw"}),
        json!({"kty": "RSA", "n": n(384), "e": n(384)}),
        json!({"kty": "RSA", "n": n(256), "e": "AQ"}),
        json!({"kty": "RSA", "n": n(1024), "e": "AQAB"}),
    ];
    let cases: Vec<(Value, &str)> = vec![
        // Redirect URIs (RFC 8252 §7.1, RFC 9700).
        (json!({"client_name": "no uris"}), "invalid_redirect_uri"),
        (
            with(json!({"redirect_uris": ["http://app.example.com/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["https://app.example.com/cb#x"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["/relative"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["https://u:p@app.example.com/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["com.example.app:/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": "https://app.example.com/cb"})),
            "invalid_client_metadata",
        ),
        // Grant and response types.
        (
            with(json!({"grant_types": ["implicit"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"grant_types": ["password"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"response_types": ["token"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"response_types": []})),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        // Authentication methods and keys.
        (
            with(json!({"token_endpoint_auth_method": "client_secret_jwt"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"token_endpoint_auth_method": "private_key_jwt"})),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://app.example.com/jwks"}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}})),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]}}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [rsa_jwk.clone()]}, "jwks_uri": "https://app.example.com/jwks"}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [costly_keys[0].clone()]}}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [costly_keys[1].clone()]}}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [costly_keys[2].clone()]}}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [costly_keys[3].clone()]}}),
            ),
            "invalid_client_metadata",
        ),
        (
            with(json!({"jwks": {"keys": [rsa_jwk]}})),
            "invalid_client_metadata",
        ),
        // Scope within the operator's list.
        (
            with(json!({"scope": "openid admin"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"scope": "openid  profile"})),
            "invalid_client_metadata",
        ),
        // Logout URIs like redirect URIs.
        (
            with(json!({"post_logout_redirect_uris": ["http://app.example.com/bye"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"backchannel_logout_uri": "http://app.example.com/bcl"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"backchannel_logout_uri": "https://app.example.com/bcl#f"})),
            "invalid_client_metadata",
        ),
        // Informational URIs: https only.
        (
            with(json!({"logo_uri": "http://app.example.com/logo.png"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"logo_uri": "data:image/png;base64,AAAA"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"client_uri": "javascript:alert(1)"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"policy_uri": "http://app.example.com/policy"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"tos_uri": "ftp://app.example.com/tos"})),
            "invalid_client_metadata",
        ),
        // CORS origins: exact, no wildcard, no path.
        (
            with(json!({"allowed_cors_origins": ["*"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"allowed_cors_origins": ["https://*.example.com"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"allowed_cors_origins": ["https://app.example.com/path"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"allowed_cors_origins": ["http://app.example.com"]})),
            "invalid_client_metadata",
        ),
        // Names, contacts, algorithms.
        (with(json!({"client_name": ""})), "invalid_client_metadata"),
        (
            json!({"redirect_uris": ["https://app.example.com/cb\u{0}"]}),
            "invalid_redirect_uri",
        ),
        // A name that reorders or hides the page around it, or that claims
        // to be the authorization server itself.
        (
            with(json!({"client_name": "Pay\u{202E}moc.knab"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"client_name": "My\u{200B}Bank"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"client_name": "Latchkey security check"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"contacts": ["not an address"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"id_token_signed_response_alg": "none"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"id_token_signed_response_alg": "HS256"})),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (body, code) in cases {
        let resp = register_raw(&app, Some(&token), &body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let err: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{body}: {text}"));
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some(code)),
            "{body}: {text}"
        );
        assert!(
            err["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "a description: {text}"
        );
    }
    assert!(app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .list()
        .await
        .unwrap()
        .is_empty());
    // The token was never spent: a valid registration still works, with
    // every optional member at once.
    let info = register(
        &app,
        &token,
        with(json!({
            "redirect_uris": ["https://app.example.com/cb", "http://127.0.0.1:8000/cb", "http://[::1]/cb", "http://localhost:3000/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid api:read",
            "logo_uri": "https://app.example.com/logo.png",
            "client_uri": "https://app.example.com",
            "policy_uri": "https://app.example.com/policy",
            "tos_uri": "https://app.example.com/tos",
            "post_logout_redirect_uris": ["https://app.example.com/bye"],
            "backchannel_logout_uri": "https://app.example.com/bcl",
            "allowed_cors_origins": ["https://app.example.com", "http://localhost:3000"],
            "id_token_signed_response_alg": "RS256",
        })),
    )
    .await;
    assert_eq!(info["scope"], "api:read openid");
    assert_eq!(
        info["allowed_cors_origins"],
        json!(["https://app.example.com", "http://localhost:3000"])
    );
    // A native public client may use a private-use scheme.
    let native = register(
        &app,
        &initial_token(&app, 1).await,
        json!({"redirect_uris": ["com.example.app:/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert!(native.get("client_secret").is_none());
    assert!(native.get("client_secret_expires_at").is_none());
}

#[tokio::test]
async fn json_endpoints_refuse_text_plain_and_form_bodies() {
    let app = TestApp::spawn().await;
    let token = initial_token(&app, 5).await;
    let admin = admin_token(&app).await;
    let info = register(&app, &token, web_metadata()).await;
    let id = info["client_id"].as_str().unwrap();
    let rat = info["registration_access_token"].as_str().unwrap();
    let json_text = web_metadata().to_string();
    let targets: Vec<(reqwest::Method, String, &str)> = vec![
        (reqwest::Method::POST, "/register".into(), token.as_str()),
        (reqwest::Method::PUT, format!("/register/{id}"), rat),
        (
            reqwest::Method::POST,
            "/admin/clients".into(),
            admin.as_str(),
        ),
        (
            reqwest::Method::PUT,
            format!("/admin/clients/{id}"),
            admin.as_str(),
        ),
        (reqwest::Method::POST, "/admin/users".into(), admin.as_str()),
        (
            reqwest::Method::POST,
            "/admin/registration-tokens".into(),
            admin.as_str(),
        ),
    ];
    for (method, path, bearer) in targets {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json; charset=latin1"),
            Some("application/jsonx"),
            None,
        ] {
            let mut req = api()
                .request(method.clone(), app.url(&path))
                .bearer_auth(bearer)
                .body(json_text.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let resp = req.send().await.unwrap();
            let body = assert_oauth_error(resp, 400, "invalid_request").await;
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{method} {path} {content_type:?}: {body}"
            );
        }
    }
    // A real form body, as a cross-site page would post it.
    let resp = api()
        .post(app.url("/register"))
        .bearer_auth(&token)
        .form(&[("redirect_uris", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    // JSON with a charset is fine; nothing was registered meanwhile.
    let resp = api()
        .post(app.url("/register"))
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=utf-8")
        .body(json_text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_registered_client_completes_the_code_flow_and_client_credentials() {
    let app = spawn_with_api_scope(|_| {}).await;
    app.add_user("alice").await;
    let token = initial_token(&app, 2).await;
    let info = register(&app, &token, web_metadata()).await;
    let client = test_client(&app, &info).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &client, &challenge, "alice").await;
    let resp = redeem(&app, &client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
    assert!(tokens["refresh_token"].is_string());
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);

    let machine = register(&app, &token, machine_metadata()).await;
    assert!(machine["redirect_uris"].as_array().unwrap().is_empty());
    assert_eq!(machine["response_types"], json!([]));
    let resp = client_credentials(
        &app,
        machine["client_id"].as_str().unwrap(),
        machine["client_secret"].as_str().unwrap(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "api:read");
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_for_the_grace_period() {
    let app = spawn_with_api_scope(|_| {}).await;
    let info = register(&app, &initial_token(&app, 1).await, machine_metadata()).await;
    let id = info["client_id"].as_str().unwrap();
    let old = info["client_secret"].as_str().unwrap();
    let rat = info["registration_access_token"].as_str().unwrap();
    let resp = api()
        .post(app.url(&format!("/register/{id}/secret")))
        .bearer_auth(rat)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    let new = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(rotated["client_secret_expires_at"], 0);
    // Both work during the grace period (24 h by default)...
    assert_eq!(client_credentials(&app, id, old).await.status(), 200);
    assert_eq!(client_credentials(&app, id, new).await.status(), 200);
    app.clock.advance(Duration::from_secs(86_400 - 10));
    assert_eq!(client_credentials(&app, id, old).await.status(), 200);
    // ...and then only the new one.
    app.clock.advance(Duration::from_secs(11));
    assert_oauth_error(
        client_credentials(&app, id, old).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(client_credentials(&app, id, new).await.status(), 200);

    // The admin API and the CLI's service rotate the same way: the
    // secret from the first rotation is now the previous one.
    let admin = admin_token(&app).await;
    let resp = api()
        .post(app.url(&format!("/admin/clients/{id}/secret")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let third: Value = resp.json().await.unwrap();
    let third_secret = third["client_secret"].as_str().unwrap();
    assert_eq!(
        third["previous_secret_expires_at"].as_i64().unwrap(),
        now(&app) + 86_400
    );
    assert_eq!(client_credentials(&app, id, new).await.status(), 200);
    assert_eq!(
        client_credentials(&app, id, third_secret).await.status(),
        200
    );
    assert_oauth_error(
        client_credentials(&app, id, old).await,
        401,
        "invalid_client",
    )
    .await;
    // A public client has no secret to rotate.
    let public = register(
        &app,
        &initial_token(&app, 1).await,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let resp = api()
        .post(app.url(&format!(
            "/register/{}/secret",
            public["client_id"].as_str().unwrap()
        )))
        .bearer_auth(public["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn client_secret_expires_at_is_enforced_at_the_token_endpoint() {
    let app = spawn_with_api_scope(|c| c.registration.secret_lifetime = 7200).await;
    let issued_at = now(&app);
    let info = register(&app, &initial_token(&app, 1).await, machine_metadata()).await;
    let expires = info["client_secret_expires_at"].as_i64().unwrap();
    assert!(
        (issued_at + 7200..=issued_at + 7201).contains(&expires),
        "{info}"
    );
    let (id, secret) = (
        info["client_id"].as_str().unwrap(),
        info["client_secret"].as_str().unwrap(),
    );
    assert_eq!(client_credentials(&app, id, secret).await.status(), 200);
    app.clock.advance(Duration::from_secs(7202));
    assert_oauth_error(
        client_credentials(&app, id, secret).await,
        401,
        "invalid_client",
    )
    .await;
    // Rotating an expired secret does not revive it for a grace period.
    let (client, fresh) = app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .rotate_secret(id)
        .await
        .unwrap();
    assert!(client.previous_secret_expires_at.unwrap() <= expires);
    assert_oauth_error(
        client_credentials(&app, id, secret).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(client_credentials(&app, id, &fresh).await.status(), 200);
}

/// `latchkey client add` gives a secret the configured lifetime, like the
/// admin API, `/register` and rotation.
#[tokio::test]
async fn a_secret_from_the_command_line_expires_after_the_configured_lifetime() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp::spawn_in(dir.clone(), |c| c.registration.secret_lifetime = 7200).await;
    let mut c = cli(dir.path());
    c.env("LATCHKEY_REGISTRATION__SECRET_LIFETIME", "7200")
        .args([
            "client",
            "add",
            "--name",
            "Nightly job",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api:read",
            "--json",
        ]);
    let added = run_json(c);
    let expires = added["client_secret_expires_at"].as_i64().unwrap();
    assert!((expires - now(&app) - 7200).abs() < 120, "{added}");
    let (id, secret) = (
        added["client_id"].as_str().unwrap(),
        added["client_secret"].as_str().unwrap(),
    );
    assert_eq!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .show(id)
            .await
            .unwrap()
            .secret_expires_at,
        Some(expires)
    );
    assert_eq!(client_credentials(&app, id, secret).await.status(), 200);
    app.clock.advance(Duration::from_secs(7300));
    assert_oauth_error(
        client_credentials(&app, id, secret).await,
        401,
        "invalid_client",
    )
    .await;
}

/// Without a `client_name`, a client is named after the host of its
/// `client_uri` as the URL parser normalises it, under the rules of a
/// `client_name`: it cannot become "latchkey" or carry invisible
/// characters that way, at registration or through an update.
#[tokio::test]
async fn a_name_taken_from_client_uri_obeys_the_client_name_rules() {
    let app = TestApp::spawn().await;
    let token = initial_token(&app, 10).await;
    let site = |uri: &str| json!({ "redirect_uris": [REDIRECT], "client_uri": uri });
    for bad in [
        "https://latchkey/",
        "https://LatchKey.example/",
        "https://lat\u{00AD}chkey.example/",
        "https://latch\u{200B}key.example/",
    ] {
        let resp = register_raw(&app, Some(&token), &site(bad)).await;
        let err = assert_oauth_error(resp, 400, "invalid_client_metadata").await;
        assert!(
            err["error_description"]
                .as_str()
                .unwrap()
                .contains("client_uri"),
            "{err}"
        );
    }
    // Invisible characters are gone from the name, whatever the URL held.
    for (uri, name) in [
        ("https://a\u{200B}b.example/", "ab.example"),
        ("https://x\u{00AD}y.example/", "xy.example"),
        ("https://App.Example.COM:8443/home", "app.example.com"),
    ] {
        let info = register(&app, &token, site(uri)).await;
        assert_eq!(info["client_name"], name, "{uri}");
    }

    // RFC 7592: the same rule on an update.
    let info = register(&app, &token, site("https://app.example.com/")).await;
    let id = info["client_id"].as_str().unwrap();
    let rat = info["registration_access_token"].as_str().unwrap();
    let mut body = site("https://latchkey/");
    body["client_id"] = json!(id);
    let resp = api()
        .put(app.url(&format!("/register/{id}")))
        .bearer_auth(rat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    let resp = api()
        .get(app.url(&format!("/register/{id}")))
        .bearer_auth(rat)
        .send()
        .await
        .unwrap();
    let now_info: Value = resp.json().await.unwrap();
    assert_eq!(now_info["client_name"], "app.example.com");
}

/// A registrant cannot call itself Latchkey in look-alike letters (TR39
/// confusable skeletons), nor spell a word in mixed scripts.
#[tokio::test]
async fn a_look_alike_latchkey_or_mixed_script_name_is_refused() {
    let app = TestApp::spawn().await;
    let token = initial_token(&app, 1).await;
    for name in [
        "L\u{0430}tchkey",
        "LATCH\u{212A}EY",
        "Iatchkey sign-in",
        "\u{FF2C}atchkey",
        "P\u{0430}yPal",
        "Latchk\u{00E9}y",
        "\u{24C1}\u{24D0}\u{24E3}\u{24D2}\u{24D7}\u{24DA}\u{24D4}\u{24E8}",
        "Latch-key",
        "\u{0141}atchkey",
        "Latchk3y",
        "\u{029F}\u{1D00}\u{1D1B}\u{1D04}\u{029C}\u{1D0B}\u{1D07}\u{028F}",
        "Latchk\u{01DD}y",
    ] {
        let mut body = web_metadata();
        body["client_name"] = json!(name);
        let resp = register_raw(&app, Some(&token), &body).await;
        let err = assert_oauth_error(resp, 400, "invalid_client_metadata").await;
        assert!(
            err["error_description"]
                .as_str()
                .unwrap()
                .contains("client_name"),
            "{name:?}: {err}"
        );
    }
    let mut body = web_metadata();
    body["client_name"] = json!("Приложение 日本");
    register(&app, &token, body).await;
}

#[tokio::test]
async fn a_deleted_clients_tokens_stop_working() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let rs = app.resource_server().await;
    let info = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    let client = test_client(&app, &info).await;
    let (verifier, challenge) = pkce();
    let b = browser();
    let back = sign_in(
        &app,
        &b,
        &authorize_url(
            &app,
            client.id(),
            &challenge,
            &[("scope", "openid profile offline_access")],
        ),
        "alice",
    )
    .await;
    let code = param(&back, "code").unwrap();
    let tokens: Value = redeem(&app, &client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let userinfo = |t: String| {
        let app = &app;
        async move {
            api()
                .get(app.url("/userinfo"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(userinfo(access.into()).await, 200);
    assert_eq!(introspect(&app, &rs, access).await["active"], true);

    let resp = api()
        .delete(app.url(&format!("/register/{}", client.id())))
        .bearer_auth(info["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    assert_eq!(userinfo(access.into()).await, 401);
    assert_eq!(introspect(&app, &rs, access).await["active"], false);
    // The refresh token died with its family: nobody can use it, not even
    // with the deleted client's old credentials.
    let resp = refresh(&app, &client, refresh_token).await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let other = register(&app, &initial_token(&app, 1).await, web_metadata()).await;
    let other = test_client(&app, &other).await;
    let resp = refresh(&app, &other, refresh_token).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let hash = latchkey_domain::TokenHash::of(refresh_token);
    assert!(app.store.find_refresh_token(&hash).await.unwrap().is_none());
    // The same through the admin API: a client's machine token dies too.
    let admin = admin_token(&app).await;
    let machine: Value = client_credentials(&app, rs.id(), rs.secret())
        .await
        .json()
        .await
        .unwrap();
    let m_access = machine["access_token"].as_str().unwrap();
    let probe = app.resource_server().await;
    assert_eq!(introspect(&app, &probe, m_access).await["active"], true);
    let resp = api()
        .delete(app.url(&format!("/admin/clients/{}", rs.id())))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(introspect(&app, &probe, m_access).await["active"], false);
}

#[tokio::test]
async fn the_admin_api_takes_only_an_admin_bearer_token() {
    let app = TestApp::spawn().await;
    let admin = admin_token(&app).await;
    let registration = initial_token(&app, 1).await;
    let paths = [
        (reqwest::Method::GET, "/admin/clients"),
        (reqwest::Method::POST, "/admin/clients"),
        (reqwest::Method::GET, "/admin/users"),
        (reqwest::Method::DELETE, "/admin/users/alice"),
        (reqwest::Method::GET, "/admin/registration-tokens"),
        (reqwest::Method::DELETE, "/admin/sessions/x"),
    ];
    for (method, path) in paths {
        let send = |auth: Option<String>, cookie: bool| {
            let mut req = api()
                .request(method.clone(), app.url(path))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            if cookie {
                req = req.header("cookie", format!("latchkey_admin={admin}; session={admin}"));
            }
            req.send()
        };
        let resp = send(None, false).await.unwrap();
        assert!(resp.headers().contains_key("www-authenticate"), "{path}");
        assert_oauth_error(resp, 401, "invalid_token").await;
        // Cookies are never read.
        assert_oauth_error(send(None, true).await.unwrap(), 401, "invalid_token").await;
        for wrong in [
            format!("Bearer {admin}x"),
            "Bearer lka_nope".to_owned(),
            format!("Bearer {registration}"),
        ] {
            assert_oauth_error(
                send(Some(wrong), false).await.unwrap(),
                401,
                "invalid_token",
            )
            .await;
        }
        // The token in a Basic header, or a malformed header: refused.
        let resp = send(Some(format!("Basic {admin}")), false).await.unwrap();
        assert!(matches!(resp.status().as_u16(), 400 | 401), "{path}");
    }
    assert!(app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .list()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_admin_api_manages_clients_users_sessions_and_registration_tokens() {
    let app = TestApp::spawn().await;
    let admin = admin_token(&app).await;
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let mut req = api().request(method, app.url(&path)).bearer_auth(admin);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send().await.unwrap()
        }
    };
    use reqwest::Method as M;

    // Clients.
    let resp = call(M::POST, "/admin/clients".into(), Some(web_metadata())).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert!(created["client_secret"].is_string());
    assert!(created.get("registration_access_token").is_none());
    let resp = call(
        M::POST,
        "/admin/clients".into(),
        Some(json!({"redirect_uris": ["http://evil.example/cb"]})),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_redirect_uri").await;
    let list: Value = call(M::GET, "/admin/clients".into(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("client_secret").is_none());
    let shown: Value = call(M::GET, format!("/admin/clients/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["contacts"], json!(["ops@example.com"]));
    let resp = call(
        M::PUT,
        format!("/admin/clients/{id}"),
        Some(json!({"client_name": "Admin-renamed", "redirect_uris": [REDIRECT]})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .show(&id)
            .await
            .unwrap()
            .name,
        "Admin-renamed"
    );
    assert_eq!(shown["introspect"], false, "an operator's setting is shown");
    // `introspect` is an operator's setting: the admin API sets it (and a
    // PUT without it leaves it alone), dynamic registration never does.
    let resp = call(
        M::PUT,
        format!("/admin/clients/{id}"),
        Some(json!({"client_name": "RS", "redirect_uris": [REDIRECT], "introspect": true})),
    )
    .await;
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["introspect"], true);
    let resp = call(
        M::PUT,
        format!("/admin/clients/{id}"),
        Some(json!({"client_name": "RS", "redirect_uris": [REDIRECT]})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        app.core
            .admin(Actor::CommandLine)
            .clients()
            .show(&id)
            .await
            .unwrap()
            .introspect
    );
    let resp = call(
        M::PUT,
        format!("/admin/clients/{id}"),
        Some(json!({"redirect_uris": [REDIRECT], "introspect": "yes"})),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    // A client made with the CLI's `client add` is managed the same way.
    let cli_client = app.web_client().await;
    let shown: Value = call(M::GET, format!("/admin/clients/{}", cli_client.id()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["client_name"], "Web app");
    let resp = call(M::GET, "/admin/clients/nope".into(), None).await;
    assert_oauth_error(resp, 404, "not_found").await;

    // Users and their sessions.
    let resp = call(
        M::POST,
        "/admin/users".into(),
        Some(json!({"username": "alice", "password": PASSWORD, "email": "alice@example.com"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let user: Value = resp.json().await.unwrap();
    assert!(user.get("password_hash").is_none());
    let resp = call(
        M::POST,
        "/admin/users".into(),
        Some(json!({"username": "alice", "password": PASSWORD})),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    let resp = call(
        M::POST,
        "/admin/users".into(),
        Some(json!({"username": "bob", "password": PASSWORD, "is_admin": true})),
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // alice signs in through the CLI-made client: one session.
    let (_, challenge) = pkce();
    let b = browser();
    code_for(&app, &b, &cli_client, &challenge, "alice").await;
    let sessions: Value = call(M::GET, "/admin/users/alice/sessions".into(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions[0]["clients"], json!(["Web app"]));
    let sid = sessions[0]["id"].as_str().unwrap();
    let resp = call(M::DELETE, format!("/admin/sessions/{sid}"), None).await;
    assert_eq!(resp.status(), 204);
    let resp = call(M::DELETE, format!("/admin/sessions/{sid}"), None).await;
    assert_oauth_error(resp, 404, "not_found").await;
    let sessions: Value = call(M::GET, "/admin/users/alice/sessions".into(), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(sessions.as_array().unwrap().is_empty());
    let resp = call(
        M::PUT,
        "/admin/users/alice/password".into(),
        Some(json!({"password": "another long password"})),
    )
    .await;
    assert_eq!(resp.status(), 204);
    let shown: Value = call(M::GET, "/admin/users/alice".into(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["email"], "alice@example.com");
    assert_eq!(
        call(M::DELETE, "/admin/users/alice".into(), None)
            .await
            .status(),
        204
    );
    let resp = call(M::GET, "/admin/users/alice".into(), None).await;
    assert_oauth_error(resp, 404, "not_found").await;

    // Registration tokens.
    let resp = call(
        M::POST,
        "/admin/registration-tokens".into(),
        Some(json!({"expires_in": 600, "uses": 2})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let t: Value = resp.json().await.unwrap();
    let token = t["token"].as_str().unwrap();
    assert_eq!(t["uses_left"], 2);
    register(&app, token, web_metadata()).await;
    let list: Value = call(M::GET, "/admin/registration-tokens".into(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["uses_left"], 1);
    assert!(list[0].get("token").is_none(), "values are never listed");
    let tid = t["id"].as_str().unwrap();
    assert_eq!(
        call(M::DELETE, format!("/admin/registration-tokens/{tid}"), None)
            .await
            .status(),
        204
    );
    let resp = register_raw(&app, Some(token), &web_metadata()).await;
    assert_oauth_error(resp, 401, "invalid_token").await;

    // Delete the client.
    assert_eq!(
        call(M::DELETE, format!("/admin/clients/{id}"), None)
            .await
            .status(),
        204
    );
    let resp = call(M::DELETE, format!("/admin/clients/{id}"), None).await;
    assert_oauth_error(resp, 404, "not_found").await;
}

// ------------------------------------------------------- private_key_jwt

/// A client's RSA key: the JWK it registers and a signer for assertions.
pub(crate) struct ClientKey {
    kid: String,
    pkey: openssl::pkey::PKey<openssl::pkey::Private>,
}

impl ClientKey {
    pub(crate) fn new(kid: &str) -> ClientKey {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        ClientKey {
            kid: kid.into(),
            pkey: openssl::pkey::PKey::from_rsa(rsa).unwrap(),
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        let rsa = self.pkey.rsa().unwrap();
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        })
    }

    /// An RS256 JWT over `claims`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.pkey).unwrap();
        signer.update(input.as_bytes()).unwrap();
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
        )
    }
}

pub(crate) async fn assertion_grant(
    app: &TestApp,
    client_id: Option<&str>,
    assertion: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    api()
        .post(app.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn private_key_jwt_assertions_must_name_this_issuer_and_be_single_use() {
    let app = spawn_with_api_scope(|_| {}).await;
    let key = ClientKey::new("k1");
    let mut meta = machine_metadata();
    meta["token_endpoint_auth_method"] = json!("private_key_jwt");
    meta["jwks"] = json!({ "keys": [key.jwk()] });
    let info = register(&app, &initial_token(&app, 1).await, meta).await;
    assert!(
        info.get("client_secret").is_none(),
        "no secret for private_key_jwt"
    );
    assert_eq!(info["jwks"]["keys"][0]["kid"], "k1");
    let id = info["client_id"].as_str().unwrap().to_owned();
    let issuer = app.issuer.clone();
    let now = now(&app);
    let claims = |extra: Value| {
        let mut c = json!({
            "iss": id, "sub": id, "aud": issuer,
            "jti": format!("jti-{}", URL_SAFE_NO_PAD.encode(rand_bytes())),
            "iat": now, "exp": now + 60,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };

    // A good assertion works, with or without client_id in the form.
    let good = key.sign(&claims(json!({})));
    let resp = assertion_grant(&app, Some(&id), &good).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = assertion_grant(&app, None, &key.sign(&claims(json!({})))).await;
    assert_eq!(resp.status(), 200);
    // The same assertion again: its jti was used.
    assert_oauth_error(
        assertion_grant(&app, Some(&id), &good).await,
        401,
        "invalid_client",
    )
    .await;

    // The audience must be exactly the issuer identifier
    // (CVE-2025-27370/27371): not the token endpoint, not another server,
    // not a list that also names someone else.
    for aud in [
        json!(format!("{issuer}/token")),
        json!("https://other-issuer.example"),
        json!(format!("{issuer}/")),
        json!([issuer, "https://other-issuer.example"]),
        json!([format!("{issuer}/token")]),
        Value::Null,
    ] {
        let a = key.sign(&claims(json!({ "aud": aud })));
        let resp = assertion_grant(&app, Some(&id), &a).await;
        assert_oauth_error(resp, 401, "invalid_client").await;
    }
    // A one-element array naming the issuer is the same audience.
    let a = key.sign(&claims(json!({ "aud": [issuer] })));
    assert_eq!(assertion_grant(&app, Some(&id), &a).await.status(), 200);

    let other_key = ClientKey::new("k1");
    for bad in [
        key.sign(&claims(json!({"iss": "someone-else"}))),
        key.sign(&claims(json!({"sub": "someone-else"}))),
        key.sign(&claims(json!({"jti": null}))),
        key.sign(&claims(json!({"exp": null}))),
        key.sign(&claims(json!({"exp": now - 30}))),
        key.sign(&claims(json!({"exp": now + 3600}))),
        key.sign(&claims(json!({"nbf": now + 600}))),
        other_key.sign(&claims(json!({}))),
    ] {
        assert_oauth_error(
            assertion_grant(&app, Some(&id), &bad).await,
            401,
            "invalid_client",
        )
        .await;
    }
    // A secret-based client cannot authenticate with an assertion, nor
    // this one with a secret.
    let resp = client_credentials(&app, &id, "whatever").await;
    assert_oauth_error(resp, 401, "invalid_client").await;

    // Expiry follows the injected clock: made valid, presented late.
    let late = key.sign(&claims(json!({"exp": now + 60})));
    app.clock.advance(Duration::from_secs(120));
    assert_oauth_error(
        assertion_grant(&app, Some(&id), &late).await,
        401,
        "invalid_client",
    )
    .await;
}

fn rand_bytes() -> [u8; 12] {
    let mut b = [0u8; 12];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b
}

#[tokio::test]
async fn discovery_and_the_openapi_document_describe_registration() {
    let app = TestApp::spawn().await;
    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["registration_endpoint"],
        format!("{}/register", app.issuer)
    );
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    let resp = api().get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["paths"]["/register"]["post"].is_object());
    assert!(doc["paths"]["/admin/clients/{id}"]["put"].is_object());
    assert!(
        doc["components"]["schemas"]["ClientMetadata"]["properties"]["redirect_uris"].is_object()
    );
}

// --------------------------------------------------------------- the CLI

/// The real binary, on the database and key-encryption key of `app`.
fn cli(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.current_dir(dir)
        .env_remove("LATCHKEY_ISSUER")
        .env_remove("LATCHKEY_BIND")
        .env("LATCHKEY_KEK_FILE", dir.join("kek"));
    match test_database(dir) {
        (url, Some(schema)) => {
            c.env("LATCHKEY_DATABASE_URL", url)
                .env("LATCHKEY_DATABASE__SCHEMA", schema);
        }
        (url, None) => {
            c.env("LATCHKEY_DATABASE_URL", url);
        }
    }
    c
}

/// Where `TestApp::spawn_in(dir)` keeps its data (see `support.rs`).
fn test_database(dir: &std::path::Path) -> (String, Option<String>) {
    if std::env::var("LATCHKEY_TEST_DATABASE").ok().as_deref() != Some("postgres") {
        return (format!("sqlite://{}/latchkey.db", dir.display()), None);
    }
    let url = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = dir.file_name().unwrap().to_string_lossy().to_lowercase();
    let schema: String = format!("it_{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    (url, Some(schema))
}

fn run_json(mut cmd: std::process::Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn registration_and_admin_tokens_and_rotation_from_the_command_line() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp::spawn_in(dir.clone(), |c| {
        c.registration.allowed_scopes = plus_scope(&c.registration.allowed_scopes, "api:read")
    })
    .await;
    let mut c = cli(dir.path());
    c.args([
        "registration-token",
        "create",
        "--expires-in",
        "2h",
        "--uses",
        "2",
        "--json",
    ]);
    let t = run_json(c);
    let mut keys: Vec<&String> = t.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["expires_at", "token"], "{t}");
    let expires = t["expires_at"].as_i64().unwrap();
    assert!((expires - now(&app) - 7200).abs() < 120, "{t}");
    let token = t["token"].as_str().unwrap();
    register(&app, token, machine_metadata()).await;
    let info = register(&app, token, machine_metadata()).await;
    let resp = register_raw(&app, Some(token), &machine_metadata()).await;
    assert_oauth_error(resp, 401, "invalid_token").await;

    let mut c = cli(dir.path());
    c.args(["admin-token", "create", "--json"]);
    let admin = run_json(c);
    let resp = api()
        .get(app.url("/admin/clients"))
        .bearer_auth(admin["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let id = info["client_id"].as_str().unwrap();
    let old = info["client_secret"].as_str().unwrap();
    let mut c = cli(dir.path());
    c.args(["client", "rotate-secret", id, "--json"]);
    let rotated = run_json(c);
    let new = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(client_credentials(&app, id, new).await.status(), 200);
    assert_eq!(
        client_credentials(&app, id, old).await.status(),
        200,
        "grace period"
    );

    let mut c = cli(dir.path());
    c.args(["registration-token", "create", "--expires-in", "soon"]);
    let out = c.output().unwrap();
    assert!(!out.status.success());
}

// ------------------------------------------------ jwks_uri (private_key_jwt)

/// An HTTPS server on localhost that serves one JWK Set, with a
/// certificate from a CA of its own (written to `ca_file`). Counts the
/// connections it accepts and the requests it answers (hits).
pub(crate) struct JwksServer {
    pub(crate) port: u16,
    pub(crate) ca_file: std::path::PathBuf,
    pub(crate) hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub(crate) connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl JwksServer {
    pub(crate) fn start(jwks: String) -> JwksServer {
        Self::answering("200 OK", jwks)
    }

    /// A server that answers every request with `status` and `body`.
    pub(crate) fn answering(status: &'static str, body: String) -> JwksServer {
        let jwks = body;
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::ssl::{SslAcceptor, SslMethod};
        use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
        use openssl::x509::{X509Builder, X509NameBuilder};
        use std::io::{Read, Write};

        let key = || {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
        };
        let name = |cn: &str| {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("CN", cn).unwrap();
            n.build()
        };
        let cert = |subject: &str,
                    key: &PKey<openssl::pkey::Private>,
                    issuer: Option<(&openssl::x509::X509, &PKey<openssl::pkey::Private>)>,
                    ca: bool| {
            let mut b = X509Builder::new().unwrap();
            b.set_version(2).unwrap();
            b.set_serial_number(
                &BigNum::from_u32(if ca { 1 } else { 2 })
                    .unwrap()
                    .to_asn1_integer()
                    .unwrap(),
            )
            .unwrap();
            b.set_subject_name(&name(subject)).unwrap();
            b.set_pubkey(key).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
                .unwrap();
            if ca {
                b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                    .unwrap();
                b.set_issuer_name(&name(subject)).unwrap();
                b.sign(key, MessageDigest::sha256()).unwrap();
            } else {
                let (ca_cert, ca_key) = issuer.unwrap();
                let san = SubjectAlternativeName::new()
                    .dns("localhost")
                    .build(&b.x509v3_context(Some(ca_cert), None))
                    .unwrap();
                b.append_extension(san).unwrap();
                b.set_issuer_name(ca_cert.subject_name()).unwrap();
                b.sign(ca_key, MessageDigest::sha256()).unwrap();
            }
            b.build()
        };
        let ca_key = key();
        let ca = cert("Test CA", &ca_key, None, true);
        let leaf_key = key();
        let leaf = cert("localhost", &leaf_key, Some((&ca, &ca_key)), false);

        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.to_pem().unwrap()).unwrap();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor.set_private_key(&leaf_key).unwrap();
        acceptor.set_certificate(&leaf).unwrap();
        let acceptor = acceptor.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let accepted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Ok(mut tls) = acceptor.accept(stream) else {
                    continue;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = write!(
                    tls,
                    "HTTP/1.1 {status}\r\nContent-Type: application/jwk-set+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{jwks}",
                    jwks.len()
                );
                let _ = tls.shutdown();
            }
        });
        JwksServer {
            port,
            ca_file,
            hits,
            connections,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn private_key_jwt_with_a_jwks_uri_fetches_and_caches_the_clients_keys() {
    let key = ClientKey::new("k-uri");
    let server = JwksServer::start(json!({ "keys": [key.jwk()] }).to_string());
    let ca = server.ca_file.clone();
    let app = spawn_with_api_scope(|c| {
        c.registration.jwks_ca_file = Some(ca);
        c.registration.allow_internal_uris = true;
    })
    .await;
    let uri = format!("https://localhost:{}/jwks", server.port);
    let mut meta = machine_metadata();
    meta["token_endpoint_auth_method"] = json!("private_key_jwt");
    meta["jwks_uri"] = json!(uri);
    let info = register(&app, &initial_token(&app, 1).await, meta).await;
    assert_eq!(info["jwks_uri"], uri);
    let id = info["client_id"].as_str().unwrap().to_owned();
    let assertion = |jti: &str| {
        let now = now(&app);
        key.sign(&json!({
            "iss": id, "sub": id, "aud": app.issuer, "jti": jti,
            "iat": now, "exp": now + 60,
        }))
    };
    let resp = assertion_grant(&app, Some(&id), &assertion("a1")).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = assertion_grant(&app, Some(&id), &assertion("a2")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        server.hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "cached"
    );
    // A key the set does not hold is refused.
    let stranger = ClientKey::new("k-uri");
    let now = now(&app);
    let forged = stranger.sign(&json!({
        "iss": id, "sub": id, "aud": app.issuer, "jti": "a3", "iat": now, "exp": now + 60,
    }));
    assert_oauth_error(
        assertion_grant(&app, Some(&id), &forged).await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn a_jwks_uri_must_be_https_on_a_public_address_unless_the_operator_allows() {
    let app = TestApp::spawn().await;
    let token = initial_token(&app, 1).await;
    for uri in [
        "http://app.example.com/jwks",
        "https://localhost:8443/jwks",
        "https://10.0.0.7/jwks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/jwks",
    ] {
        let body = json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": uri,
        });
        let resp = register_raw(&app, Some(&token), &body).await;
        assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    }
    // A public host name is accepted (and fetched only when used).
    register(
        &app,
        &token,
        json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://keys.example.com/jwks",
        }),
    )
    .await;
}

/// `introspect` is an operator's setting: a registrant asking for it is
/// registered without it.
#[tokio::test]
async fn a_registrant_cannot_make_itself_a_resource_server() {
    let app = TestApp::spawn().await;
    let iat = initial_token(&app, 1).await;
    let mut asked = web_metadata();
    asked["introspect"] = json!(true);
    let registered = register(&app, &iat, asked).await;
    assert!(registered.get("introspect").is_none());
    let rid = registered["client_id"].as_str().unwrap();
    assert!(
        !app.core
            .admin(Actor::CommandLine)
            .clients()
            .show(rid)
            .await
            .unwrap()
            .introspect
    );
}

/// A registrant's name is shown escaped and isolated on the consent page,
/// as the application's own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_name_is_shown_as_the_applications_own_words() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let iat = initial_token(&app, 1).await;
    let mut asked = web_metadata();
    asked["client_name"] = json!("<b>Sign in</b> \"Bank\"");
    let registered = register(&app, &iat, asked).await;
    let id = registered["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let b = browser();
    let resp = login_page(&app, &b, &authorize_url(&app, id, &challenge, &[]))
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let consent = location(&resp);
    assert!(consent.starts_with("/consent"), "{consent}");
    let page = page_text(&app, &b, &consent).await;
    assert!(!page.contains("<b>Sign in</b>"), "{page}");
    assert!(
        page.contains(
            "<bdi class=\"client-name\">&#60;b&#62;Sign in&#60;/b&#62; &#34;Bank&#34;</bdi>"
        ) || page.contains(
            "<bdi class=\"client-name\">&lt;b&gt;Sign in&lt;/b&gt; &quot;Bank&quot;</bdi>"
        ),
        "{page}"
    );
    assert!(page.contains("the name the application gives itself"));
}

/// Admin tokens expire (90 days unless told otherwise): an old token is
/// refused like a wrong one.
#[tokio::test]
async fn admin_tokens_expire() {
    let app = TestApp::spawn().await;
    let default = admin_token(&app).await;
    let short = app
        .core
        .admin(Actor::CommandLine)
        .tokens()
        .create_admin_token("short", Some(3600))
        .await
        .unwrap()
        .token;
    let list = |token: String| {
        api()
            .get(app.url("/admin/clients"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(list(default.clone()).await.unwrap().status(), 200);
    assert_eq!(list(short.clone()).await.unwrap().status(), 200);
    app.clock.advance(std::time::Duration::from_secs(3600));
    assert_oauth_error(list(short).await.unwrap(), 401, "invalid_token").await;
    assert_eq!(list(default.clone()).await.unwrap().status(), 200);
    app.clock
        .advance(std::time::Duration::from_secs(90 * 86_400));
    assert_oauth_error(list(default).await.unwrap(), 401, "invalid_token").await;
    assert!(app
        .core
        .admin(Actor::CommandLine)
        .tokens()
        .create_admin_token("forever", Some(10 * 365 * 86_400))
        .await
        .is_err());
}
