//! Second factors from the outside: authenticator apps (set up on the
//! security page or during sign-in), recovery codes, the second step of
//! the sign-in and its limits, step-up by `acr_values` / the `claims`
//! request, `require_mfa`, re-authentication for changes, and the
//! operator's reset. Codes are computed with `totp-rs`, independently of
//! Latchkey's own code, at the test server's (injected) clock.

use std::time::Duration;

use latchkey_core::admin::{ClientSettings, NewClient};
use serde_json::Value;

use crate::flows::decode_segment;
use crate::support::*;

/// The six-digit code of an app holding `secret` (base32) at `unix`.
pub(crate) fn totp_code(secret: &str, unix: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("a base32 secret");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes).generate(unix as u64)
}

/// The text of the element carrying `attr` (`<code data-x>TEXT</code>`),
/// every occurrence.
pub(crate) fn marked(html: &str, attr: &str) -> Vec<String> {
    html.split(&format!("{attr}>"))
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or("").to_owned())
        .collect()
}

/// Signs `username` in for the account pages (no second factor asked:
/// the user has none yet).
pub(crate) async fn account_sign_in(app: &TestApp, b: &reqwest::Client, username: &str) {
    let page = FormPage::read(app, b, "/login").await;
    let resp = post_login(app, b, None, &page.csrf(), username, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/sessions");
}

/// Sets up an authenticator app on the security page of a freshly signed-in
/// browser; returns the app's secret and the recovery codes shown.
pub(crate) async fn enrol(app: &TestApp, b: &reqwest::Client) -> (String, Vec<String>) {
    let security = FormPage::read(app, b, "/account/security").await;
    let setup = b
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), 200);
    let setup = setup.text().await.unwrap();
    assert!(setup.contains("<svg"), "a QR code is shown");
    let secret = marked(&setup, "data-totp-secret").remove(0);
    assert!(secret.len() >= 32, "a 160-bit secret in base32: {secret}");
    let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    let done = b
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", hidden(&setup, "csrf").as_str()),
            ("enrolment", hidden(&setup, "enrolment").as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let codes = marked(&done.text().await.unwrap(), "data-recovery-code");
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    (secret, codes)
}

/// Posts the password for an authorization request; returns where the
/// browser goes next.
async fn password_step(app: &TestApp, b: &reqwest::Client, auth_url: &str, user: &str) -> String {
    let page = login_page(app, b, auth_url).await;
    let resp = page.sign_in(app, b, user, PASSWORD).await;
    assert_eq!(resp.status(), 303, "the password is right");
    location(&resp)
}

/// The password step again once the limiter's wait has passed.
async fn password_step_after_wait(app: &TestApp, b: &reqwest::Client, auth_url: &str) -> String {
    app.clock.advance(Duration::from_secs(901));
    password_step(app, b, auth_url, "alice").await
}

