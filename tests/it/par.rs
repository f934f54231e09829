//! Pushed authorization requests (RFC 9126) and signed request objects
//! (RFC 9101): the push is checked like `/authorize` and answered as JSON,
//! a `request_uri` is used once, within a minute, by its own client, and a
//! client (or a server) that requires pushing is refused a plain request.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::admin::NewClient;
use latchkey_domain::Clock;
use serde_json::{json, Value};

use crate::proofs::EcKeyPair;
use crate::registration::{initial_token, register, ClientKey};
use crate::support::*;

/// The authorization request a web client pushes.
fn request(client_id: &str, challenge: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-123"),
        ("nonce", "no-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn push(app: &TestApp, client: &TestClient, form: &[(String, String)]) -> reqwest::Response {
    api()
        .post(app.url("/par"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Pushes and returns the `request_uri` (201 asserted).
async fn pushed(app: &TestApp, client: &TestClient, form: &[(String, String)]) -> String {
    let resp = push(app, client, form).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

fn authorize_with(app: &TestApp, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    u.to_string()
}

async fn par_client(app: &TestApp, require_par: bool) -> TestClient {
    app.add_client(NewClient {
        name: "Pushing app".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile email".into()),
        require_par,
        ..NewClient::default()
    })
    .await
}

#[tokio::test]
async fn a_pushed_request_signs_in_and_its_code_redeems() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    // A client that must push: the sign-in and consent pages in between
    // resume the pushed request, not a plain one.
    let client = par_client(&app, true).await;
    let (verifier, challenge) = pkce();
    let uri = pushed(&app, &client, &request(client.id(), &challenge)).await;
    let back = sign_in(
        &app,
        &browser(),
        &authorize_with(&app, client.id(), &uri),
        "alice",
    )
    .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    let code = param(&back, "code").expect("a code");
    let resp = redeem(&app, &client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);

    // Used once: the same reference again is refused, on an error page (no
    // redirect URI can be trusted for it).
    let resp = browser()
        .get(authorize_with(&app, client.id(), &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_request_uri"));

    // Discovery tells clients where to push.
    let meta = metadata(&app).await;
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        app.url("/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);
    assert_eq!(
        meta["request_object_signing_alg_values_supported"],
        json!(["PS256", "ES256", "EdDSA"])
    );
}

#[tokio::test]
async fn a_request_uri_is_short_lived_its_clients_and_used_once_even_at_once() {
    let app = Arc::new(TestApp::spawn().await);
    app.add_user("alice").await;
    let client = par_client(&app, false).await;
    let other = par_client(&app, false).await;
    let (_, challenge) = pkce();

    // Another client's id with the reference: refused.
    let uri = pushed(&app, &client, &request(client.id(), &challenge)).await;
    let resp = browser()
        .get(authorize_with(&app, other.id(), &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Past its minute: refused.
    let uri = pushed(&app, &client, &request(client.id(), &challenge)).await;
    app.clock.advance(Duration::from_secs(61));
    let resp = browser()
        .get(authorize_with(&app, client.id(), &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_request_uri"));
    // A reference Latchkey never made, and one of another shape.
    for bad in [
        "urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "https://client.example/request.jwt",
    ] {
        let resp = browser()
            .get(authorize_with(&app, client.id(), bad))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }

    // Many browsers with one reference at the same instant: one gets on.
    const N: usize = 12;
    let uri = pushed(&app, &client, &request(client.id(), &challenge)).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (url, barrier) = (authorize_with(&app, client.id(), &uri), barrier.clone());
            tokio::spawn(async move {
                let b = browser();
                barrier.wait().await;
                b.get(url).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        N - 1,
        "{statuses:?}"
    );
    // And after the periodic sweep the references stay dead.
    app.core.housekeeping().sweep().await.unwrap();
    let resp = browser()
        .get(authorize_with(&app, client.id(), &uri))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_push_is_checked_like_authorize_and_answered_as_json() {
    let app = TestApp::spawn().await;
    let client = par_client(&app, false).await;
    let (_, challenge) = pkce();
    let with = |name: &str, value: &str| {
        let mut r = request(client.id(), &challenge);
        r.retain(|(k, _)| k != name);
        if !value.is_empty() {
            r.push((name.into(), value.into()));
        }
        r
    };
    for (form, status, code) in [
        (with("state", ""), 400, "invalid_request"),
        (with("nonce", ""), 400, "invalid_request"),
        (with("code_challenge", ""), 400, "invalid_request"),
        (
            with("redirect_uri", "https://evil.example/cb"),
            400,
            "invalid_request",
        ),
        (with("scope", "openid admin"), 400, "invalid_scope"),
        (
            with("response_type", "token"),
            400,
            "unsupported_response_type",
        ),
        (
            with("request_uri", "urn:ietf:params:oauth:request_uri:abc"),
            400,
            "invalid_request",
        ),
        (with("client_id", "someone-else"), 400, "invalid_request"),
    ] {
        let resp = push(&app, &client, &form).await;
        assert_oauth_error(resp, status, code).await;
    }
    // Client authentication is required, as at /token.
    let resp = api()
        .post(app.url("/par"))
        .basic_auth(client.id(), Some("wrong"))
        .form(&request(client.id(), &challenge))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = api()
        .post(app.url("/par"))
        .form(&request(client.id(), &challenge))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 401, "invalid_client").await;
    // A request object outside a push is not accepted.
    let resp = browser()
        .get(authorize_url(
            &app,
            client.id(),
            &challenge,
            &[("request", "a.b.c")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("request_not_supported")
    );
}

#[tokio::test]
async fn a_client_that_must_push_is_refused_a_plain_request() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let client = par_client(&app, true).await;
    let (_, challenge) = pkce();
    let resp = browser()
        .get(authorize_url(&app, client.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    let to = location(&resp);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));

    // Switched on for every client, discovery says so too.
    let app = TestApp::spawn_with(|c| c.par.required = true).await;
    let client = par_client(&app, false).await;
    let resp = browser()
        .get(authorize_url(&app, client.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("invalid_request")
    );
    let meta = metadata(&app).await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    // Pushing is how such a client signs in.
    pushed(&app, &client, &request(client.id(), &challenge)).await;
}

/// A `private_key_jwt` client registered with an RS256 key for its
/// assertions and an ES256 key for its request objects.
async fn jar_client(app: &TestApp) -> (String, ClientKey, EcKeyPair) {
    let assertion_key = ClientKey::new("assert");
    let object_key = EcKeyPair::new("objects");
    let token = initial_token(app, 1).await;
    let info = register(
        app,
        &token,
        json!({
            "client_name": "Signed requests",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [assertion_key.jwk(), object_key.registered_jwk()]},
            "scope": "openid profile",
            "require_pushed_authorization_requests": true,
        }),
    )
    .await;
    assert_eq!(info["require_pushed_authorization_requests"], true);
    (
        info["client_id"].as_str().unwrap().to_owned(),
        assertion_key,
        object_key,
    )
}

async fn push_object(
    app: &TestApp,
    client_id: &str,
    assertion_key: &ClientKey,
    object: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let now = Clock::unix(&*app.clock);
    let assertion = assertion_key.sign(&json!({
        "iss": client_id, "sub": client_id, "aud": app.issuer,
        "exp": now + 60, "jti": crate::proofs::random_jti(),
    }));
    let mut form = vec![
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
        ("request", object),
    ];
    form.extend_from_slice(extra);
    api()
        .post(app.url("/par"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_request_objects_are_verified_with_the_clients_keys() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let (client_id, assertion_key, object_key) = jar_client(&app).await;
    let (_, challenge) = pkce();
    let now = Clock::unix(&*app.clock);
    let claims = |extra: Value| {
        let mut c = json!({
            "iss": client_id, "aud": app.issuer, "exp": now + 300, "nbf": now,
            "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT,
            "scope": "openid profile", "state": "st-jar", "nonce": "no-jar",
            "code_challenge": challenge, "code_challenge_method": "S256", "max_age": 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let header = json!({"alg": "ES256", "kid": "objects", "typ": "oauth-authz-req+jwt"});
    let good = object_key.sign(&header, &claims(json!({})));
    let resp = push_object(&app, &client_id, &assertion_key, &good, &[]).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().unwrap();
    let back = sign_in(
        &app,
        &browser(),
        &authorize_with(&app, &client_id, uri),
        "alice",
    )
    .await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-jar"));
    assert!(param(&back, "code").is_some());

    for (why, object) in [
        (
            "another audience",
            object_key.sign(&header, &claims(json!({"aud": "https://other.example"}))),
        ),
        (
            "expired",
            object_key.sign(&header, &claims(json!({"exp": now - 60}))),
        ),
        (
            "lives too long",
            object_key.sign(&header, &claims(json!({"exp": now + 7200}))),
        ),
        (
            "another issuer",
            object_key.sign(&header, &claims(json!({"iss": "someone"}))),
        ),
        (
            "another client_id",
            object_key.sign(&header, &claims(json!({"client_id": "someone"}))),
        ),
        (
            "an unregistered key",
            EcKeyPair::new("objects").sign(&header, &claims(json!({}))),
        ),
        // RS256 is not among the request object algorithms.
        ("RS256", assertion_key.sign(&claims(json!({})))),
    ] {
        let resp = push_object(&app, &client_id, &assertion_key, &object, &[]).await;
        let body = assert_oauth_error(resp, 400, "invalid_request_object").await;
        assert!(body.get("request_uri").is_none(), "{why}");
    }
    // The request's checks still apply inside the object.
    let no_state = object_key.sign(&header, &claims(json!({"state": null})));
    let resp = push_object(&app, &client_id, &assertion_key, &no_state, &[]).await;
    assert_oauth_error(resp, 400, "invalid_request_object").await;
    let no_nonce = {
        let mut c = claims(json!({}));
        c.as_object_mut().unwrap().remove("nonce");
        object_key.sign(&header, &c)
    };
    let resp = push_object(&app, &client_id, &assertion_key, &no_nonce, &[]).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // Parameters outside the object are refused rather than ignored.
    let resp = push_object(
        &app,
        &client_id,
        &assertion_key,
        &good,
        &[("scope", "openid")],
    )
    .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_proof_at_the_push_binds_the_code() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let client = par_client(&app, false).await;
    let key = EcKeyPair::new("k");
    let (verifier, challenge) = pkce();
    let url = app.url("/par");
    let now = Clock::unix(&*app.clock);
    let send = |proof: String| {
        api()
            .post(app.url("/par"))
            .basic_auth(client.id(), client.secret.as_deref())
            .header("DPoP", proof)
            .form(&request(client.id(), &challenge))
            .send()
    };
    let first = send(key.proof("POST", &url, now, None)).await.unwrap();
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_oauth_error(first, 400, "use_dpop_nonce").await;
    let resp = send(key.proof("POST", &url, now, Some(&nonce)))
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let uri = body["request_uri"].as_str().unwrap();
    let back = sign_in(
        &app,
        &browser(),
        &authorize_with(&app, client.id(), uri),
        "alice",
    )
    .await;
    let code = param(&back, "code").unwrap();
    // The code is for that key only.
    assert_oauth_error(
        redeem(&app, &client, &code, &verifier).await,
        400,
        "invalid_grant",
    )
    .await;
    let proof = key.proof("POST", &app.url("/token"), now, Some(&nonce));
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .header("DPoP", proof)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
}
