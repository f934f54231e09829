//! Passkeys from the outside, without a browser: where they are offered,
//! and the refusals around a registration's server-side state (unknown,
//! replayed, another browser's, another user's). The ceremonies themselves
//! run in a real browser (`interop.rs`).

use crate::support::*;

/// A server whose issuer can be a WebAuthn relying party (reached on
/// 127.0.0.1 all the same: the server does not check the Host).
async fn passkey_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.server.issuer = "https://login.example.com".parse().unwrap();
    })
    .await
}

async fn account_sign_in(app: &TestApp, b: &reqwest::Client, username: &str) {
    let page = FormPage::read(app, b, "/login").await;
    let resp = post_login(app, b, None, &page.csrf(), username, PASSWORD).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/sessions");
}

/// Starts a registration; returns the setup page.
async fn start(app: &TestApp, b: &reqwest::Client) -> reqwest::Response {
    let security = FormPage::read(app, b, "/account/security").await;
    b.post(app.url("/account/security/passkeys/start"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap()
}

async fn finish(app: &TestApp, b: &reqwest::Client, c: &str, credential: &str) -> (u16, String) {
    let security = FormPage::read(app, b, "/account/security").await;
    let resp = b
        .post(app.url("/account/security/passkeys"))
        .form(&[
            ("csrf", security.csrf().as_str()),
            ("c", c),
            ("credential", credential),
            ("name", "Key"),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn an_ip_address_issuer_offers_no_passkeys() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = browser();
    let login = page_text(&app, &b, "/login").await;
    assert!(!login.contains("passkey-sign-in"), "{login}");
    account_sign_in(&app, &b, "alice").await;
    let security = page_text(&app, &b, "/account/security").await;
    assert!(!security.contains("add-passkey"), "{security}");
    assert!(!security.contains("passkeys.js"), "{security}");
    let resp = start(&app, &b).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("not available"));
}

#[tokio::test]
async fn a_registration_state_is_used_once_by_its_own_browser_and_user() {
    let app = passkey_app().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let b = browser();
    account_sign_in(&app, &b, "alice").await;
    let security = page_text(&app, &b, "/account/security").await;
    assert!(security.contains("id=\"add-passkey\""), "{security}");

    let setup = start(&app, &b).await;
    assert_eq!(setup.status(), 200);
    let setup = setup.text().await.unwrap();
    assert!(
        setup.contains("data-passkey-ceremony=\"create\""),
        "{setup}"
    );
    assert!(
        setup.contains("login.example.com"),
        "the RP id is in the options"
    );
    assert!(setup.contains("/assets/passkeys.js"));
    let c = hidden(&setup, "c");

    // Another user's browser cannot finish alice's registration.
    let other = browser();
    account_sign_in(&app, &other, "bob").await;
    let (status, body) = finish(&app, &other, &c, "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no longer valid"), "{body}");

    // An unknown challenge.
    let (status, body) = finish(&app, &b, "nosuchchallenge", "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no longer valid"), "{body}");

    // A bad answer uses the state up: the same challenge never again.
    let (status, body) = finish(&app, &b, &c, "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid"), "{body}");
    let (status, body) = finish(&app, &b, &c, "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no longer valid"), "{body}");
    assert!(
        app.store.find_challenge(&c).await.unwrap().is_none(),
        "the state is gone"
    );

    // A stale sign-in is sent to confirm it first.
    app.clock.advance(std::time::Duration::from_secs(
        latchkey_core::account::factors::FRESH_SIGN_IN as u64 + 1,
    ));
    let security = FormPage::read(&app, &b, "/account/security").await;
    let resp = b
        .post(app.url("/account/security/passkeys/start"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login?reauth=1");
}

/// Posts a passkey answer for the sign-in page's challenge `c`.
async fn passwordless(
    app: &TestApp,
    b: &reqwest::Client,
    c: &str,
    credential: &str,
) -> (u16, String) {
    let page = FormPage::read(app, b, "/login").await;
    let resp = b
        .post(app.url("/login/passkey"))
        .form(&[
            ("csrf", page.csrf().as_str()),
            ("c", c),
            ("credential", credential),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_passwordless_challenge_is_used_once_in_its_own_browser() {
    let app = passkey_app().await;
    app.add_user("alice").await;
    let b = browser();
    let login = page_text(&app, &b, "/login").await;
    assert!(login.contains("id=\"passkey-sign-in\""), "{login}");
    assert!(login.contains("data-passkey-ceremony=\"get\""), "{login}");
    let c = hidden(&login, "c");

    // Another browser cannot answer it.
    let other = browser();
    let (status, body) = passwordless(&app, &other, &c, "{}").await;
    assert!(status >= 400, "{status} {body}");
    assert!(body.contains("another browser"), "{body}");

    // An unknown challenge.
    let (status, body) = passwordless(&app, &b, "nosuchchallenge", "{}").await;
    assert!(status >= 400, "{status} {body}");
    assert!(body.contains("expired"), "{body}");

    // A bad answer signs nobody in and uses the challenge up.
    let (status, body) = passwordless(&app, &b, &c, "{}").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("could not sign you in"), "{body}");
    let (status, body) = passwordless(&app, &b, &c, "{}").await;
    assert!(status >= 400 && status != 401, "{status} {body}");
    assert!(body.contains("expired"), "{body}");
    assert_eq!(
        b.get(app.url("/account/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "not signed in"
    );
}

/// The CSP of `path`'s page.
async fn csp(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    let resp = b.get(app.url(path)).send().await.unwrap();
    resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn only_pages_offering_a_passkey_run_a_script() {
    let plain = TestApp::spawn().await;
    let csp_plain = csp(&plain, &browser(), "/login").await;
    assert!(!csp_plain.contains("script-src"), "{csp_plain}");
    let app = passkey_app().await;
    let with = csp(&app, &browser(), "/login").await;
    assert!(with.contains("script-src 'self';"), "{with}");
    assert!(
        !with.contains("unsafe-inline';") || !with.contains("script-src 'self' 'unsafe-inline'")
    );
    assert!(with.contains("default-src 'none'") && with.contains("form-action 'self'"));
}

#[tokio::test]
async fn passkeys_are_listed_renamed_and_removed_by_their_owner_only() {
    let app = passkey_app().await;
    let alice = app.add_user("alice").await;
    let bob = app.add_user("bob").await;
    // Signed in before the passkeys exist (a passkey asks for itself at
    // sign-in).
    let b = browser();
    account_sign_in(&app, &b, "alice").await;
    let now = latchkey_domain::Clock::unix(&*app.clock);
    for (id, user) in [("cred-a", &alice), ("cred-b", &bob)] {
        app.store
            .insert_passkey(&latchkey_domain::PasskeyRecord {
                id: id.into(),
                user_id: user.id.clone(),
                name: format!("Key of {}", user.username),
                credential: "{}".into(),
                synced: false,
                created_at: now,
                last_used_at: None,
            })
            .await
            .unwrap();
    }
    let page = page_text(&app, &b, "/account/security").await;
    assert!(page.contains("Key of alice"), "{page}");
    assert!(page.contains("last used never"), "{page}");
    assert!(!page.contains("Key of bob"), "{page}");

    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let b = b.clone();
        let app = &app;
        async move {
            let csrf = FormPage::read(app, &b, "/account/security").await.csrf();
            let mut form = vec![("csrf", csrf)];
            form.extend(fields);
            b.post(app.url(path)).form(&form).send().await.unwrap()
        }
    };
    // Bob's passkey is not alice's to rename or remove.
    let r = post(
        "/account/security/passkeys/rename",
        vec![("id", "cred-b".into()), ("name", "Mine".into())],
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = post(
        "/account/security/passkeys/remove",
        vec![("id", "cred-b".into())],
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.store.list_passkeys(&bob.id).await.unwrap().len(), 1);

    let r = post(
        "/account/security/passkeys/rename",
        vec![("id", "cred-a".into()), ("name", "  Work laptop  ".into())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security?done=passkey-renamed");
    let page = page_text(&app, &b, "/account/security").await;
    assert!(page.contains("<h3>Work laptop</h3>"), "{page}");

    let r = post(
        "/account/security/passkeys/remove",
        vec![("id", "cred-a".into())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security?done=passkey-removed");
    assert!(app.store.list_passkeys(&alice.id).await.unwrap().is_empty());
    let page = page_text(&app, &b, "/account/security").await;
    assert!(page.contains("No passkeys yet"), "{page}");
}

/// A passkey registration's challenge is no sign-in: offered to the
/// second-factor page (or its `continue`), it completes nothing and the
/// session stays as old as it was.
#[tokio::test]
async fn a_registration_challenge_completes_no_sign_in() {
    let app = passkey_app().await;
    app.add_user("frank").await;
    let b = browser();
    account_sign_in(&app, &b, "frank").await;
    let page = start(&app, &b).await.text().await.unwrap();
    let c = hidden(&page, "c");
    assert_eq!(
        b.get(app.url(&format!("/login/factor?c={c}")))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let csrf = FormPage::read(&app, &b, "/login").await.csrf();
    let resp = b
        .post(app.url("/login/factor"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("c", c.as_str()),
            ("continue", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "no session raised");
    app.clock.advance(std::time::Duration::from_secs(6 * 60));
    let security = FormPage::read(&app, &b, "/account/security").await;
    let stale = b
        .post(app.url("/account/security/recovery-codes"))
        .form(&[("csrf", security.csrf().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&stale), "/login?reauth=1", "as stale as before");
}
