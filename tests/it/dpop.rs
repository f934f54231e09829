//! DPoP (RFC 9449) from the client's and the attacker's side: tokens bound
//! to the proof's key at every grant, the nonce dance, replayed and
//! mismatched proofs, bound tokens at UserInfo and introspection, codes
//! bound by `dpop_jkt`, a public client's refresh tokens bound to its key,
//! and clients that must use DPoP.

use std::sync::Arc;

use latchkey_core::admin::NewClient;
use latchkey_domain::{Clock, GrantType};
use serde_json::Value;

use crate::proofs::{jwt_claims, EcKeyPair};
use crate::support::*;

/// The server's time, for a proof's `iat`.
fn now(app: &TestApp) -> i64 {
    Clock::unix(&*app.clock)
}

/// A token request with a DPoP proof made by `key`, after the nonce dance
/// (the first proof, without a nonce, is answered `use_dpop_nonce` and
/// the `DPoP-Nonce` to use).
async fn token_request(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
    key: &EcKeyPair,
) -> reqwest::Response {
    let url = app.url("/token");
    let first = post_token(app, client, form, &key.proof("POST", &url, now(app), None)).await;
    let nonce = nonce_of(&first);
    assert_oauth_error(first, 400, "use_dpop_nonce").await;
    let proof = key.proof("POST", &url, now(app), Some(&nonce));
    post_token(app, client, form, &proof).await
}

async fn post_token(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
    proof: &str,
) -> reqwest::Response {
    let mut req = api().post(app.url("/token")).header("DPoP", proof);
    let mut form = form.to_vec();
    if client.client.is_public() {
        form.push(("client_id", client.id()));
    } else {
        req = req.basic_auth(client.id(), client.secret.as_deref());
    }
    req.form(&form).send().await.unwrap()
}

fn nonce_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A fresh nonce, from a refused proof.
async fn fresh_nonce(app: &TestApp, client: &TestClient, key: &EcKeyPair) -> String {
    let url = app.url("/token");
    let resp = post_token(
        app,
        client,
        &[("grant_type", "client_credentials")],
        &key.proof("POST", &url, now(app), None),
    )
    .await;
    nonce_of(&resp)
}

#[tokio::test]
async fn client_credentials_with_a_proof_gets_a_bound_token() {
    let app = TestApp::spawn().await;
    let machine = app.machine_client().await;
    let key = EcKeyPair::new("k");
    let resp = token_request(
        &app,
        &machine,
        &[("grant_type", "client_credentials")],
        &key,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().contains_key("dpop-nonce"),
        "a fresh nonce comes along"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(token)["cnf"]["jkt"], key.thumbprint());

    // Introspection says it is bound, and to which key.
    let rs = app.resource_server().await;
    let info: Value = api()
        .post(app.url("/introspect"))
        .basic_auth(rs.id(), rs.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], key.thumbprint());

    // Without a proof the token is a plain Bearer token, as before.
    let plain: Value = api()
        .post(app.url("/token"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain["token_type"], "Bearer");
    assert!(jwt_claims(plain["access_token"].as_str().unwrap())
        .get("cnf")
        .is_none());

    // Discovery names what is supported.
    let meta = metadata(&app).await;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "PS256", "EdDSA"])
    );
}

