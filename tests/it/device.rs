//! The device authorization grant (RFC 8628): a device client (the
//! `oauth2` crate, or raw requests) asks for codes and polls `/token`; a
//! browser enters the user code at `/device`, signs in and answers.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::admin::NewClient;
use latchkey_domain::{AuditEvent, GrantType, TokenHash};
use serde_json::{json, Value};

use crate::mfa::{account_sign_in, enrol, factor_step, totp_code};
use crate::registration::{admin_token, initial_token, register};
use crate::support::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public device client (a TV app) that may also refresh.
async fn tv_client(app: &TestApp) -> TestClient {
    app.add_client(NewClient {
        name: "Living room TV".into(),
        public: true,
        grant_types: vec![GrantType::DeviceCode, GrantType::RefreshToken],
        scope: Some("openid profile".into()),
        ..NewClient::default()
    })
    .await
}

/// `POST /device_authorization` for a public client.
async fn start(app: &TestApp, client_id: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("client_id", client_id)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    api()
        .post(app.url("/device_authorization"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn started(app: &TestApp, client_id: &str) -> Value {
    let resp = start(app, client_id, None).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// One poll of a public client at `/token`.
async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> reqwest::Response {
    api()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap()
}

/// Opens `/device` (with `query`) and posts `code` with the page's CSRF
/// token.
async fn enter_code(
    app: &TestApp,
    browser: &reqwest::Client,
    query: &str,
    code: &str,
) -> reqwest::Response {
    let page = FormPage::read(app, browser, &format!("/device{query}")).await;
    browser
        .post(app.url("/device"))
        .form(&[("csrf", page.csrf().as_str()), ("user_code", code)])
        .send()
        .await
        .unwrap()
}

/// Enters the code, signs in as `username` and reads the consent page.
async fn consent_page(
    app: &TestApp,
    browser: &reqwest::Client,
    code: &str,
    username: &str,
) -> FormPage {
    let resp = enter_code(app, browser, "", code).await;
    assert_eq!(resp.status(), 303, "a right code goes on to the sign-in");
    let login = location(&resp);
    assert!(login.starts_with("/login?req="), "{login}");
    let resp = FormPage::read(app, browser, &login)
        .await
        .sign_in(app, browser, username, PASSWORD)
        .await;
    assert_eq!(resp.status(), 303, "sign-in succeeds");
    let consent = location(&resp);
    assert!(consent.starts_with("/device/consent?req="), "{consent}");
    FormPage::read(app, browser, &consent).await
}

async fn answer(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &FormPage,
    decision: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/device/consent"))
        .form(&[
            ("req", page.req().as_str()),
            ("csrf", page.csrf().as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

/// Enters the code, signs in and answers `decision`; returns the final
/// page's text.
async fn decide(app: &TestApp, code: &str, username: &str, decision: &str) -> String {
    let b = browser();
    let page = consent_page(app, &b, code, username).await;
    let resp = answer(app, &b, &page, decision).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

fn claims_of(jwt: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn rp_http() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tv_signs_in_with_the_oauth2_crate() {
    use oauth2::basic::BasicClient;
    use oauth2::{DeviceAuthorizationUrl, StandardDeviceAuthorizationResponse, TokenResponse};
    use oauth2::{RefreshToken, TokenUrl};

    let app = TestApp::spawn().await;
    let user = app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let client = BasicClient::new(oauth2::ClientId::new(tv.id().into()))
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(app.url("/device_authorization")).unwrap(),
        )
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap());
    let http = rp_http();
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(oauth2::Scope::new("openid".into()))
        .add_scope(oauth2::Scope::new("profile".into()))
        .request_async(&http)
        .await
        .expect("device authorization");

    // An easy code to type: XXXX-XXXX from the twenty consonants.
    let code = details.user_code().secret().clone();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-");
    assert!(code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{}/device", app.issuer)
    );
    let complete = details
        .verification_uri_complete()
        .expect("verification_uri_complete")
        .secret()
        .clone();
    assert_eq!(
        param(&complete, "user_code").as_deref(),
        Some(code.as_str())
    );
    assert_eq!(details.interval(), Duration::from_secs(5));
    assert_eq!(details.expires_in(), Duration::from_secs(600));

    // Only hashes are stored: neither code finds the request by its text.
    let device_code = details.device_code().secret().clone();
    assert!(app
        .store
        .find_device_by_code(&TokenHash::new(device_code.clone()))
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .find_device_by_code(&TokenHash::of(&device_code))
        .await
        .unwrap()
        .is_some());
    for stored in [code.replace('-', ""), code.clone()] {
        assert!(app
            .store
            .find_device_by_user_code(&stored)
            .await
            .unwrap()
            .is_none());
    }

    // The device polls (each wait advances the mock clock by the interval)
    // while the user, on a phone, follows verification_uri_complete.
    let clock = app.clock.clone();
    let polling = client.exchange_device_access_token(&details).request_async(
        &http,
        move |wait| {
            clock.advance(wait);
            tokio::time::sleep(Duration::from_millis(30))
        },
        None,
    );
    let phone = async {
        let b = browser();
        let path = complete.strip_prefix(&app.issuer).unwrap().to_owned();
        let form = FormPage::read(&app, &b, &path).await;
        assert!(
            form.text
                .contains(&format!("name=\"user_code\" value=\"{code}\"")),
            "the code is filled in: {}",
            form.text
        );
        // Typed differently, it is the same code.
        let typed = code.to_lowercase().replace('-', " ");
        let resp = b
            .post(app.url("/device"))
            .form(&[
                ("csrf", form.csrf().as_str()),
                ("user_code", typed.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let resp = FormPage::read(&app, &b, &location(&resp))
            .await
            .sign_in(&app, &b, "alice", PASSWORD)
            .await;
        assert_eq!(resp.status(), 303);
        let page = FormPage::read(&app, &b, &location(&resp)).await;
        assert!(page.text.contains("Living room TV"), "{}", page.text);
        assert!(page.text.contains("<code>profile</code>"), "{}", page.text);
        assert!(page.text.contains("alice"));
        let resp = answer(&app, &b, &page, "approve").await;
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(text.contains("Return to your device"), "{text}");
    };
    let (tokens, ()) = tokio::join!(polling, phone);
    let tokens = tokens.expect("the device gets tokens");

    let access = claims_of(tokens.access_token().secret());
    assert_eq!(access["sub"], user.id.as_str());
    assert_eq!(access["client_id"], tv.id());
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid", "profile"]);
    let refresh = tokens.refresh_token().expect("a refresh token").clone();

    let again = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .expect("the refresh token works");
    assert!(again.access_token().secret() != tokens.access_token().secret());

    // The audit trail names the approval.
    let events = app.store.recent(20).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == AuditEvent::DeviceApproved && e.client_id.as_deref() == Some(tv.id())));
}

#[tokio::test]
async fn the_id_token_has_no_nonce_and_discovery_names_the_endpoint() {
    let app = TestApp::spawn().await;
    let user = app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    decide(&app, d["user_code"].as_str().unwrap(), "alice", "approve").await;
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let id = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user.id.as_str());
    assert_eq!(id["aud"], tv.id());
    assert!(id.get("nonce").is_none(), "{id}");
    assert!(id["sid"].is_string() && id["at_hash"].is_string());
    assert_eq!(id["amr"], json!(["pwd"]));

    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["device_authorization_endpoint"],
        format!("{}/device_authorization", app.issuer)
    );
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(DEVICE_GRANT)));
}

#[tokio::test]
async fn a_denial_is_access_denied_and_is_recorded_once() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let code = d["user_code"].as_str().unwrap();
    let device_code = d["device_code"].as_str().unwrap();

    let b = browser();
    let page = consent_page(&app, &b, code, "alice").await;
    let resp = answer(&app, &b, &page, "deny").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("denied"));

    // A second answer (the same form again, now approving) finds it settled.
    let resp = answer(&app, &b, &page, "approve").await;
    assert_eq!(resp.status(), 400);
    let resp = poll(&app, tv.id(), device_code).await;
    assert_oauth_error(resp, 400, "access_denied").await;
    // The code is answered: entering it again leads nowhere.
    let resp = enter_code(&app, &b, "", code).await;
    assert_eq!(resp.status(), 400);

    let events = app.store.recent(20).await.unwrap();
    let denials = events
        .iter()
        .filter(|e| e.kind == AuditEvent::DeviceDenied)
        .count();
    assert_eq!(denials, 1);
    assert!(!events.iter().any(|e| e.kind == AuditEvent::DeviceApproved));
}

#[tokio::test]
async fn an_answer_needs_the_session_and_browser_that_signed_in() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let b = browser();
    let page = consent_page(&app, &b, d["user_code"].as_str().unwrap(), "alice").await;
    // Another browser posting this request's id with its own CSRF token.
    let other = browser();
    let own = FormPage::read(&app, &other, "/device").await;
    let resp = other
        .post(app.url("/device/consent"))
        .form(&[
            ("req", page.req().as_str()),
            ("csrf", own.csrf().as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The consent form's CSRF token is bound to the browser that read it.
    let resp = other
        .post(app.url("/device/consent"))
        .form(&[
            ("req", page.req().as_str()),
            ("csrf", page.csrf().as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "authorization_pending").await;
    // A decision other than approve or deny.
    let resp = answer(&app, &b, &page, "maybe").await;
    assert_eq!(resp.status(), 400);
    // The real answer still works.
    let resp = answer(&app, &b, &page, "approve").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn codes_expire_and_the_sweep_removes_them() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let code = d["user_code"].as_str().unwrap();
    let device_code = d["device_code"].as_str().unwrap();

    app.clock.advance(Duration::from_secs(599));
    let resp = poll(&app, tv.id(), device_code).await;
    assert_oauth_error(resp, 400, "authorization_pending").await;
    app.clock.advance(Duration::from_secs(1));
    let resp = poll(&app, tv.id(), device_code).await;
    assert_oauth_error(resp, 400, "expired_token").await;
    let resp = enter_code(&app, &browser(), "", code).await;
    assert_eq!(resp.status(), 400, "an expired code is not accepted");

    // An approval that comes after expiry is refused too: the page the
    // user opened in time cannot answer late.
    let d = started(&app, tv.id()).await;
    let b = browser();
    let page = consent_page(&app, &b, d["user_code"].as_str().unwrap(), "alice").await;
    app.clock.advance(Duration::from_secs(600));
    let resp = answer(&app, &b, &page, "approve").await;
    assert_eq!(resp.status(), 400);
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "expired_token").await;

    app.core.housekeeping().sweep().await.unwrap();
    assert!(app
        .store
        .find_device_by_code(&TokenHash::of(device_code))
        .await
        .unwrap()
        .is_none());
    let resp = poll(&app, tv.id(), device_code).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn polling_too_fast_slows_the_device_down_for_good() {
    let app = TestApp::spawn().await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let dc = d["device_code"].as_str().unwrap();
    let at = |secs| Duration::from_secs(secs);

    assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "authorization_pending").await;
    // Again at once: slow down (the interval is now 10 s).
    assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "slow_down").await;
    // 6 s later: more than the first 5 s, but the interval was raised.
    app.clock.advance(at(6));
    let body = assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "slow_down").await;
    assert!(
        body["error_description"].as_str().unwrap().contains("15"),
        "{body}"
    );
    // The interval is 15 s now: 14 s is too soon, 15 s is not.
    app.clock.advance(at(14));
    assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "slow_down").await;
    app.clock.advance(at(20));
    assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "authorization_pending").await;
    app.clock.advance(at(20));
    assert_oauth_error(poll(&app, tv.id(), dc).await, 400, "authorization_pending").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approved_code_is_redeemed_once_under_concurrent_polls() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    decide(&app, d["user_code"].as_str().unwrap(), "alice", "approve").await;

    let n = 16;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let url = app.url("/token");
    let polls = (0..n).map(|_| {
        let barrier = barrier.clone();
        let url = url.clone();
        let form = vec![
            ("grant_type".to_owned(), DEVICE_GRANT.to_owned()),
            (
                "device_code".to_owned(),
                d["device_code"].as_str().unwrap().to_owned(),
            ),
            ("client_id".to_owned(), tv.id().to_owned()),
        ];
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let req = http.post(url).form(&form);
            barrier.wait().await;
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        })
    });
    let mut winners = 0;
    for p in polls.collect::<Vec<_>>() {
        let (status, body) = p.await.unwrap();
        match status {
            200 => winners += 1,
            _ => assert_eq!(body["error"], "invalid_grant", "{status} {body}"),
        }
    }
    assert_eq!(winners, 1, "exactly one poll gets tokens");
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_device_code_of_another_client_is_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let thief = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let dc = d["device_code"].as_str().unwrap();
    decide(&app, d["user_code"].as_str().unwrap(), "alice", "approve").await;
    let resp = poll(&app, thief.id(), dc).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    // Its own client still gets the tokens.
    assert_eq!(poll(&app, tv.id(), dc).await.status(), 200);
}

