//! What the OpenID Foundation's conformance plans (oidcc-basic,
//! oidcc-config, the RP-initiated logout plans) ask of the authorization
//! endpoint beyond the plain code flow: `prompt` values, `max_age` and
//! `auth_time`, `id_token_hint`, parameters to accept and ignore, POST
//! /authorize, `response_mode=form_post`, and tokens kept out of userinfo
//! bodies. docs/conformance.md names the test for each behaviour.

use std::time::Duration;

use serde_json::Value;

use crate::flows::decode_segment;
use crate::support::*;

/// Follows `auth_url` with a browser already signed in and consented:
/// the redirect back to the client.
async fn straight_back(browser: &reqwest::Client, auth_url: &str) -> String {
    let resp = browser.get(auth_url).send().await.unwrap();
    assert_eq!(resp.status(), 303, "authorize redirects");
    location(&resp)
}

/// Redeems the code in `back` and returns the token response.
async fn tokens_for(app: &TestApp, client: &TestClient, back: &str, verifier: &str) -> Value {
    let code = param(back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let resp = redeem(app, client, &code, verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The claims of the ID token in a token response.
fn id_claims(tokens: &Value) -> Value {
    decode_segment(tokens["id_token"].as_str().expect("an ID token"), 1)
}

/// Signs `username` in with a fresh browser; returns the browser and the
/// token response.
async fn signed_in_browser(
    app: &TestApp,
    client: &TestClient,
    username: &str,
) -> (reqwest::Client, Value) {
    let b = browser();
    let (verifier, challenge) = pkce();
    let back = sign_in(
        app,
        &b,
        &authorize_url(app, client.id(), &challenge, &[]),
        username,
    )
    .await;
    let tokens = tokens_for(app, client, &back, &verifier).await;
    (b, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_hint_is_verified_and_compared_with_the_session() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let web = app.web_client().await;
    let (alice, alice_tokens) = signed_in_browser(&app, &web, "alice").await;
    let (_, bob_tokens) = signed_in_browser(&app, &web, "bob").await;
    let alice_hint = alice_tokens["id_token"].as_str().unwrap();
    let bob_hint = bob_tokens["id_token"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let url = |extra: &[(&str, &str)]| authorize_url(&app, web.id(), &challenge, extra);

    // The signed-in user's own hint: the request goes through.
    let back = straight_back(
        &alice,
        &url(&[("id_token_hint", alice_hint), ("prompt", "none")]),
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");
    let back = straight_back(&alice, &url(&[("id_token_hint", alice_hint)])).await;
    assert!(param(&back, "code").is_some(), "{back}");

    // A hint that is not an ID token of Latchkey's: an error for the client.
    let mut forged: Vec<String> = alice_hint.split('.').map(str::to_owned).collect();
    let mut claims = decode_segment(alice_hint, 1);
    claims["sub"] = Value::String("someone-else".into());
    {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        forged[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    }
    let access = alice_tokens["access_token"].as_str().unwrap();
    for bad in ["garbage", &forged.join("."), access] {
        let back = straight_back(&alice, &url(&[("id_token_hint", bad)])).await;
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
        assert!(param(&back, "code").is_none());
    }

    // Another user's hint: login_required under prompt=none, a fresh
    // sign-in otherwise.
    let back = straight_back(
        &alice,
        &url(&[("id_token_hint", bob_hint), ("prompt", "none")]),
    )
    .await;
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    let to = straight_back(&alice, &url(&[("id_token_hint", bob_hint)])).await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &alice, &to)
        .await
        .sign_in(&app, &alice, "bob", PASSWORD)
        .await;
    let back = location(&resp);
    let tokens = tokens_for(&app, &web, &back, &verifier).await;
    assert_eq!(id_claims(&tokens)["sub"], id_claims(&bob_tokens)["sub"]);
    // Whoever signs in on that page must be the user the hint names: the
    // browser is bob's now, alice's hint asks for her, and bob signs in.
    let to = straight_back(&alice, &url(&[("id_token_hint", alice_hint)])).await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &alice, &to)
        .await
        .sign_in(&app, &alice, "bob", PASSWORD)
        .await;
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    assert!(param(&back, "code").is_none(), "{back}");

    // An expired hint still names its user: accepted.
    app.clock.advance(Duration::from_secs(
        app.core.settings().tokens.id_token_ttl as u64 + 60,
    ));
    let back = straight_back(
        &alice,
        &url(&[("id_token_hint", bob_hint), ("prompt", "none")]),
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_select_account_is_a_fresh_sign_in_and_advertised() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (b, _) = signed_in_browser(&app, &web, "alice").await;
    let (_, challenge) = pkce();
    let to = straight_back(
        &b,
        &authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("prompt", "select_account"), ("login_hint", "carol")],
        ),
    )
    .await;
    assert!(to.starts_with("/login"), "{to}");
    let page = FormPage::read(&app, &b, &to).await;
    assert!(page.text.contains("value=\"carol\""), "{}", page.text);

    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent", "select_account"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_gives_a_later_auth_time() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (b, first) = signed_in_browser(&app, &web, "alice").await;
    let first_auth = id_claims(&first)["auth_time"].as_i64().unwrap();

    app.clock.advance(Duration::from_secs(5));
    let (verifier, challenge) = pkce();
    let to = straight_back(
        &b,
        &authorize_url(&app, web.id(), &challenge, &[("prompt", "login")]),
    )
    .await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let tokens = tokens_for(&app, &web, &location(&resp), &verifier).await;
    let second_auth = id_claims(&tokens)["auth_time"].as_i64().unwrap();
    assert_eq!(second_auth, first_auth + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_one_second_forces_a_new_sign_in_and_auth_time() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, web.id(), &challenge, &[("max_age", "1")]);
    let back = sign_in(&app, &b, &url, "alice").await;
    let tokens = tokens_for(&app, &web, &back, &verifier).await;
    let first_auth = id_claims(&tokens)["auth_time"]
        .as_i64()
        .expect("auth_time when max_age was sent");

    // Within the second: the session is recent enough.
    let back = straight_back(&b, &url).await;
    assert!(param(&back, "code").is_some(), "{back}");

    app.clock.advance(Duration::from_secs(2));
    let to = straight_back(&b, &url).await;
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let tokens = tokens_for(&app, &web, &location(&resp), &verifier).await;
    assert_eq!(
        id_claims(&tokens)["auth_time"].as_i64(),
        Some(first_auth + 2)
    );

    // Under prompt=none a stale session is login_required; max_age=0 is
    // prompt=login.
    app.clock.advance(Duration::from_secs(2));
    let none = authorize_url(
        &app,
        web.id(),
        &challenge,
        &[("max_age", "1"), ("prompt", "none")],
    );
    let back = straight_back(&b, &none).await;
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    let to = straight_back(
        &b,
        &authorize_url(&app, web.id(), &challenge, &[("max_age", "0")]),
    )
    .await;
    assert!(to.starts_with("/login"), "{to}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_locales_acr_and_unknown_parameters_are_accepted() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (b, _) = signed_in_browser(&app, &web, "alice").await;
    let (verifier, challenge) = pkce();
    for extra in [
        ("display", "page"),
        ("display", "popup"),
        ("ui_locales", "fr-CA fr en"),
        ("claims_locales", "de en"),
        ("acr_values", "urn:mace:incommon:iap:silver"),
        ("vendor_extra", "anything"),
    ] {
        let back = straight_back(
            &b,
            &authorize_url(&app, web.id(), &challenge, &[extra, ("prompt", "none")]),
        )
        .await;
        assert!(param(&back, "code").is_some(), "{extra:?}: {back}");
        assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    }

    // POST /authorize with a form body works like GET.
    let query = authorize_url(&app, web.id(), &challenge, &[("display", "page")]);
    let body = query.split_once('?').unwrap().1.to_owned();
    let resp = b
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let tokens = tokens_for(&app, &web, &location(&resp), &verifier).await;
    assert!(tokens["id_token"].is_string());

    // POST for a browser not signed in: the sign-in page, then the code.
    let fresh = browser();
    let resp = fresh
        .post(app.url("/authorize"))
        .form(
            &url::Url::parse(&query)
                .unwrap()
                .query_pairs()
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .unwrap();
    let to = location(&resp);
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &fresh, &to)
        .await
        .sign_in(&app, &fresh, "alice", PASSWORD)
        .await;
    assert!(param(&location(&resp), "code").is_some());
}

/// A form_post page: its action, its hidden fields, and the response.
struct Posted {
    action: String,
    text: String,
    csp: String,
}

impl Posted {
    async fn read(resp: reqwest::Response) -> Posted {
        assert_eq!(resp.status(), 200, "a form_post page");
        let h = resp.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        let text = resp.text().await.unwrap();
        let marker = "method=\"post\" action=\"";
        let start = text.find(marker).expect("a form") + marker.len();
        let end = text[start..].find('"').unwrap() + start;
        Posted {
            action: text[start..end].to_owned(),
            text,
            csp,
        }
    }

    fn field(&self, name: &str) -> Option<String> {
        self.text
            .contains(&format!("name=\"{name}\""))
            .then(|| hidden(&self.text, name))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_answers_through_sign_in_and_consent() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let (verifier, challenge) = pkce();
    // A state with characters that must be escaped in HTML.
    let state = "a\"b'<c>&d";
    let url = authorize_url(
        &app,
        web.id(),
        &challenge,
        &[("response_mode", "form_post"), ("state", state)],
    );
    let resp = b.get(&url).send().await.unwrap();
    let to = location(&resp);
    assert!(to.starts_with("/login"), "{to}");
    let resp = FormPage::read(&app, &b, &to)
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    // The first sign-in asks for consent; the answer is then posted.
    let consent = location(&resp);
    assert!(consent.starts_with("/consent"), "{consent}");
    let resp = FormPage::read(&app, &b, &consent)
        .await
        .decide(&app, &b, "approve")
        .await;
    let page = Posted::read(resp).await;
    assert_eq!(page.action, REDIRECT);
    assert_eq!(page.field("state").as_deref(), Some(state));
    assert_eq!(page.field("iss").as_deref(), Some(app.issuer()));
    assert!(!page.text.contains("<c>"), "escaped: {}", page.text);
    // The page's CSP: no inline script, the script is Latchkey's file, the
    // form may post to the client's origin only.
    let directives: Vec<&str> = page.csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"script-src 'self'"), "{}", page.csp);
    assert!(
        page.csp.ends_with("form-action http://127.0.0.1:9"),
        "{}",
        page.csp
    );
    assert!(page
        .text
        .contains("<script src=\"/assets/form-post.js\"></script>"));
    assert!(
        page.text.contains("<button type=\"submit\">"),
        "works without script"
    );
    let script = api()
        .get(app.url("/assets/form-post.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("submit()"));
    let code = page.field("code").expect("a code");
    let resp = redeem(&app, &web, &code, &verifier).await;
    assert_eq!(resp.status(), 200);

    // Signed in and consented: /authorize answers with the page at once.
    let resp = b.get(&url).send().await.unwrap();
    let page = Posted::read(resp).await;
    assert!(page.field("code").is_some());

    // Without a session and with the consent step both, a stored request
    // keeps its response mode; so does a fresh sign-in after prompt=login.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[("response_mode", "form_post"), ("prompt", "login")],
        ))
        .send()
        .await
        .unwrap();
    let resp = FormPage::read(&app, &b, &location(&resp))
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let page = Posted::read(resp).await;
    assert_eq!(page.field("state").as_deref(), Some("st-123"));
    assert!(page.field("code").is_some());

    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
}

/// The passkey script is a file of Latchkey's own, so pages that run a
/// passkey ceremony keep `script-src 'self'` and no inline script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_script_is_served_as_a_file() {
    let app = TestApp::spawn().await;
    let script = api()
        .get(app.url("/assets/passkeys.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let text = script.text().await.unwrap();
    assert!(text.contains("data-passkey-options"));
    assert!(text.contains("navigator.credentials.create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_carries_errors_once_the_redirect_uri_is_trusted() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let (_, challenge) = pkce();
    let post = |extra: &[(&str, &str)]| {
        let mut all = vec![("response_mode", "form_post")];
        all.extend_from_slice(extra);
        authorize_url(&app, web.id(), &challenge, &all)
    };

    // Not signed in, prompt=none.
    let page = Posted::read(b.get(post(&[("prompt", "none")])).send().await.unwrap()).await;
    assert_eq!(page.action, REDIRECT);
    assert_eq!(page.field("error").as_deref(), Some("login_required"));
    assert_eq!(page.field("state").as_deref(), Some("st-123"));
    assert_eq!(page.field("iss").as_deref(), Some(app.issuer()));
    assert!(page.field("error_description").is_some());
    assert!(page.field("code").is_none());

    // A request that fails its checks (no nonce), and a garbage hint.
    for extra in [("nonce", ""), ("id_token_hint", "garbage")] {
        let page = Posted::read(b.get(post(&[extra])).send().await.unwrap()).await;
        assert_eq!(
            page.field("error").as_deref(),
            Some("invalid_request"),
            "{extra:?}"
        );
        assert_eq!(page.field("state").as_deref(), Some("st-123"));
    }

    // The user declines on the consent page.
    let resp = b.get(post(&[])).send().await.unwrap();
    let resp = FormPage::read(&app, &b, &location(&resp))
        .await
        .sign_in(&app, &b, "alice", PASSWORD)
        .await;
    let resp = FormPage::read(&app, &b, &location(&resp))
        .await
        .decide(&app, &b, "deny")
        .await;
    let page = Posted::read(resp).await;
    assert_eq!(page.field("error").as_deref(), Some("access_denied"));

    // Before the redirect URI is trusted, nothing is posted to it.
    let resp = b
        .get(authorize_url(
            &app,
            web.id(),
            &challenge,
            &[
                ("response_mode", "form_post"),
                ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(!resp.text().await.unwrap().contains("/elsewhere\""));

    // Other response modes stay refused, by redirect.
    for mode in ["fragment", "query.jwt", "form_post.jwt", "web_message"] {
        let back = straight_back(
            &b,
            &authorize_url(&app, web.id(), &challenge, &[("response_mode", mode)]),
        )
        .await;
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_refuses_a_token_outside_the_header_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let (_, tokens) = signed_in_browser(&app, &web, "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    let in_body = api()
        .post(app.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    let in_query = api()
        .get(app.url(&format!("/userinfo?access_token={access}")))
        .send()
        .await
        .unwrap();
    for resp in [in_body, in_query] {
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_request\""),
            "{challenge}"
        );
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
}