#[tokio::test]
async fn bad_proofs_are_refused() {
    let app = TestApp::spawn().await;
    let machine = app.machine_client().await;
    let key = EcKeyPair::new("k");
    let nonce = fresh_nonce(&app, &machine, &key).await;
    let url = app.url("/token");
    let cc = [("grant_type", "client_credentials")];
    let t = now(&app);
    let header =
        |typ: &str, alg: &str| serde_json::json!({"typ": typ, "alg": alg, "jwk": key.public_jwk()});
    let claims = |htm: &str, htu: &str, iat: i64| {
        serde_json::json!({"jti": crate::proofs::random_jti(), "htm": htm, "htu": htu,
                           "iat": iat, "nonce": nonce})
    };
    let other = EcKeyPair::new("o");
    let mut forged = key.proof("POST", &url, t, Some(&nonce));
    // Signed by another key than the one in the header.
    let other_sig = other.proof("POST", &url, t, Some(&nonce));
    forged.replace_range(
        forged.rfind('.').unwrap()..,
        &other_sig[other_sig.rfind('.').unwrap()..],
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong htu",
            key.sign(
                &header("dpop+jwt", "ES256"),
                &claims("POST", &app.url("/userinfo"), t),
            ),
        ),
        (
            "wrong htm",
            key.sign(&header("dpop+jwt", "ES256"), &claims("GET", &url, t)),
        ),
        (
            "too old",
            key.sign(&header("dpop+jwt", "ES256"), &claims("POST", &url, t - 600)),
        ),
        (
            "from the future",
            key.sign(&header("dpop+jwt", "ES256"), &claims("POST", &url, t + 600)),
        ),
        (
            "typ JWT",
            key.sign(&header("JWT", "ES256"), &claims("POST", &url, t)),
        ),
        (
            "alg not allowed",
            key.sign(&header("dpop+jwt", "RS256"), &claims("POST", &url, t)),
        ),
        ("bad signature", forged),
        ("not a JWT", "abc".into()),
    ];
    for (why, proof) in cases {
        let resp = post_token(&app, &machine, &cc, &proof).await;
        let body = assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
        assert!(body.get("access_token").is_none(), "{why}");
    }
    // A nonce that is not Latchkey's, or a stale one, asks for the current.
    let made_up = key.proof("POST", &url, t, Some("made-up-nonce"));
    assert_oauth_error(
        post_token(&app, &machine, &cc, &made_up).await,
        400,
        "use_dpop_nonce",
    )
    .await;
    app.clock.advance(std::time::Duration::from_secs(601));
    let stale = key.proof("POST", &url, now(&app), Some(&nonce));
    let resp = post_token(&app, &machine, &cc, &stale).await;
    let current = nonce_of(&resp);
    assert_ne!(current, nonce);
    assert_oauth_error(resp, 400, "use_dpop_nonce").await;
    let good = key.proof("POST", &url, now(&app), Some(&current));
    assert_eq!(post_token(&app, &machine, &cc, &good).await.status(), 200);
    // Two DPoP headers.
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .header("DPoP", key.proof("POST", &url, now(&app), Some(&current)))
        .header("DPoP", key.proof("POST", &url, now(&app), Some(&current)))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_proof_is_used_once_even_when_replayed_all_at_once() {
    const N: usize = 16;
    let app = Arc::new(TestApp::spawn().await);
    let machine = Arc::new(app.machine_client().await);
    let key = EcKeyPair::new("k");
    let nonce = fresh_nonce(&app, &machine, &key).await;
    let proof = key.proof("POST", &app.url("/token"), now(&app), Some(&nonce));
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (app, machine, proof, barrier) =
                (app.clone(), machine.clone(), proof.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                post_token(
                    &app,
                    &machine,
                    &[("grant_type", "client_credentials")],
                    &proof,
                )
                .await
                .status()
                .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        N - 1,
        "{statuses:?}"
    );
    // Still refused after the periodic sweep, for as long as the proof
    // could otherwise pass.
    app.core.housekeeping().sweep().await.unwrap();
    let again = post_token(
        &app,
        &machine,
        &[("grant_type", "client_credentials")],
        &proof,
    )
    .await;
    assert_oauth_error(again, 400, "invalid_dpop_proof").await;
}

