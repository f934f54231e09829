//! Sessions, RP-initiated and back-channel logout, password change: every
//! way a user's tokens die.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_core::admin::NewClient;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;

use crate::support::*;
use crate::tokens::{introspect, refresh};

const LOGGED_OUT: &str = "http://127.0.0.1:9/logged-out";

/// A relying party that may refresh, manage sessions and be told of logouts.
async fn rp(app: &TestApp, backchannel: Option<String>) -> TestClient {
    app.add_client(NewClient {
        name: "Portal".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![
            latchkey_domain::GrantType::AuthorizationCode,
            latchkey_domain::GrantType::RefreshToken,
        ],
        scope: Some("openid profile offline_access sessions".into()),
        post_logout_redirect_uris: vec![LOGGED_OUT.into()],
        backchannel_logout_uri: backchannel,
        ..NewClient::default()
    })
    .await
}

/// Signs `user` in through `b`; returns the token response.
async fn tokens(
    app: &TestApp,
    b: &reqwest::Client,
    c: &TestClient,
    user: &str,
    scope: &str,
) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let back = sign_in(
        app,
        b,
        &authorize_url(app, c.id(), &challenge, &[("scope", scope)]),
        user,
    )
    .await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let resp = redeem(app, c, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn userinfo(app: &TestApp, access: &str) -> u16 {
    api()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether the browser still has a session (authorize does not ask it to
/// sign in).
async fn still_signed_in(app: &TestApp, b: &reqwest::Client, c: &TestClient) -> bool {
    let (_, challenge) = pkce();
    let resp = b
        .get(authorize_url(app, c.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    !location(&resp).starts_with("/login")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_a_valid_id_token_hint_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid profile offline_access").await;
    let hint = t["id_token"].as_str().unwrap();
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await, 200);

    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", LOGGED_OUT)
        .append_pair("state", "bye-1");
    let resp = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let back = location(&resp);
    assert!(back.starts_with(LOGGED_OUT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("bye-1"));

    assert_eq!(
        userinfo(&app, access).await,
        401,
        "the session's tokens die with it"
    );
    assert_oauth_error(
        refresh(&app, &c, t["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(!still_signed_in(&app, &b, &c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_without_a_hint_needs_the_users_confirmation() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid").await;

    // A third-party page sends the browser to /logout: nothing happens
    // without the user's click.
    let resp = b.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.ends_with("form-action 'self'"), "{csp}");
    let page = FormPage {
        text: resp.text().await.unwrap(),
    };
    assert!(page.text.contains("Sign out"), "{}", page.text);
    // With a post-logout redirect, the confirmation form ends there: its
    // origin, and only it, is added to the form targets.
    let mut with_redirect = url::Url::parse(&app.url("/logout")).unwrap();
    with_redirect
        .query_pairs_mut()
        .append_pair("client_id", c.id())
        .append_pair("post_logout_redirect_uri", LOGGED_OUT);
    let resp = b.get(with_redirect.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.ends_with("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    assert!(still_signed_in(&app, &b, &c).await);
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await,
        200
    );

    // The form without its CSRF token is refused.
    let resp = b
        .post(app.url("/logout/confirm"))
        .form(&[("query", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(still_signed_in(&app, &b, &c).await);

    let resp = page.confirm_logout(&app, &b).await;
    assert_eq!(resp.status(), 200);
    assert!(!still_signed_in(&app, &b, &c).await);
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await,
        401
    );
}

/// A hint names the session it was issued to (`sid`): one from another
/// session, even of the same user, is suspect (RP-Initiated Logout §2).
/// Whoever saw browser A's ID token cannot use it to end browser B's
/// session unasked; B's user confirms on the CSRF-protected page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_from_another_session_needs_the_users_confirmation() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let (a, b) = (browser(), browser());
    let ta = tokens(&app, &a, &c, "alice", "openid").await;
    let tb = tokens(&app, &b, &c, "alice", "openid").await;
    let logout_url = |hint: &str| {
        let mut url = url::Url::parse(&app.url("/logout")).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", LOGGED_OUT)
            .append_pair("state", "bye");
        url.to_string()
    };

    // From B, with A's hint: a confirmation page, nothing ended.
    let resp = b
        .get(logout_url(ta["id_token"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("location").is_none());
    let page = FormPage {
        text: resp.text().await.unwrap(),
    };
    assert!(page.text.contains("Sign out"), "{}", page.text);
    assert!(still_signed_in(&app, &b, &c).await);
    assert!(still_signed_in(&app, &a, &c).await);
    assert_eq!(
        userinfo(&app, tb["access_token"].as_str().unwrap()).await,
        200
    );
    // The form needs its CSRF token.
    let resp = b
        .post(app.url("/logout/confirm"))
        .form(&[("query", page.hidden("query").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(still_signed_in(&app, &b, &c).await);
    // Confirmed: B's session ends, A's stays.
    let resp = page.confirm_logout(&app, &b).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(LOGGED_OUT));
    assert!(!still_signed_in(&app, &b, &c).await);
    assert_eq!(
        userinfo(&app, tb["access_token"].as_str().unwrap()).await,
        401
    );
    assert!(still_signed_in(&app, &a, &c).await);
    assert_eq!(
        userinfo(&app, ta["access_token"].as_str().unwrap()).await,
        200
    );

    // From A, with its own hint: ended at once.
    let resp = a
        .get(logout_url(ta["id_token"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with(LOGGED_OUT));
    assert!(!still_signed_in(&app, &a, &c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_refuses_bad_redirects_and_forged_hints() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid").await;
    let hint = t["id_token"].as_str().unwrap().to_owned();

    for bad in [
        "http://127.0.0.1:9/logged-out/",
        "https://attacker.example/",
        "http://127.0.0.1:9/logged-outx",
    ] {
        let mut url = url::Url::parse(&app.url("/logout")).unwrap();
        url.query_pairs_mut()
            .append_pair("id_token_hint", &hint)
            .append_pair("post_logout_redirect_uri", bad);
        let resp = b.get(url.as_str()).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(resp.headers().get("location").is_none());
    }
    // Without a client to check it against: also refused.
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("post_logout_redirect_uri", LOGGED_OUT);
    assert_eq!(b.get(url.as_str()).send().await.unwrap().status(), 400);

    // A forged hint (payload swapped) is refused.
    let parts: Vec<&str> = hint.split('.').collect();
    let other = tokens(&app, &browser(), &c, "alice", "openid").await;
    let other_payload = other["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut().append_pair("id_token_hint", &forged);
    assert_eq!(b.get(url.as_str()).send().await.unwrap().status(), 400);
    assert!(still_signed_in(&app, &b, &c).await, "nothing was ended");

    // An expired (but genuine) hint still works.
    app.clock.advance(Duration::from_secs(3600));
    let mut url = url::Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &hint)
        .append_pair("post_logout_redirect_uri", LOGGED_OUT);
    let resp = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
}

/// A back-channel logout receiver on 127.0.0.1:0 that keeps what it gets.
pub async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let data = web::Data::from(got.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/backchannel",
            web::post().to(
                |body: web::Bytes, got: web::Data<Mutex<Vec<String>>>| async move {
                    got.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    HttpResponse::Ok().finish()
                },
            ),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/backchannel"), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_channel_logout_tokens_are_delivered_and_verify_against_the_jwks() {
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice").await;
    let (uri, got) = receiver().await;
    let c = rp(&app, Some(uri)).await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid").await;
    let sid = crate::flows::decode_segment(t["id_token"].as_str().unwrap(), 1)["sid"].clone();

    FormPage::read(&app, &b, "/logout")
        .await
        .confirm_logout(&app, &b)
        .await;

    let mut body = None;
    for _ in 0..100 {
        if let Some(b) = got.lock().unwrap().first().cloned() {
            body = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = body.expect("the logout token arrived");
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token parameter");

    // Verify it as a relying party would: against the published JWKS.
    let header = crate::flows::decode_segment(&token, 0);
    assert_eq!(header["typ"], "logout+jwt");
    let jwks: CoreJsonWebKeySet = api()
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == header["kid"].as_str())
        .expect("the signing key is published");
    let (signed, sig) = token.rsplit_once('.').unwrap();
    use base64::Engine;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        signed.as_bytes(),
        &sig,
    )
    .expect("the logout token verifies against the JWKS");

    let claims = crate::flows::decode_segment(&token, 1);
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["aud"], c.id());
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["sid"], sid);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64());
    assert!(
        claims.get("nonce").is_none(),
        "a logout token never has a nonce"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_api_lists_and_ends_sessions_with_a_bearer_token_only() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let (laptop, phone) = (browser(), browser());
    let mine = tokens(&app, &laptop, &c, "alice", "openid sessions").await;
    let theirs = tokens(&app, &phone, &c, "alice", "openid offline_access").await;
    let access = mine["access_token"].as_str().unwrap();

    let resp = api()
        .get(app.url("/api/sessions"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s["clients"][0] == "Portal"));
    let other = list
        .iter()
        .find(|s| s["current"] == false)
        .expect("the phone's session");
    let other_id = other["id"].as_str().unwrap();

    // Cookies are never enough, and a token without the scope is refused.
    let resp = laptop.get(app.url("/api/sessions")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = api()
        .get(app.url("/api/sessions"))
        .bearer_auth(theirs["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 403, "insufficient_scope").await;

    let resp = api()
        .delete(app.url(&format!("/api/sessions/{other_id}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        userinfo(&app, theirs["access_token"].as_str().unwrap()).await,
        401
    );
    assert_oauth_error(
        refresh(&app, &c, theirs["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(!still_signed_in(&app, &phone, &c).await);
    assert!(still_signed_in(&app, &laptop, &c).await);
    let resp = api()
        .delete(app.url(&format!("/api/sessions/{other_id}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "already ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_ends_a_session_with_a_csrf_protected_button() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let (laptop, phone) = (browser(), browser());
    tokens(&app, &laptop, &c, "alice", "openid").await;
    let theirs = tokens(&app, &phone, &c, "alice", "openid").await;

    let page = page_text(&app, &laptop, "/account/sessions").await;
    assert_eq!(page.matches("name=\"session\"").count(), 2, "{page}");
    // Pick the session that is not "This device".
    let other_block = page
        .split("<li class=\"session")
        .skip(1)
        .find(|b| !b.contains("This device"))
        .unwrap();
    let sid = hidden(other_block, "session");
    let resp = laptop
        .post(app.url("/account/sessions/end"))
        .form(&[("session", sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "no CSRF token");
    assert!(still_signed_in(&app, &phone, &c).await);
    let resp = laptop
        .post(app.url("/account/sessions/end"))
        .form(&[
            ("session", sid.as_str()),
            ("csrf", hidden(&page, "csrf").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(!still_signed_in(&app, &phone, &c).await);
    assert_eq!(
        userinfo(&app, theirs["access_token"].as_str().unwrap()).await,
        401
    );

    // Without a session the page sends the browser to sign in.
    let resp = browser()
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_kills_everything() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let rs = app.resource_server().await;
    let (laptop, phone) = (browser(), browser());
    let a = tokens(&app, &laptop, &c, "alice", "openid offline_access").await;
    let b = tokens(&app, &phone, &c, "alice", "openid offline_access").await;

    app.core
        .admin(Actor::CommandLine)
        .users()
        .set_password("alice", "a new long password".into())
        .await
        .unwrap();

    for t in [&a, &b] {
        assert_eq!(
            userinfo(&app, t["access_token"].as_str().unwrap()).await,
            401
        );
        assert_eq!(
            introspect(&app, &rs, t["access_token"].as_str().unwrap()).await["active"],
            false
        );
        assert_oauth_error(
            refresh(&app, &c, t["refresh_token"].as_str().unwrap()).await,
            400,
            "invalid_grant",
        )
        .await;
    }
    assert!(!still_signed_in(&app, &laptop, &c).await);
    assert!(!still_signed_in(&app, &phone, &c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_password_page_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    // A public SPA: access tokens only, no refresh token to revoke.
    let spa = app
        .add_client(NewClient {
            name: "SPA".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: true,
            scope: Some("openid".into()),
            ..NewClient::default()
        })
        .await;
    let ((laptop, jar), phone) = (browser_with_jar(), browser());
    let mine = tokens(&app, &laptop, &c, "alice", "openid offline_access").await;
    let spa_token = {
        let (verifier, challenge) = pkce();
        let resp = laptop
            .get(authorize_url(
                &app,
                spa.id(),
                &challenge,
                &[("scope", "openid")],
            ))
            .send()
            .await
            .unwrap();
        let next = location(&resp);
        let back = if next.starts_with("/consent") {
            approve(&app, &laptop, &next).await
        } else {
            next
        };
        let resp = api()
            .post(app.url("/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", spa.id()),
                ("code", param(&back, "code").unwrap().as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    assert_eq!(userinfo(&app, &spa_token).await, 200);
    let old_cookie = jar_cookie(&jar, &app.url("/"), "latchkey_session").unwrap();
    let theirs = tokens(&app, &phone, &c, "alice", "openid").await;
    let page = page_text(&app, &laptop, "/account/password").await;
    let csrf = hidden(&page, "csrf");
    let resp = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", "wrong password"),
            ("new", "another long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(still_signed_in(&app, &phone, &c).await);
    let resp = laptop
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", PASSWORD),
            ("new", "another long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        still_signed_in(&app, &laptop, &c).await,
        "this browser continues"
    );
    assert!(!still_signed_in(&app, &phone, &c).await);
    // ... with a new session cookie: a copy of the old one is worthless.
    let new_cookie = jar_cookie(&jar, &app.url("/"), "latchkey_session").unwrap();
    assert_ne!(old_cookie, new_cookie, "the session cookie rotates");
    let resp = api()
        .get(app.url("/account/sessions"))
        .header("cookie", format!("latchkey_session={old_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the old cookie is signed out");
    // Every token issued before the change dies, this browser's included,
    // also those of a client without refresh tokens.
    for access in [&spa_token, mine["access_token"].as_str().unwrap()] {
        assert_eq!(userinfo(&app, access).await, 401);
    }
    assert_eq!(
        userinfo(&app, theirs["access_token"].as_str().unwrap()).await,
        401
    );
    assert_oauth_error(
        refresh(&app, &c, mine["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_kills_their_tokens_and_sign_ins() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid offline_access").await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .set_disabled("alice", true)
        .await
        .unwrap();
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await,
        401
    );
    assert_oauth_error(
        refresh(&app, &c, t["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(!still_signed_in(&app, &b, &c).await);
    // A disabled user cannot sign in again; enabling restores that.
    let (_, challenge) = pkce();
    let resp = login_page(&app, &b, &authorize_url(&app, c.id(), &challenge, &[]))
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    assert_eq!(resp.status(), 401);
    app.core
        .admin(Actor::CommandLine)
        .users()
        .set_disabled("alice", false)
        .await
        .unwrap();
    tokens(&app, &browser(), &c, "alice", "openid").await;
}

/// A logout racing many code exchanges of its session, all released at
/// the same instant: whatever each exchange answered, once the logout has
/// answered no token of that session works, and userinfo, introspection
/// and refresh agree about every one of them. Checked again after the
/// sweep at later times (the sweep forgets revocation records whose tokens
/// have expired, so nothing may hang on them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_exchanges_racing_a_logout_leave_no_live_token() {
    const N: usize = 40;
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = rp(&app, None).await;
    let b = browser();
    let scope = "openid profile offline_access";
    let first = tokens(&app, &b, &c, "alice", scope).await;
    let hint = first["id_token"].as_str().unwrap().to_owned();
    let mut codes = Vec::new();
    for _ in 0..N {
        let (verifier, challenge) = pkce();
        let resp = b
            .get(authorize_url(&app, c.id(), &challenge, &[("scope", scope)]))
            .send()
            .await
            .unwrap();
        let back = location(&resp);
        codes.push((param(&back, "code").expect("a code"), verifier));
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(N + 1));
    let exchanges: Vec<_> = codes
        .into_iter()
        .map(|(code, verifier)| {
            let (barrier, url, id, secret) = (
                barrier.clone(),
                app.url("/token"),
                c.id().to_owned(),
                c.secret().to_owned(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let resp = api()
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    200 => Some(resp.json::<serde_json::Value>().await.unwrap()),
                    400 => None,
                    s => panic!("unexpected status {s}"),
                }
            })
        })
        .collect();
    let mut logout = url::Url::parse(&app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &hint)
        .append_pair("post_logout_redirect_uri", LOGGED_OUT);
    barrier.wait().await;
    let resp = b.get(logout.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 303, "logged out");

    let mut issued = vec![first];
    for e in exchanges {
        issued.extend(e.await.unwrap());
    }
    eprintln!("{} of {N} exchanges answered with tokens", issued.len() - 1);

    let check = |label: &'static str| {
        let (app, c, issued) = (&app, &c, &issued);
        async move {
            for t in issued {
                let access = t["access_token"].as_str().unwrap();
                let refresh_token = t["refresh_token"].as_str().unwrap();
                let at = introspect(app, c, access).await;
                let rt = introspect(app, c, refresh_token).await;
                assert_eq!(
                    at["active"], false,
                    "{label}: access token introspects live"
                );
                assert_eq!(
                    rt["active"], false,
                    "{label}: refresh token introspects live"
                );
                assert_eq!(userinfo(app, access).await, 401, "{label}");
                assert_oauth_error(refresh(app, c, refresh_token).await, 400, "invalid_grant")
                    .await;
            }
        }
    };
    check("after the logout").await;
    for (label, secs) in [
        ("after the sweep a minute later", 61),
        ("after the sweep 11 minutes later", 600),
        ("after the sweep a day later", 86_400),
    ] {
        app.clock.advance(Duration::from_secs(secs));
        app.core.housekeeping().sweep().await.unwrap();
        app.core.revocations().sync().await.unwrap();
        check(label).await;
    }
}

/// Signing in again in the same browser (another user on a shared
/// computer, or the same one again) ends the previous session like a
/// logout: its access and refresh tokens die and its clients are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_in_the_same_browser_ends_the_old_session_like_a_logout() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let (url, received) = receiver().await;
    let c = rp(&app, Some(url)).await;
    let spa = app.web_client().await;
    let b = browser();
    let t = tokens(&app, &b, &c, "alice", "openid profile offline_access").await;
    let (verifier, challenge) = pkce();
    let code = {
        let resp = b
            .get(authorize_url(&app, spa.id(), &challenge, &[]))
            .send()
            .await
            .unwrap();
        let next = location(&resp);
        let back = if next.starts_with("/consent") {
            approve(&app, &b, &next).await
        } else {
            next
        };
        param(&back, "code").unwrap()
    };
    let other: serde_json::Value = redeem(&app, &spa, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();

    let page = page_text(&app, &b, "/login").await;
    let resp = post_login(
        &app,
        &b,
        None,
        hidden(&page, "csrf").as_str(),
        "bob",
        PASSWORD,
    )
    .await;
    assert_eq!(resp.status(), 303, "bob is signed in");

    for access in [&t["access_token"], &other["access_token"]] {
        assert_eq!(userinfo(&app, access.as_str().unwrap()).await, 401);
    }
    assert_oauth_error(
        refresh(&app, &c, t["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "the client was told alice's session ended"
    );
}

/// Sign-ins with the old password racing a password change, released at
/// the same instant (then with the change a little later): once the change
/// has answered, none of their sessions works. Few per round, so the
/// sign-in throttle lets them through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_racing_a_password_change_keep_no_session() {
    const N: usize = 4;
    let app = TestApp::spawn().await;
    app.add_user("carol").await;
    let mut signed_in = 0;
    for delay_ms in [0u64, 1, 3, 6, 10, 20] {
        let mut forms = Vec::new();
        for _ in 0..N {
            let (b, jar) = browser_with_jar();
            let page = page_text(&app, &b, "/login").await;
            forms.push((b, jar, hidden(&page, "csrf")));
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(N + 1));
        let sign_ins: Vec<_> = forms
            .into_iter()
            .map(|(b, jar, csrf)| {
                let (barrier, url, base) = (barrier.clone(), app.url("/login"), app.url("/"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let resp = b
                        .post(url)
                        .form(&[
                            ("csrf", csrf.as_str()),
                            ("username", "carol"),
                            ("password", PASSWORD),
                        ])
                        .send()
                        .await
                        .unwrap();
                    (
                        resp.status().as_u16(),
                        jar_cookie(&jar, &base, "latchkey_session"),
                    )
                })
            })
            .collect();
        barrier.wait().await;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        app.core
            .admin(Actor::CommandLine)
            .users()
            .set_password("carol", "carol's new long password".into())
            .await
            .unwrap();
        for s in sign_ins {
            let (status, cookie) = s.await.unwrap();
            if status == 303 {
                signed_in += 1;
                let cookie = cookie.expect("a session cookie");
                let resp = api()
                    .get(app.url("/account/sessions"))
                    .header("cookie", format!("latchkey_session={cookie}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    resp.status(),
                    303,
                    "a session outlived the password change ({delay_ms} ms)"
                );
                assert!(location(&resp).starts_with("/login"));
            }
        }
        // The next round signs in with the test password again.
        app.core
            .admin(Actor::CommandLine)
            .users()
            .set_password("carol", PASSWORD.into())
            .await
            .unwrap();
    }
    eprintln!("{signed_in} sign-ins were answered with a session");
}

const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const FIREFOX_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";

/// A browser that sends `user_agent`.
fn browser_as(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

/// The page's session entries, one string each.
fn session_blocks(page: &str) -> Vec<&str> {
    page.split("<li class=\"session").skip(1).collect()
}

/// `<time>` for a Unix time, as the page writes it.
fn time_tag(unix: i64, relative: &str) -> String {
    let at = chrono::DateTime::from_timestamp(unix, 0).unwrap();
    format!(
        "<time datetime=\"{}\" title=\"{}\">{relative}</time>",
        at.format("%Y-%m-%dT%H:%M:%SZ"),
        at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_names_devices_times_and_apps() {
    use latchkey_domain::Clock;
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let portal = rp(&app, None).await;
    let wiki = app
        .add_client(NewClient {
            name: "Wiki <i>&</i>".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..NewClient::default()
        })
        .await;
    let laptop = browser_as(CHROME_LINUX);
    let phone = browser_as(FIREFOX_IPHONE);
    let mac = browser_as(SAFARI_MAC);
    let odd = browser_as("<b>\"odd\"</b>");
    let signed_in_at = app.clock.unix();
    tokens(&app, &laptop, &portal, "alice", "openid").await;
    tokens(&app, &phone, &portal, "alice", "openid").await;
    tokens(&app, &mac, &portal, "alice", "openid").await;
    tokens(&app, &odd, &portal, "alice", "openid").await;
    // The laptop signs in to a second app through the same session.
    let (verifier, challenge) = pkce();
    let back = sign_in(
        &app,
        &laptop,
        &authorize_url(&app, wiki.id(), &challenge, &[("scope", "openid")]),
        "alice",
    )
    .await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    assert_eq!(redeem(&app, &wiki, &code, &verifier).await.status(), 200);

    let page = page_text(&app, &laptop, "/account/sessions").await;
    assert_eq!(page.matches("<h1").count(), 1, "{page}");
    assert!(!page.contains("<script"), "{page}");
    let blocks = session_blocks(&page);
    assert_eq!(blocks.len(), 4, "{page}");
    let block = |device: &str| {
        *blocks
            .iter()
            .find(|b| b.contains(&format!(">{device}</span>")))
            .unwrap_or_else(|| panic!("no {device}: {page}"))
    };
    let mine = block("Chrome on Linux");
    assert!(mine.contains("This device"), "{mine}");
    assert!(
        mine.contains(&format!("title=\"{CHROME_LINUX}\"")),
        "{mine}"
    );
    assert!(mine.contains("<span class=\"app\">Portal</span>"), "{mine}");
    assert!(
        mine.contains("<span class=\"app\">Wiki &#60;i&#62;&#38;&#60;/i&#62;</span>")
            || mine.contains("<span class=\"app\">Wiki &lt;i&gt;&amp;&lt;/i&gt;</span>"),
        "the app name is escaped: {mine}"
    );
    assert!(
        mine.contains(&format!("Signed in {}", time_tag(signed_in_at, "just now"))),
        "{mine}"
    );
    let theirs = block("Firefox on iPhone");
    assert!(!theirs.contains("This device") && !theirs.contains("Wiki"));
    assert!(block("Safari on macOS").contains("Portal"));
    let odd = block("Unknown browser");
    assert!(!odd.contains("<b>"), "the user agent is escaped: {odd}");
    assert_eq!(page.matches("This device").count(), 1, "{page}");

    // Times move with the clock: the page reads them against it.
    app.clock.advance(Duration::from_secs(5 * 60));
    let page = page_text(&app, &phone, "/account/sessions").await;
    assert!(
        page.contains(&format!(
            "Signed in {}",
            time_tag(signed_in_at, "5 minutes ago")
        )),
        "{page}"
    );
    app.clock.advance(Duration::from_secs(3 * 3600));
    let page = page_text(&app, &phone, "/account/sessions").await;
    assert!(
        page.contains(&format!(
            "Signed in {}",
            time_tag(signed_in_at, "3 hours ago")
        )),
        "{page}"
    );
    assert!(
        session_blocks(&page)
            .iter()
            .find(|b| b.contains("This device"))
            .unwrap()
            .contains(">Firefox on iPhone</span>"),
        "{page}"
    );

    // The API carries the parsed device next to what it had.
    let t = tokens(&app, &laptop, &portal, "alice", "openid sessions").await;
    let list: Vec<serde_json::Value> = api()
        .get(app.url("/api/sessions"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = list.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(
        me["device"],
        serde_json::json!({"browser": "Chrome", "os": "Linux"})
    );
    assert_eq!(me["user_agent"], CHROME_LINUX);
    assert!(me["created_at"].is_i64() && me["id"].is_string());
    let odd = list
        .iter()
        .find(|s| s["user_agent"] == "<b>\"odd\"</b>")
        .unwrap();
    assert_eq!(
        odd["device"],
        serde_json::json!({"browser": null, "os": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_else_ends_exactly_the_other_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice").await;
    let (uri, got) = receiver().await;
    let c = rp(&app, Some(uri)).await;
    let (laptop, phone, tablet) = (browser(), browser(), browser());
    let mine = tokens(&app, &laptop, &c, "alice", "openid offline_access").await;
    let others = [
        tokens(&app, &phone, &c, "alice", "openid offline_access").await,
        tokens(&app, &tablet, &c, "alice", "openid offline_access").await,
    ];
    let sid_of = |t: &serde_json::Value| {
        crate::flows::decode_segment(t["id_token"].as_str().unwrap(), 1)["sid"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let page = page_text(&app, &laptop, "/account/sessions").await;
    assert!(page.contains("Sign out everywhere else"), "{page}");
    // Without the CSRF token, or with another browser's, nothing ends.
    let resp = laptop
        .post(app.url("/account/sessions/end-others"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let phone_page = page_text(&app, &phone, "/account/sessions").await;
    let resp = laptop
        .post(app.url("/account/sessions/end-others"))
        .form(&[("csrf", hidden(&phone_page, "csrf").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a token bound to another browser");
    assert!(still_signed_in(&app, &phone, &c).await);
    assert!(still_signed_in(&app, &tablet, &c).await);

    let resp = laptop
        .post(app.url("/account/sessions/end-others"))
        .form(&[("csrf", hidden(&page, "csrf").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/sessions?done=others");
    for (b, t) in [(&phone, &others[0]), (&tablet, &others[1])] {
        assert!(!still_signed_in(&app, b, &c).await);
        assert_eq!(
            userinfo(&app, t["access_token"].as_str().unwrap()).await,
            401
        );
        assert_oauth_error(
            refresh(&app, &c, t["refresh_token"].as_str().unwrap()).await,
            400,
            "invalid_grant",
        )
        .await;
    }
    // This browser keeps its session and what was issued through it.
    assert!(still_signed_in(&app, &laptop, &c).await);
    assert_eq!(
        userinfo(&app, mine["access_token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(
        refresh(&app, &c, mine["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    let page = page_text(&app, &laptop, "/account/sessions?done=others").await;
    assert!(
        page.contains("Your other sessions were signed out."),
        "{page}"
    );
    assert_eq!(session_blocks(&page).len(), 1, "{page}");
    assert!(page.contains("This device"));
    assert!(
        !page.contains("Sign out everywhere else"),
        "nothing else to end"
    );

    // Each ended session is audited and its client told, the current one not.
    let ended: Vec<String> = others.iter().map(sid_of).collect();
    let audited: Vec<String> = app
        .store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.kind == latchkey_domain::AuditEvent::SessionEnded
                && r.user_id.as_deref() == Some(alice.id.as_str())
        })
        .map(|r| r.detail)
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    for sid in &ended {
        assert!(
            audited.iter().any(|d| d.contains(sid.as_str())),
            "{audited:?}"
        );
    }
    assert!(!audited.iter().any(|d| d.contains(&sid_of(&mine))));
    let mut told = Vec::new();
    for _ in 0..100 {
        told = got.lock().unwrap().clone();
        if told.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut told_sids: Vec<String> = told
        .iter()
        .map(|body| {
            let token = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            crate::flows::decode_segment(&token, 1)["sid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    told_sids.sort();
    let mut want = ended.clone();
    want.sort();
    assert_eq!(told_sids, want);

    // Again, with nobody else signed in: nothing to end, and it says so.
    let resp = laptop
        .post(app.url("/account/sessions/end-others"))
        .form(&[("csrf", hidden(&page, "csrf").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), "/account/sessions?done=none");
    assert!(still_signed_in(&app, &laptop, &c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_session_that_is_not_yours_or_is_over_says_so() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let c = rp(&app, None).await;
    let (laptop, phone, bobs) = (browser(), browser(), browser());
    tokens(&app, &laptop, &c, "alice", "openid").await;
    tokens(&app, &phone, &c, "alice", "openid").await;
    tokens(&app, &bobs, &c, "bob", "openid").await;
    let page = page_text(&app, &laptop, "/account/sessions").await;
    let csrf = hidden(&page, "csrf");
    let bob_sid = hidden(
        &page_text(&app, &bobs, "/account/sessions").await,
        "session",
    );
    let phone_sid = hidden(
        session_blocks(&page)
            .into_iter()
            .find(|b| !b.contains("This device"))
            .unwrap(),
        "session",
    );
    let end = |sid: String| {
        laptop
            .post(app.url("/account/sessions/end"))
            .form(&[("csrf", csrf.clone()), ("session", sid)])
            .send()
    };
    const SAID: &str = "not one of yours, or it has already ended";

    let resp = end(bob_sid).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.unwrap();
    assert!(body.contains(SAID), "{body}");
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(
        still_signed_in(&app, &bobs, &c).await,
        "bob keeps his session"
    );

    let resp = end(phone_sid.clone()).await.unwrap();
    assert_eq!(resp.status(), 303);
    let resp = end(phone_sid).await.unwrap();
    assert_eq!(resp.status(), 404, "already ended");
    assert!(resp.text().await.unwrap().contains(SAID));
    assert!(still_signed_in(&app, &laptop, &c).await);
}
