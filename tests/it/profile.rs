//! `/account/profile`: a signed-in user edits the claims the operator lets
//! users edit (`account.editable_claims`), with the checks of the command
//! line and the admin API; everything else about them stays the
//! operator's.

use latchkey_core::admin::UserChanges;
use latchkey_domain::AuditEvent;
use latchkey_protocol::profile::EditableClaims;
use serde_json::{json, Value};

use crate::cli::{latchkey, stderr_line};
use crate::support::*;

/// A server whose users may also edit `email`, `phone_number` and
/// `address`.
async fn spawn_allowing_contact_details() -> TestApp {
    TestApp::spawn_with(|c| {
        c.account.editable_claims = EditableClaims::new(EditableClaims::candidates()).unwrap();
    })
    .await
}

/// Signs `alice` in with `browser` for a client with every scope it needs;
/// returns an access token.
async fn signed_in(app: &TestApp, browser: &reqwest::Client) -> String {
    let client = app
        .add_client(latchkey_core::admin::NewClient {
            name: "Profile reader".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile email address phone".into()),
            ..Default::default()
        })
        .await;
    let (verifier, challenge) = pkce();
    let back = sign_in(
        app,
        browser,
        &authorize_url(
            app,
            client.id(),
            &challenge,
            &[("scope", "openid profile email address phone")],
        ),
        "alice",
    )
    .await;
    let code = param(&back, "code").expect("a code");
    let resp = redeem(app, &client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn userinfo(app: &TestApp, access: &str) -> Value {
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Posts the profile form with `fields` and the CSRF token of the page
/// `browser` reads first.
async fn save(
    app: &TestApp,
    browser: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = FormPage::read(app, browser, "/account/profile")
        .await
        .csrf();
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser
        .post(app.url("/account/profile"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn alice(app: &TestApp) -> latchkey_domain::User {
    app.store
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_shows_at_userinfo_at_once_and_is_audited_without_values() {
    let app = TestApp::spawn().await;
    let before = app.add_user("alice").await;
    let b = browser();
    let access = signed_in(&app, &b).await;
    // Read once, so the user is in the one-second copy userinfo reads.
    assert_eq!(userinfo(&app, &access).await["name"], "alice Example");

    let page = FormPage::read(&app, &b, "/account/profile").await;
    assert!(
        page.text.contains(r#"name="name" value="alice Example""#),
        "{}",
        page.text
    );
    // The e-mail address is shown, not editable, by default.
    assert!(page.text.contains("alice@example.com"));
    assert!(!page.text.contains(r#"name="email""#));

    let resp = save(
        &app,
        &b,
        &[
            ("name", "Alice Liddell"),
            ("nickname", "al"),
            ("website", "https://alice.example"),
            ("locale", ""),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/account/profile?done=saved");
    let page = page_text(&app, &b, "/account/profile?done=saved").await;
    assert!(page.contains("Your profile was saved."), "{page}");
    assert!(page.contains(r#"value="Alice Liddell""#), "{page}");

    // The clock has not moved: only the invalidated copy explains this.
    let info = userinfo(&app, &access).await;
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["nickname"], "al");
    assert_eq!(info["website"], "https://alice.example");
    assert!(info["updated_at"].as_i64().unwrap() > before.updated_at);
    assert_eq!(info["email"], "alice@example.com", "untouched");

    let events: Vec<_> = app
        .store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == AuditEvent::UserClaimsChanged)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].user_id.as_deref(), Some(before.id.as_str()));
    assert_eq!(events[0].detail, "by the user: name, nickname, website");
    assert!(!events[0].detail.contains("Alice Liddell"));

    // Saving the same values again changes nothing and writes nothing.
    let resp = save(&app, &b, &[("name", "Alice Liddell"), ("nickname", "al")]).await;
    assert_eq!(location(&resp), "/account/profile?done=unchanged");
    assert_eq!(
        alice(&app).await.updated_at,
        info["updated_at"].as_i64().unwrap()
    );

    // An empty field clears the claim.
    let resp = save(&app, &b, &[("nickname", "")]).await;
    assert_eq!(resp.status(), 303);
    assert!(userinfo(&app, &access).await.get("nickname").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_users_may_not_edit_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .create(
            "alice",
            PASSWORD.into(),
            UserChanges {
                claims:
                    json!({"name": "Alice", "email": "alice@example.com", "email_verified": true})
                        .as_object()
                        .cloned()
                        .unwrap(),
                groups: Some(vec!["staff".into()]),
            },
        )
        .await
        .unwrap();
    let b = browser();
    signed_in(&app, &b).await;
    let page = page_text(&app, &b, "/account/profile").await;
    assert!(page.contains("staff"), "groups are shown: {page}");
    let stored = alice(&app).await;
    for (field, value) in [
        ("email", "eve@example.com"),
        ("email_verified", "true"),
        ("phone_number", "+441234567890"),
        ("phone_number_verified", "true"),
        ("groups", "admins"),
        ("sub", "someone-else"),
        ("preferred_username", "root"),
        ("updated_at", "0"),
        ("address.locality", "Oxford"),
        ("address", "{\"locality\":\"Oxford\"}"),
        ("is_admin", "true"),
    ] {
        let resp = save(&app, &b, &[("name", "Mallory"), (field, value)]).await;
        assert_eq!(resp.status(), 400, "{field}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("cannot be changed"), "{field}: {text}");
        assert_eq!(alice(&app).await, stored, "nothing stored for {field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_email_is_no_longer_verified_and_the_flag_is_never_the_users() {
    let app = spawn_allowing_contact_details().await;
    app.add_user("alice").await;
    app.core
        .admin(Actor::CommandLine)
        .users()
        .update(
            "alice",
            UserChanges {
                claims: json!({"email_verified": true, "phone_number": "+441865270000", "phone_number_verified": true})
                    .as_object()
                    .cloned()
                    .unwrap(),
                groups: None,
            },
        )
        .await
        .unwrap();
    let b = browser();
    let access = signed_in(&app, &b).await;
    let page = page_text(&app, &b, "/account/profile").await;
    assert!(page.contains(r#"name="email""#), "{page}");
    assert!(page.contains(r#"name="address.locality""#), "{page}");
    assert!(!page.contains(r#"name="email_verified""#), "{page}");

    for field in ["email_verified", "phone_number_verified"] {
        let resp = save(&app, &b, &[(field, "true")]).await;
        assert_eq!(resp.status(), 400, "{field}");
    }
    // The page posts every field back: an unchanged address stays verified.
    let resp = save(
        &app,
        &b,
        &[
            ("email", "alice@example.com"),
            ("phone_number", "+441865270000"),
            ("name", "Alice"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let info = userinfo(&app, &access).await;
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["phone_number_verified"], true);

    let resp = save(
        &app,
        &b,
        &[
            ("email", "alice@wonderland.example"),
            ("phone_number", "+441865270001"),
            ("address.locality", "Oxford"),
            ("address.country", "GB"),
            ("address.street_address", ""),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let info = userinfo(&app, &access).await;
    assert_eq!(info["email"], "alice@wonderland.example");
    assert_eq!(info["email_verified"], false);
    assert_eq!(info["phone_number"], "+441865270001");
    assert_eq!(info["phone_number_verified"], false);
    assert_eq!(
        info["address"],
        json!({"locality": "Oxford", "country": "GB"})
    );
    let details: Vec<String> = app
        .store
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == AuditEvent::UserClaimsChanged && r.detail.starts_with("by the user"))
        .map(|r| r.detail)
        .collect();
    assert!(
        details.iter().any(|d| d
            == "by the user: email, email_verified, phone_number, phone_number_verified, address"),
        "{details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_needs_its_csrf_token_and_a_session() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = browser();
    signed_in(&app, &b).await;
    let stored = alice(&app).await;
    let csrf = FormPage::read(&app, &b, "/account/profile").await.csrf();
    // The token of another browser: one the attacker read for their own
    // account, in their own browser.
    app.add_user("bob").await;
    let attacker = browser();
    let login = FormPage::read(&app, &attacker, "/login").await;
    let resp = post_login(&app, &attacker, None, &login.csrf(), "bob", PASSWORD).await;
    assert_eq!(resp.status(), 303);
    let theirs = FormPage::read(&app, &attacker, "/account/profile")
        .await
        .csrf();
    for form in [
        vec![("name", "Mallory")],
        vec![("name", "Mallory"), ("csrf", "")],
        vec![("name", "Mallory"), ("csrf", "not-a-token")],
        vec![("name", "Mallory"), ("csrf", &csrf[..csrf.len() - 1])],
    ] {
        let resp = b
            .post(app.url("/account/profile"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{form:?}");
    }
    let resp = b
        .post(app.url("/account/profile"))
        .form(&[("name", "Mallory"), ("csrf", theirs.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a token bound to another browser");
    assert_eq!(alice(&app).await, stored);

    // Signed out, a valid token gets the sign-in page, and nothing changes.
    let sessions = page_text(&app, &b, "/account/sessions").await;
    let resp = b
        .post(app.url("/account/sessions/end"))
        .form(&[
            ("csrf", hidden(&sessions, "csrf").as_str()),
            ("session", hidden(&sessions, "session").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = b
        .post(app.url("/account/profile"))
        .form(&[("name", "Mallory"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    let resp = browser()
        .get(app.url("/account/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/login");
    assert_eq!(alice(&app).await, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_value_shows_the_form_again_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = browser();
    signed_in(&app, &b).await;
    let stored = alice(&app).await;
    let long = "n".repeat(257);
    let resp = save(
        &app,
        &b,
        &[
            ("website", "javascript:alert(1)"),
            ("name", &long),
            ("nickname", "<b>al</b>"),
            ("birthdate", "1990-02-30"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Nothing was saved"), "{page}");
    assert!(
        page.contains("must be an absolute http or https URL"),
        "{page}"
    );
    assert!(page.contains("must be at most 256 characters"), "{page}");
    assert!(page.contains("has no such day"), "{page}");
    // The user's input is shown back, escaped.
    assert!(page.contains(r#"value="javascript:alert(1)""#), "{page}");
    assert!(page.contains(&long));
    assert!(
        page.contains("&#60;b&#62;al&#60;/b&#62;") || page.contains("&lt;b&gt;al"),
        "{page}"
    );
    assert!(!page.contains("<b>al"));
    assert_eq!(alice(&app).await, stored);
    assert!(!app
        .store
        .recent(100)
        .await
        .unwrap()
        .iter()
        .any(|r| r.kind == AuditEvent::UserClaimsChanged));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_keeps_the_page_rules_and_runs_no_script() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = browser();
    signed_in(&app, &b).await;
    let resp = b.get(app.url("/account/profile")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(h["cache-control"], "no-store");
    let page = resp.text().await.unwrap();
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains(r#"<form method="post" action="/account/profile">"#));
    // The account pages link to it.
    for path in ["/account/sessions", "/account/password"] {
        assert!(page_text(&app, &b, path)
            .await
            .contains(r#"href="/account/profile""#));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_may_turn_editing_off() {
    let app = TestApp::spawn_with(|c| c.account.editable_claims = EditableClaims::none()).await;
    app.add_user("alice").await;
    let b = browser();
    signed_in(&app, &b).await;
    let page = page_text(&app, &b, "/account/profile").await;
    assert!(
        page.contains("does not let you change your profile"),
        "{page}"
    );
    assert!(page.contains("alice Example"), "still shown: {page}");
    assert!(!page.contains("<form"), "{page}");
    let stored = alice(&app).await;
    // The page has no form; a token from another account page will do.
    let csrf = FormPage::read(&app, &b, "/account/password").await.csrf();
    let resp = b
        .post(app.url("/account/profile"))
        .form(&[("csrf", csrf.as_str()), ("name", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(alice(&app).await, stored);
}

/// An operator's change made between the user's read and write is never
/// overwritten with the older copy, even within the same second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_never_overwrites_a_change_made_meanwhile() {
    let app = spawn_allowing_contact_details().await;
    app.add_user("alice").await;
    let (b, jar) = browser_with_jar();
    signed_in(&app, &b).await;
    let cookie = jar_cookie(&jar, &app.url("/"), "latchkey_session").unwrap();
    let me = app
        .core
        .authorize()
        .current_session(Some(&cookie))
        .await
        .unwrap()
        .unwrap();
    // The operator vouches for the address and puts alice in a group, in
    // the same second (the clock stands still).
    app.core
        .admin(Actor::CommandLine)
        .users()
        .update(
            "alice",
            UserChanges {
                claims: json!({"email_verified": true})
                    .as_object()
                    .cloned()
                    .unwrap(),
                groups: Some(vec!["staff".into()]),
            },
        )
        .await
        .unwrap();
    let r = app
        .core
        .profile()
        .update_own_claims(&me, "127.0.0.1", [("nickname", "al")])
        .await;
    assert!(
        matches!(
            r,
            Err(latchkey_core::account::profile::ProfileUpdateError::Conflict)
        ),
        "{r:?}"
    );
    let now = alice(&app).await;
    assert!(now.claims.email_verified);
    assert_eq!(now.claims.nickname, None);
    assert_eq!(now.groups.names().collect::<Vec<_>>(), ["staff"]);
}

#[test]
fn a_verified_flag_or_an_unknown_claim_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (value, needle) in [
        ("name,email_verified", "email_verified cannot be editable"),
        (
            "phone_number_verified",
            "phone_number_verified cannot be editable",
        ),
        ("name,groups", "\"groups\" is not a claim users can edit"),
    ] {
        let out = latchkey(dir.path())
            .env("LATCHKEY_ACCOUNT__EDITABLE_CLAIMS", value)
            .args(["user", "list"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{value}");
        let line = stderr_line(&out);
        assert!(
            line.contains("account.editable_claims")
                && line.contains("LATCHKEY_ACCOUNT__EDITABLE_CLAIMS")
                && line.contains(needle),
            "{value}: {line}"
        );
    }
    let out = latchkey(dir.path())
        .env(
            "LATCHKEY_ACCOUNT__EDITABLE_CLAIMS",
            "name,email,phone_number,address",
        )
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