/// Signs in with the web client and redeems the code with a proof of
/// `key`; `extra` adds authorization parameters. Returns the token body.
async fn bound_tokens(
    app: &TestApp,
    client: &TestClient,
    key: &EcKeyPair,
    extra: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = pkce();
    let browser = browser();
    let back = sign_in(
        app,
        &browser,
        &authorize_url(app, client.id(), &challenge, extra),
        "alice",
    )
    .await;
    let code = param(&back, "code").expect("a code");
    let resp = token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        key,
    )
    .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn userinfo(app: &TestApp, authorization: &str, proof: Option<&str>) -> reqwest::Response {
    let mut req = api()
        .get(app.url("/userinfo"))
        .header("Authorization", authorization);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

fn challenge_of(resp: &reqwest::Response) -> String {
    resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_bound_token_works_at_userinfo_only_with_its_key() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let key = EcKeyPair::new("k");
    let tokens = bound_tokens(&app, &web, &key, &[]).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().unwrap();
    let url = app.url("/userinfo");
    let nonce = fresh_nonce(&app, &web, &key).await;

    // As a Bearer token: refused, with a DPoP challenge.
    let resp = userinfo(&app, &format!("Bearer {token}"), None).await;
    assert_eq!(resp.status(), 401);
    assert!(
        challenge_of(&resp).starts_with("DPoP "),
        "{}",
        challenge_of(&resp)
    );
    assert!(challenge_of(&resp).contains(r#"error="invalid_token""#));
    // The DPoP scheme without a proof, with a proof lacking `ath`, with a
    // proof of another key, or with a proof for another endpoint.
    let other = EcKeyPair::new("o");
    let dpop = format!("DPoP {token}");
    for (why, proof) in [
        ("no proof", None),
        (
            "no ath",
            Some(key.proof("GET", &url, now(&app), Some(&nonce))),
        ),
        (
            "another key",
            Some(other.proof_for_token("GET", &url, now(&app), Some(&nonce), token)),
        ),
        (
            "another endpoint",
            Some(key.proof_for_token("GET", &app.url("/token"), now(&app), Some(&nonce), token)),
        ),
        (
            "another token's ath",
            Some(key.proof_for_token("GET", &url, now(&app), Some(&nonce), "other-token")),
        ),
    ] {
        let resp = userinfo(&app, &dpop, proof.as_deref()).await;
        assert_eq!(resp.status(), 401, "{why}");
        let challenge = challenge_of(&resp);
        assert!(
            challenge.starts_with("DPoP ") && challenge.contains("invalid_dpop_proof"),
            "{why}: {challenge}"
        );
    }
    // Without the nonce: asked for it, then accepted.
    let resp = userinfo(
        &app,
        &dpop,
        Some(&key.proof_for_token("GET", &url, now(&app), None, token)),
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(challenge_of(&resp).contains("use_dpop_nonce"));
    let nonce = nonce_of(&resp);
    let proof = key.proof_for_token("GET", &url, now(&app), Some(&nonce), token);
    let resp = userinfo(&app, &dpop, Some(&proof)).await;
    assert_eq!(resp.status(), 200);
    let claims: Value = resp.json().await.unwrap();
    assert_eq!(claims["preferred_username"], "alice");
    // The same proof again is a replay.
    let resp = userinfo(&app, &dpop, Some(&proof)).await;
    assert_eq!(resp.status(), 401);

    // An unbound token under the DPoP scheme is refused too.
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), &web, &challenge, "alice").await;
    let plain: Value = redeem(&app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let plain = plain["access_token"].as_str().unwrap();
    let proof = key.proof_for_token("GET", &url, now(&app), Some(&nonce), plain);
    let resp = userinfo(&app, &format!("DPoP {plain}"), Some(&proof)).await;
    assert_eq!(resp.status(), 401);
    assert!(challenge_of(&resp).contains("invalid_token"));
    assert_eq!(
        userinfo(&app, &format!("Bearer {plain}"), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_a_key() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let key = EcKeyPair::new("k");
    let thief = EcKeyPair::new("t");
    let (verifier, challenge) = pkce();
    let back = sign_in(
        &app,
        &browser(),
        &authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("dpop_jkt", &key.thumbprint())],
        ),
        "alice",
    )
    .await;
    let code = param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    // Another key, or no proof at all: refused, and the code survives.
    let resp = token_request(&app, &web, &form, &thief).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    assert_oauth_error(
        redeem(&app, &web, &code, &verifier).await,
        400,
        "invalid_grant",
    )
    .await;
    let resp = token_request(&app, &web, &form, &key).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
    // A malformed dpop_jkt is an error for the client.
    let back = browser()
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("dpop_jkt", "nope")],
        ))
        .send()
        .await
        .unwrap();
    let to = location(&back);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("invalid_request"),
        "{to}"
    );
}