#[tokio::test]
async fn guessing_user_codes_is_throttled() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let d = started(&app, tv.id()).await;
    let code = d["user_code"].as_str().unwrap();
    let wrong = if code.starts_with('B') {
        "CCCC-CCCC"
    } else {
        "BBBB-BBBB"
    };

    let b = browser();
    for _ in 0..5 {
        let resp = enter_code(&app, &b, "", wrong).await;
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("not valid"));
    }
    // Malformed codes count too.
    let resp = enter_code(&app, &b, "", "not a code!").await;
    assert_eq!(resp.status(), 429);
    let resp = enter_code(&app, &b, "", wrong).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.text().await.unwrap().contains("Too many attempts"));
    // Once throttled, even the right code is refused (it is not looked up).
    let resp = enter_code(&app, &b, "", code).await;
    assert_eq!(resp.status(), 429);

    // Dropping the cookie (a new browser) does not buy many more: the
    // address has a limit of its own.
    let mut refused = false;
    for _ in 0..20 {
        let resp = enter_code(&app, &browser(), "", wrong).await;
        if resp.status() == 429 {
            refused = true;
            break;
        }
        assert_eq!(resp.status(), 400);
    }
    assert!(refused, "the address is throttled");
    let resp = enter_code(&app, &browser(), "", code).await;
    assert_eq!(resp.status(), 429);

    // After a quiet time (the longest is five minutes), the right code
    // works: the code lives ten.
    app.clock.advance(Duration::from_secs(301));
    let resp = enter_code(&app, &b, "", code).await;
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn a_client_without_the_grant_is_refused() {
    let app = TestApp::spawn().await;
    let web = app.web_client().await;
    let resp = api()
        .post(app.url("/device_authorization"))
        .basic_auth(web.id(), Some(web.secret()))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(web.id(), Some(web.secret()))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", "abc")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn malformed_requests_get_oauth_errors() {
    let app = TestApp::spawn().await;
    let tv = tv_client(&app).await;
    // Unknown client, a scope the client may not have, a malformed scope.
    assert_oauth_error(start(&app, "nobody", None).await, 401, "invalid_client").await;
    assert_oauth_error(
        start(&app, tv.id(), Some("openid email")).await,
        400,
        "invalid_scope",
    )
    .await;
    assert_oauth_error(
        start(&app, tv.id(), Some("open\"id")).await,
        400,
        "invalid_scope",
    )
    .await;
    let resp = api()
        .post(app.url("/device_authorization"))
        .header("content-type", "application/json")
        .body(format!("{{\"client_id\":\"{}\"}}", tv.id()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    // Polls without a device code, with a malformed one, an unknown one.
    let resp = api()
        .post(app.url("/token"))
        .form(&[("grant_type", DEVICE_GRANT), ("client_id", tv.id())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    assert_oauth_error(
        poll(&app, tv.id(), "two words").await,
        400,
        "invalid_request",
    )
    .await;
    assert_oauth_error(poll(&app, tv.id(), "unknown").await, 400, "invalid_grant").await;
    // The code page without its CSRF token.
    let resp = browser()
        .post(app.url("/device"))
        .form(&[("user_code", "BCDF-GHJK")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A consent page for no request, or a made-up one.
    let b = browser();
    let resp = b
        .get(app.url("/device/consent?req=nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = b.get(app.url("/device/consent")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_signed_in_browser_goes_straight_to_consent() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let b = browser();
    let d = started(&app, tv.id()).await;
    decide_with(&app, &b, d["user_code"].as_str().unwrap()).await;
    // A second device: the browser's session is used, no sign-in page.
    let d = started(&app, tv.id()).await;
    let resp = enter_code(&app, &b, "", d["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 303);
    let consent = location(&resp);
    assert!(consent.starts_with("/device/consent?req="), "{consent}");
    let page = FormPage::read(&app, &b, &consent).await;
    assert_eq!(answer(&app, &b, &page, "approve").await.status(), 200);
    assert_eq!(
        poll(&app, tv.id(), d["device_code"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

async fn decide_with(app: &TestApp, b: &reqwest::Client, code: &str) {
    let page = consent_page(app, b, code, "alice").await;
    assert_eq!(answer(app, b, &page, "approve").await.status(), 200);
}

#[tokio::test]
async fn registration_and_the_admin_api_accept_device_clients() {
    let app = TestApp::spawn().await;
    let token = initial_token(&app, 1).await;
    let info = register(
        &app,
        &token,
        json!({
            "client_name": "Registered TV",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
        }),
    )
    .await;
    assert!(info
        .get("redirect_uris")
        .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)));
    let id = info["client_id"].as_str().unwrap();
    let d = started(&app, id).await;
    assert!(d["device_code"].is_string());

    // The admin API takes the same metadata.
    let admin = admin_token(&app).await;
    let resp = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&json!({
            "client_name": "Kiosk",
            "grant_types": [DEVICE_GRANT],
            "token_endpoint_auth_method": "none",
            "scope": "openid profile",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["grant_types"], json!([DEVICE_GRANT]));
    let d = started(&app, info["client_id"].as_str().unwrap()).await;
    assert!(d["user_code"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_an_app_proves_it_before_approving() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let laptop = browser();
    account_sign_in(&app, &laptop, "alice").await;
    let (secret, _) = enrol(&app, &laptop).await;
    app.clock.advance(Duration::from_secs(30));

    let d = started(&app, tv.id()).await;
    let b = browser();
    let resp = enter_code(&app, &b, "", d["user_code"].as_str().unwrap()).await;
    let resp = FormPage::read(&app, &b, &location(&resp))
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    assert_eq!(resp.status(), 303);
    let factor = location(&resp);
    assert!(factor.starts_with("/login/factor?c="), "{factor}");
    let page = page_text(&app, &b, &factor).await;
    assert!(page.contains("Living room TV"), "the page names the client");
    // No consent page, and no tokens, on the password alone.
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "authorization_pending").await;
    assert_eq!(factor_step(&app, &b, &factor, "000000").await.status(), 401);
    let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    let resp = factor_step(&app, &b, &factor, &code).await;
    assert_eq!(resp.status(), 303);
    let consent = location(&resp);
    assert!(consent.starts_with("/device/consent?req="), "{consent}");
    let page = FormPage::read(&app, &b, &consent).await;
    assert_eq!(answer(&app, &b, &page, "approve").await.status(), 200);

    app.clock.advance(Duration::from_secs(5));
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let id = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:latchkey:acr:mfa");

    // The laptop's session proved only the password since the app was set
    // up: a code entered there asks for the app first (step-up in place).
    let d = started(&app, tv.id()).await;
    let resp = enter_code(&app, &laptop, "", d["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 303);
    let factor = location(&resp);
    assert!(factor.starts_with("/login/factor?c="), "{factor}");
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    let resp = factor_step(&app, &laptop, &factor, &code).await;
    assert_eq!(resp.status(), 303);
    let consent = location(&resp);
    assert!(consent.starts_with("/device/consent?req="), "{consent}");
    let page = FormPage::read(&app, &laptop, &consent).await;
    assert_eq!(answer(&app, &laptop, &page, "approve").await.status(), 200);
    let resp = poll(&app, tv.id(), d["device_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_requires_mfa_steps_a_password_session_up() {
    let app = TestApp::spawn().await;
    app.add_user("bob").await;
    let strict = app
        .add_client(NewClient {
            name: "Payroll kiosk".into(),
            public: true,
            grant_types: vec![GrantType::DeviceCode],
            scope: Some("openid".into()),
            require_mfa: true,
            ..NewClient::default()
        })
        .await;
    let b = browser();
    account_sign_in(&app, &b, "bob").await;
    let d = started(&app, strict.id()).await;
    let resp = enter_code(&app, &b, "", d["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 303);
    // Bob has no second factor: the password first, then an app to set up;
    // never the consent page on the password session.
    let login = location(&resp);
    assert!(login.starts_with("/login?req="), "{login}");
    let resp = FormPage::read(&app, &b, &login)
        .await
        .sign_in(&app, &b, "bob", PASSWORD)
        .await;
    let next = location(&resp);
    assert!(next.starts_with("/login/factor?c="), "{next}");
    let page = page_text(&app, &b, &next).await;
    assert!(
        page.contains("data-totp-secret"),
        "an app to set up: {page}"
    );
    let resp = poll(&app, strict.id(), d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "authorization_pending").await;
}

#[test]
fn the_command_line_adds_a_device_client_without_a_redirect_uri() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::cli::latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "CLI tool",
            "--public",
            "--grant-type",
            "device_code",
            "--grant-type",
            "refresh_token",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        client["grant_types"],
        json!([DEVICE_GRANT, "refresh_token"]),
        "{client}"
    );
    assert_eq!(client["redirect_uris"], json!([]));
    // A name that is no grant type is refused.
    let out = crate::cli::latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "x",
            "--public",
            "--grant-type",
            "device",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A device may bind its tokens with DPoP: the poll that gets them carries
/// a proof, and (a public client) its refresh token is bound to the key.
#[tokio::test]
async fn a_device_binds_its_tokens_with_dpop() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let tv = tv_client(&app).await;
    let started = started(&app, tv.id()).await;
    let user_code = started["user_code"].as_str().unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    decide(&app, user_code, "alice", "approve").await;
    app.clock.advance(std::time::Duration::from_secs(6));

    let key = crate::proofs::EcKeyPair::new("tv");
    let url = app.url("/token");
    let now = latchkey_domain::Clock::unix(&*app.clock);
    let with_proof = |form: Vec<(&'static str, String)>, proof: String| {
        api()
            .post(app.url("/token"))
            .header("DPoP", proof)
            .form(&form)
            .send()
    };
    let poll_form = || {
        vec![
            ("grant_type", DEVICE_GRANT.to_owned()),
            ("device_code", device_code.to_owned()),
            ("client_id", tv.id().to_owned()),
        ]
    };
    let first = with_proof(poll_form(), key.proof("POST", &url, now, None))
        .await
        .unwrap();
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_oauth_error(first, 400, "use_dpop_nonce").await;
    let resp = with_proof(poll_form(), key.proof("POST", &url, now, Some(&nonce)))
        .await
        .unwrap();
    let status = resp.status();
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
    // The refresh token is the key's: without a proof it is refused.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let resp = api()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", tv.id()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let resp = with_proof(
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh.to_owned()),
            ("client_id", tv.id().to_owned()),
        ],
        key.proof("POST", &url, now, Some(&nonce)),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
}