/// Posts `code` on the second-factor page at `path`.
pub(crate) async fn factor_step(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    code: &str,
) -> reqwest::Response {
    let page = FormPage::read(app, b, path).await;
    b.post(app.url("/login/factor"))
        .form(&[
            ("csrf", page.csrf().as_str()),
            ("c", page.hidden("c").as_str()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
}

/// Redeems the code in `back` and returns the ID token's claims.
async fn id_token_claims(app: &TestApp, c: &TestClient, back: &str, verifier: &str) -> Value {
    assert!(back.starts_with(REDIRECT), "back at the client: {back}");
    let code = param(back, "code").expect("a code");
    let tokens: Value = redeem(app, c, &code, verifier).await.json().await.unwrap();
    decode_segment(tokens["id_token"].as_str().expect("an ID token"), 1)
}

async fn finish_consent(app: &TestApp, b: &reqwest::Client, next: String) -> String {
    if next.starts_with("/consent") {
        approve(app, b, &next).await
    } else {
        next
    }
}

fn amr(claims: &Value) -> Vec<&str> {
    claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_set_up_on_the_security_page_is_asked_for_at_every_sign_in() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = app.web_client().await;
    // Another browser of alice's, signed in before the change.
    let other = browser();
    account_sign_in(&app, &other, "alice").await;
    let b = browser();
    account_sign_in(&app, &b, "alice").await;
    let (secret, _) = enrol(&app, &b).await;
    assert_eq!(
        other
            .get(app.url("/account/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "setting up a factor signed the other session out"
    );
    let security = page_text(&app, &b, "/account/security").await;
    assert!(security.contains("10 unused recovery codes"), "{security}");
    // Setting the app up proved no sign-in: this session is asked for a
    // code by the next request, like any other.
    let (_, challenge) = pkce();
    let resp = b
        .get(authorize_url(&app, c.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&resp).starts_with("/login/factor?c="),
        "{}",
        location(&resp)
    );

    // A new browser: the password leads to the second step, not a session.
    let fresh = browser();
    let (verifier, challenge) = pkce();
    let next = password_step(
        &app,
        &fresh,
        &authorize_url(&app, c.id(), &challenge, &[]),
        "alice",
    )
    .await;
    assert!(next.starts_with("/login/factor?c="), "{next}");
    assert_eq!(
        fresh
            .get(app.url("/account/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "the password alone opened no session"
    );
    let page = page_text(&app, &fresh, &next).await;
    assert!(page.contains("name=\"code\""), "{page}");

    // The code confirmed at set-up was used: not again.
    let used = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    assert_eq!(factor_step(&app, &fresh, &next, &used).await.status(), 401);
    assert_eq!(
        factor_step(&app, &fresh, &next, "000000").await.status(),
        401
    );
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    let resp = factor_step(&app, &fresh, &next, &code).await;
    assert_eq!(resp.status(), 303);
    let back = finish_consent(&app, &fresh, location(&resp)).await;
    let claims = id_token_claims(&app, &c, &back, &verifier).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    // The same code a second time, in yet another browser: refused.
    let third = browser();
    let next = password_step(
        &app,
        &third,
        &authorize_url(&app, c.id(), &challenge, &[]),
        "alice",
    )
    .await;
    assert_eq!(factor_step(&app, &third, &next, &code).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = app.web_client().await;
    let b = browser();
    account_sign_in(&app, &b, "alice").await;
    let (_, codes) = enrol(&app, &b).await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, c.id(), &challenge, &[]);

    let first = browser();
    let next = password_step(&app, &first, &url, "alice").await;
    // Typed in capitals with spaces: still the code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let resp = factor_step(&app, &first, &next, &typed).await;
    assert_eq!(resp.status(), 303);
    let back = finish_consent(&app, &first, location(&resp)).await;
    let claims = id_token_claims(&app, &c, &back, &verifier).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);

    let again = browser();
    let next = password_step(&app, &again, &url, "alice").await;
    assert_eq!(
        factor_step(&app, &again, &next, &codes[3]).await.status(),
        401
    );
    let left = page_text(&app, &b, "/account/security").await;
    assert!(left.contains("9 unused recovery codes"), "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_limited_and_a_challenge_stays_in_its_browser() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let c = app.web_client().await;
    let b = browser();
    account_sign_in(&app, &b, "alice").await;
    let (secret, _) = enrol(&app, &b).await;
    let (_, challenge) = pkce();
    let url = authorize_url(&app, c.id(), &challenge, &[]);

    // The challenge's link in another browser is refused.
    let victim = browser();
    let next = password_step(&app, &victim, &url, "alice").await;
    let thief = browser();
    let page = FormPage::read(&app, &thief, "/login").await;
    let stolen = thief
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", page.csrf().as_str()),
            (
                "c",
                param(&format!("http://x{next}"), "c").unwrap().as_str(),
            ),
            (
                "code",
                totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock) + 30).as_str(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 403, "another browser's challenge");
    assert_eq!(
        thief.get(app.url(&next)).send().await.unwrap().status(),
        403
    );

    // The limiter counts codes with the password: from one address the
    // fifth try waits.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            factor_step(&app, &victim, &next, "123456")
                .await
                .status()
                .as_u16(),
        );
    }
    statuses.push(
        factor_step(&app, &victim, &next, "123456")
            .await
            .status()
            .as_u16(),
    );
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 429],
        "throttled like passwords"
    );
    // Spread out (as from many addresses), five wrong codes end the
    // challenge: the password must be given again.
    let next = password_step_after_wait(&app, &victim, &url).await;
    for i in 0..5 {
        app.clock.advance(Duration::from_secs(40));
        let resp = factor_step(&app, &victim, &next, "123456").await;
        let (status, text) = (resp.status(), resp.text().await.unwrap());
        if i < 4 {
            assert_eq!(status, 401, "try {i}: {text}");
        } else {
            assert_eq!(status, 403, "the fifth wrong code ends the sign-in");
            assert!(text.contains("too many wrong codes"), "{text}");
        }
    }
    assert_eq!(
        victim.get(app.url(&next)).send().await.unwrap().status(),
        400,
        "the challenge is gone after five wrong codes"
    );
    let right = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    let csrf = FormPage::read(&app, &victim, "/login").await.csrf();
    let late = victim
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", csrf.as_str()),
            (
                "c",
                param(&format!("http://x{next}"), "c").unwrap().as_str(),
            ),
            ("code", right.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 400, "the right code is too late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_requires_mfa_leads_a_user_without_one_to_set_up_an_app() {
    let app = TestApp::spawn().await;
    app.add_user("bob").await;
    let plain = app.web_client().await;
    let strict = app
        .add_client(NewClient {
            name: "Payroll".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile".into()),
            require_mfa: true,
            ..NewClient::default()
        })
        .await;
    let b = browser();
    // Signed in to the plain client with a password only.
    let (verifier, challenge) = pkce();
    let back = sign_in(
        &app,
        &b,
        &authorize_url(&app, plain.id(), &challenge, &[]),
        "bob",
    )
    .await;
    let claims = id_token_claims(&app, &plain, &back, &verifier).await;
    assert_eq!(amr(&claims), ["pwd"]);
    assert_eq!(claims["acr"], "urn:latchkey:acr:pwd");

    // prompt=none cannot set up an app.
    let none = b
        .get(authorize_url(
            &app,
            strict.id(),
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&none), "error").as_deref(),
        Some("login_required")
    );

    // The strict client: the same session must set up an app first, and
    // a session alone is no proof of who is there: the password first.
    let resp = b
        .get(authorize_url(&app, strict.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    let login = location(&resp);
    assert!(login.starts_with("/login?req="), "{login}");
    let resp = FormPage::read(&app, &b, &login)
        .await
        .sign_in(&app, &b, "bob", PASSWORD)
        .await;
    assert!(
        resp.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("latchkey_session")),
        "the session is raised, not replaced"
    );
    let next = location(&resp);
    assert!(next.starts_with("/login/factor?c="), "{next}");
    let page = page_text(&app, &b, &next).await;
    let secret = marked(&page, "data-totp-secret").remove(0);
    let resp = factor_step(
        &app,
        &b,
        &next,
        &totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock)),
    )
    .await;
    assert_eq!(resp.status(), 200, "the recovery codes, shown once");
    let shown = resp.text().await.unwrap();
    assert_eq!(marked(&shown, "data-recovery-code").len(), 10);
    let resp = b
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", hidden(&shown, "csrf").as_str()),
            ("c", hidden(&shown, "c").as_str()),
            ("continue", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let back = finish_consent(&app, &b, location(&resp)).await;
    let claims = id_token_claims(&app, &strict, &back, &verifier).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    // The session was raised: the plain client now gets mfa silently.
    let resp = b
        .get(authorize_url(
            &app,
            plain.id(),
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    let claims = id_token_claims(&app, &plain, &location(&resp), &verifier).await;
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    // The operator turns the requirement off again through the CLI's API.
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            strict.id(),
            &ClientSettings {
                require_mfa: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !app.core
            .admin(Actor::CommandLine)
            .clients()
            .show(strict.id())
            .await
            .unwrap()
            .require_mfa
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_requests_step_up_when_the_user_can_and_fail_only_when_essential() {
    let app = TestApp::spawn().await;
    app.add_user("carol").await;
    let c = app.web_client().await;
    let (verifier, challenge) = pkce();
    let mfa = "urn:latchkey:acr:mfa";

    // No factor: a voluntary acr_values is a preference, met as far as
    // the user can.
    let b = browser();
    let back = sign_in(
        &app,
        &b,
        &authorize_url(&app, c.id(), &challenge, &[("acr_values", mfa)]),
        "carol",
    )
    .await;
    let claims = id_token_claims(&app, &c, &back, &verifier).await;
    assert_eq!(claims["acr"], "urn:latchkey:acr:pwd");

    // An essential acr nobody can reach (a passkey she does not have).
    let phr = r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:phr"]}}}"#;
    let resp = b
        .get(authorize_url(&app, c.id(), &challenge, &[("claims", phr)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&resp), "error").as_deref(),
        Some("access_denied")
    );

    // An essential mfa: she sets up an app in the flow (step-up of her
    // session), and the ID token says mfa.
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:mfa"]}}}"#;
    let resp = b
        .get(authorize_url(
            &app,
            c.id(),
            &challenge,
            &[("claims", essential)],
        ))
        .send()
        .await
        .unwrap();
    let login = location(&resp);
    assert!(
        login.starts_with("/login?req="),
        "the password first: {login}"
    );
    let resp = FormPage::read(&app, &b, &login)
        .await
        .sign_in(&app, &b, "carol", PASSWORD)
        .await;
    let next = location(&resp);
    assert!(next.starts_with("/login/factor?c="), "{next}");
    let page = page_text(&app, &b, &next).await;
    let secret = marked(&page, "data-totp-secret").remove(0);
    let now = latchkey_domain::Clock::unix(&*app.clock);
    let shown = factor_step(&app, &b, &next, &totp_code(&secret, now))
        .await
        .text()
        .await
        .unwrap();
    let resp = b
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", hidden(&shown, "csrf").as_str()),
            ("c", hidden(&shown, "c").as_str()),
            ("continue", "1"),
        ])
        .send()
        .await
        .unwrap();
    let back = finish_consent(&app, &b, location(&resp)).await;
    let claims = id_token_claims(&app, &c, &back, &verifier).await;
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mfa_for_everyone_and_the_discovery_document() {
    let app = TestApp::spawn_with(|c| c.auth.require_mfa = true).await;
    app.add_user("dave").await;
    let c = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let next = password_step(
        &app,
        &b,
        &authorize_url(&app, c.id(), &challenge, &[]),
        "dave",
    )
    .await;
    assert!(next.starts_with("/login/factor?c="), "{next}");
    assert!(page_text(&app, &b, &next)
        .await
        .contains("data-totp-secret"));

    let d: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["acr_values_supported"],
        serde_json::json!([
            "urn:latchkey:acr:pwd",
            "urn:latchkey:acr:mfa",
            "urn:latchkey:acr:phr"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_a_fresh_sign_in_which_keeps_the_session() {
    let app = TestApp::spawn().await;
    app.add_user("erin").await;
    let b = browser();
    account_sign_in(&app, &b, "erin").await;
    let (secret, _) = enrol(&app, &b).await;
    app.clock.advance(Duration::from_secs(6 * 60));
    let security = FormPage::read(&app, &b, "/account/security").await;
    assert!(
        security.text.contains("reauth=1"),
        "the page offers to confirm"
    );
    let stale = b
        .post(app.url("/account/security/totp/remove"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 303);
    assert_eq!(location(&stale), "/login?reauth=1");

    // Confirming: the password, then the app's code.
    let page = FormPage::read(&app, &b, "/login?reauth=1").await;
    assert!(page.text.contains("value=\"erin\""), "{}", page.text);
    let resp = b
        .post(app.url("/login"))
        .form(&[
            ("csrf", page.csrf().as_str()),
            ("reauth", "1"),
            ("username", "erin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let next = location(&resp);
    assert!(next.starts_with("/login/factor?c="), "{next}");
    let resp = factor_step(
        &app,
        &b,
        &next,
        &totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock)),
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/security");
    assert!(
        resp.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("latchkey_session")),
        "the session is kept, not replaced"
    );
    let security = FormPage::read(&app, &b, "/account/security").await;
    let removed = b
        .post(app.url("/account/security/totp/remove"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&removed), "/account/security?done=totp-removed");
    let after = page_text(&app, &b, "/account/security").await;
    assert!(after.contains("No authenticator app is set up."), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_resets_a_users_factors_and_their_sessions_end() {
    let app = TestApp::spawn().await;
    app.add_user("frank").await;
    let b = browser();
    account_sign_in(&app, &b, "frank").await;
    enrol(&app, &b).await;
    let token = crate::registration::admin_token(&app).await;
    let resp = api()
        .delete(app.url("/admin/users/frank/factors"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["removed"], 11, "the app and ten recovery codes");
    assert_eq!(
        b.get(app.url("/account/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "signed out"
    );
    // A password alone signs in again.
    account_sign_in(&app, &b, "frank").await;

    // The admin API sets a client's requirement beside its metadata.
    let created: Value = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "client_name": "Payroll",
            "redirect_uris": [REDIRECT],
            "require_mfa": true,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["require_mfa"], true, "{created}");
    let unknown = api()
        .delete(app.url("/admin/users/nobody/factors"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// One code, released from many browsers at the same instant (each with
/// its own challenge): one sign-in succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_sent_many_times_at_once_signs_in_once() {
    let app = TestApp::spawn().await;
    app.add_user("gina").await;
    let c = app.web_client().await;
    let b = browser();
    account_sign_in(&app, &b, "gina").await;
    let (secret, codes) = enrol(&app, &b).await;
    let (_, challenge) = pkce();
    let url = authorize_url(&app, c.id(), &challenge, &[]);
    app.clock.advance(Duration::from_secs(30));
    let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
    for secret_code in [code, codes[0].clone()] {
        // Each browser gets to the second step first (the limiter allows
        // a few per address; wait it out between them).
        let mut ready = Vec::new();
        for _ in 0..4 {
            let br = browser();
            let next = password_step(&app, &br, &url, "gina").await;
            let page = FormPage::read(&app, &br, &next).await;
            ready.push((br, page.csrf(), page.hidden("c")));
        }
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(ready.len()));
        let mut tasks = Vec::new();
        for (br, csrf, ch) in ready {
            let (barrier, url, code) = (
                barrier.clone(),
                app.url("/login/factor"),
                secret_code.clone(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                br.post(url)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("c", ch.as_str()),
                        ("code", code.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            1,
            "exactly one sign-in with one code: {statuses:?}"
        );
        app.core.housekeeping().sweep().await.unwrap();
        // The losers' tries counted: let the limiter's window pass.
        app.clock.advance(Duration::from_secs(901));
    }
}

/// A session too old for changes cannot become fresh without the user's
/// factors: not by setting up an app inside a sign-in (the password comes
/// first), not by a password change (which keeps the session's age).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_session_stays_stale_without_the_users_factors() {
    let app = TestApp::spawn().await;
    app.add_user("erin").await;
    let strict = app
        .add_client(NewClient {
            name: "Payroll".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile".into()),
            require_mfa: true,
            ..NewClient::default()
        })
        .await;
    let b = browser();
    account_sign_in(&app, &b, "erin").await;
    app.clock.advance(Duration::from_secs(6 * 60));
    // No second step straight from the session: the sign-in page.
    let (_, challenge) = pkce();
    for url in [
        authorize_url(&app, strict.id(), &challenge, &[]),
        authorize_url(
            &app,
            app.web_client().await.id(),
            &challenge,
            &[(
                "claims",
                r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:mfa"]}}}"#,
            )],
        ),
    ] {
        let resp = b.get(url).send().await.unwrap();
        assert!(
            location(&resp).starts_with("/login?req="),
            "{}",
            location(&resp)
        );
    }
    let security = FormPage::read(&app, &b, "/account/security").await;
    let stale = b
        .post(app.url("/account/security/recovery-codes"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&stale), "/login?reauth=1", "still stale");

    // A password change (to the same password) proves the password only.
    let form = FormPage::read(&app, &b, "/account/password").await;
    let changed = b
        .post(app.url("/account/password"))
        .form(&[
            ("csrf", form.csrf().as_str()),
            ("current", PASSWORD),
            ("new", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let security = FormPage::read(&app, &b, "/account/security").await;
    let stale = b
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&stale),
        "/login?reauth=1",
        "a password change is no fresh sign-in"
    );
}

/// Codes sent at once to one challenge from many addresses (a trusted
/// proxy's `X-Forwarded-For`): at most five are checked; over many
/// challenges the account takes a bounded number of codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_from_many_addresses_are_bounded_per_challenge_and_per_account() {
    let app =
        TestApp::spawn_with(|c| c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
            .await;
    app.add_user("carol").await;
    let c = app.web_client().await;
    let b = browser();
    account_sign_in(&app, &b, "carol").await;
    enrol(&app, &b).await;
    let (_, challenge) = pkce();
    let url = authorize_url(&app, c.id(), &challenge, &[]);

    let victim = browser();
    let next = password_step(&app, &victim, &url, "carol").await;
    let page = FormPage::read(&app, &victim, &next).await;
    let (csrf, ch) = (page.csrf(), page.hidden("c"));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (br, barrier, target) = (victim.clone(), barrier.clone(), app.url("/login/factor"));
        let (csrf, ch) = (csrf.clone(), ch.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            br.post(target)
                .header("x-forwarded-for", format!("198.51.100.{}", i + 1))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("c", ch.as_str()),
                    ("code", "123456"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 5,
        "at most five codes checked per challenge: {statuses:?}"
    );

    // New challenges, each code from a new address: the account's own
    // limit holds them back however many addresses there are (counted
    // afresh once the limiter's window has passed).
    app.clock.advance(Duration::from_secs(901));
    let mut outcomes = Vec::new();
    for round in 0..3 {
        let br = browser();
        let page = login_page(&app, &br, &url).await;
        let resp = br
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("203.0.113.{}", 100 + round))
            .form(&[
                ("req", page.req().as_str()),
                ("csrf", page.csrf().as_str()),
                ("username", "carol"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        let next = location(&resp);
        if !next.starts_with("/login/factor") {
            outcomes.push(resp.status().as_u16());
            continue;
        }
        let page = FormPage::read(&app, &br, &next).await;
        for i in 0..5 {
            let status = br
                .post(app.url("/login/factor"))
                .header("x-forwarded-for", format!("192.0.2.{}", round * 10 + i + 1))
                .form(&[
                    ("csrf", page.csrf().as_str()),
                    ("c", page.hidden("c").as_str()),
                    ("code", "654321"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            outcomes.push(status);
        }
    }
    let checked = outcomes.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 10,
        "the account's codes are limited across addresses: {outcomes:?}"
    );
    assert!(outcomes.contains(&429), "{outcomes:?}");
}

/// An operator's reset, or a factor set up in another sign-in, ends the
/// sign-ins in progress; setting up inside a sign-in ends the user's other
/// sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factor_changes_end_sign_ins_in_progress_and_other_sessions() {
    let app = TestApp::spawn().await;
    app.add_user("bob").await;
    let strict = app
        .add_client(NewClient {
            name: "Payroll".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile".into()),
            require_mfa: true,
            ..NewClient::default()
        })
        .await;
    let other = browser();
    account_sign_in(&app, &other, "bob").await;
    let (_, challenge) = pkce();
    let b = browser();
    let next = password_step(
        &app,
        &b,
        &authorize_url(&app, strict.id(), &challenge, &[]),
        "bob",
    )
    .await;
    let page = page_text(&app, &b, &next).await;
    let secret = marked(&page, "data-totp-secret").remove(0);
    let now = latchkey_domain::Clock::unix(&*app.clock);
    let shown = factor_step(&app, &b, &next, &totp_code(&secret, now))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(marked(&shown, "data-recovery-code").len(), 10);
    assert_eq!(
        other
            .get(app.url("/account/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "setting up inside a sign-in signed the other session out"
    );
    app.core
        .admin(Actor::CommandLine)
        .users()
        .reset_factors("bob")
        .await
        .unwrap();
    let resp = b
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", hidden(&shown, "csrf").as_str()),
            ("c", hidden(&shown, "c").as_str()),
            ("continue", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "the reset ended the sign-in in progress"
    );
}

/// A consent page left open while the client's policy changed: approving
/// it does not issue a code for a sign-in that no longer suffices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_rechecks_the_sign_in_against_the_policy() {
    let app = TestApp::spawn().await;
    app.add_user("bob").await;
    let c = app.web_client().await;
    let (_, challenge) = pkce();
    let b = browser();
    let resp = b
        .get(authorize_url(&app, c.id(), &challenge, &[]))
        .send()
        .await
        .unwrap();
    let resp = FormPage::read(&app, &b, &location(&resp))
        .await
        .sign_in(&app, &b, "bob", PASSWORD)
        .await;
    let consent = location(&resp);
    assert!(consent.starts_with("/consent"), "{consent}");
    let page = FormPage::read(&app, &b, &consent).await;
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update_settings(
            c.id(),
            &ClientSettings {
                require_mfa: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let resp = page.decide(&app, &b, "approve").await;
    let next = location(&resp);
    assert!(
        next.starts_with("/login?req="),
        "no code, the second factor first: {next}"
    );
}