#[tokio::test]
async fn a_public_clients_refresh_tokens_are_bound_to_its_key() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let public = app
        .add_client(NewClient {
            name: "CLI".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: true,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Some("openid profile offline_access".into()),
            ..NewClient::default()
        })
        .await;
    let key = EcKeyPair::new("k");
    let tokens = bound_tokens(&app, &public, &key, &[("scope", "openid offline_access")]).await;
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    // Stolen: without a proof, or with another key, it is refused, and the
    // family is not touched (no reuse detection for the thief to trigger).
    let resp = api()
        .post(app.url("/token"))
        .form(&[form[0], form[1], ("client_id", public.id())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let thief = EcKeyPair::new("t");
    assert_oauth_error(
        token_request(&app, &public, &form, &thief).await,
        400,
        "invalid_grant",
    )
    .await;
    let resp = token_request(&app, &public, &form, &key).await;
    assert_eq!(resp.status(), 200);
    let next: Value = resp.json().await.unwrap();
    assert_eq!(next["token_type"], "DPoP");
    assert!(next["refresh_token"].is_string());

    // A confidential client's refresh tokens are bound to its secret: a
    // refresh may bind the new access token to another key.
    let web = app
        .add_client(NewClient {
            name: "Web".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Some("openid offline_access".into()),
            ..NewClient::default()
        })
        .await;
    let tokens = bound_tokens(&app, &web, &key, &[("scope", "openid offline_access")]).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let other = EcKeyPair::new("o");
    let resp = token_request(&app, &web, &form, &other).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        other.thumbprint()
    );
}

#[tokio::test]
async fn a_client_registered_for_dpop_must_send_proofs() {
    let app = crate::registration::spawn_with_api_scope(|_| {}).await;
    // RFC 9449 §5.2 metadata at /register.
    let token = crate::registration::initial_token(&app, 1).await;
    let mut metadata = crate::registration::machine_metadata();
    metadata["dpop_bound_access_tokens"] = serde_json::json!(true);
    let info = crate::registration::register(&app, &token, metadata).await;
    assert_eq!(info["dpop_bound_access_tokens"], true);
    let registered = crate::registration::test_client(&app, &info).await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(registered.id(), registered.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_dpop_proof").await;

    let machine = app
        .add_client(NewClient {
            name: "Bound machine".into(),
            grant_types: vec![GrantType::ClientCredentials],
            scope: Some("api:read".into()),
            dpop_bound: true,
            ..NewClient::default()
        })
        .await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(machine.id(), machine.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
    let key = EcKeyPair::new("k");
    let resp = token_request(
        &app,
        &machine,
        &[("grant_type", "client_credentials")],
        &key,
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn without_the_nonce_requirement_a_fresh_proof_suffices() {
    let app = TestApp::spawn_with(|c| c.dpop.require_nonce = false).await;
    let machine = app.machine_client().await;
    let key = EcKeyPair::new("k");
    let url = app.url("/token");
    let proof = key.proof("POST", &url, now(&app), None);
    let cc = [("grant_type", "client_credentials")];
    let resp = post_token(&app, &machine, &cc, &proof).await;
    assert_eq!(resp.status(), 200);
    // Replays are still refused.
    assert_oauth_error(
        post_token(&app, &machine, &cc, &proof).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}

/// A public client whose tokens are bound to its key (the sessions API
/// needs a user token with the `sessions` scope).
async fn bound_public_client(app: &TestApp) -> TestClient {
    app.add_client(NewClient {
        name: "SPA".into(),
        redirect_uris: vec![REDIRECT.into()],
        public: true,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Some("openid sessions offline_access".into()),
        dpop_bound: true,
        ..NewClient::default()
    })
    .await
}

/// Every protected resource takes a bound token only with a proof: the
/// sessions API too, for listing and for ending a session.
#[tokio::test]
async fn a_bound_token_needs_its_proof_at_every_protected_resource() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let spa = bound_public_client(&app).await;
    let key = EcKeyPair::new("k");
    let tokens = bound_tokens(&app, &spa, &key, &[("scope", "openid sessions")]).await;
    let token = tokens["access_token"].as_str().unwrap();
    let list = app.url("/api/sessions");
    let resp = api().get(&list).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        challenge_of(&resp).starts_with("DPoP "),
        "{}",
        challenge_of(&resp)
    );
    let resp = api()
        .delete(app.url("/api/sessions/anything"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // With the scheme and a proof of the key, for this very request.
    let nonce = fresh_nonce(&app, &spa, &key).await;
    let proof = key.proof_for_token("GET", &list, now(&app), Some(&nonce), token);
    let resp = api()
        .get(&list)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sessions: Value = resp.json().await.unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
}

/// Revoking a public client's bound refresh token takes a proof of its
/// key: a thief with the token alone cannot end the user's grant.
#[tokio::test]
async fn a_thief_cannot_revoke_a_bound_refresh_token() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let spa = bound_public_client(&app).await;
    let key = EcKeyPair::new("k");
    let tokens = bound_tokens(&app, &spa, &key, &[("scope", "openid offline_access")]).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |proof: Option<String>| {
        let mut req = api()
            .post(app.url("/revoke"))
            .form(&[("token", refresh), ("client_id", spa.id())]);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let nonce = fresh_nonce(&app, &spa, &key).await;
    let url = app.url("/revoke");
    assert_oauth_error(revoke(None).await.unwrap(), 400, "invalid_dpop_proof").await;
    let thief = EcKeyPair::new("t");
    let resp = revoke(Some(thief.proof("POST", &url, now(&app), Some(&nonce))))
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
    // Untouched: the client still refreshes, then revokes with its key.
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let resp = token_request(&app, &spa, &form, &key).await;
    assert_eq!(resp.status(), 200);
    let next: Value = resp.json().await.unwrap();
    let next = next["refresh_token"].as_str().unwrap().to_owned();
    let resp = api()
        .post(app.url("/revoke"))
        .header("DPoP", key.proof("POST", &url, now(&app), Some(&nonce)))
        .form(&[("token", next.as_str()), ("client_id", spa.id())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", next.as_str()),
    ];
    assert_oauth_error(
        token_request(&app, &spa, &form, &key).await,
        400,
        "invalid_grant",
    )
    .await;
}

/// A used proof stays refused up to the second its age refuses it, the
/// periodic sweep run at every step: the record of its `jti` never
/// expires while the proof could still pass (RFC 9449 §11.1).
#[tokio::test]
async fn a_used_proof_stays_refused_until_it_is_too_old() {
    let app = TestApp::spawn().await;
    let machine = app.machine_client().await;
    let key = EcKeyPair::new("k");
    let nonce = fresh_nonce(&app, &machine, &key).await;
    let iat = now(&app);
    let proof = key.proof("POST", &app.url("/token"), iat, Some(&nonce));
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(post_token(&app, &machine, &cc, &proof).await.status(), 200);
    for offset in [1, 60, 119, 120, 124, 125, 126] {
        let ahead = iat + offset - now(&app);
        app.clock
            .advance(std::time::Duration::from_secs(ahead as u64));
        app.core.housekeeping().sweep().await.unwrap();
        let resp = post_token(&app, &machine, &cc, &proof).await;
        let body = assert_oauth_error(resp, 400, "invalid_dpop_proof").await;
        assert!(body.get("access_token").is_none(), "iat + {offset}");
    }
}
