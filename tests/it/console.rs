//! The operator console under `/admin`: the `admin` role that opens it
//! (given and taken from the command line), and the console's pages as an
//! attacker sees them. The console in a real browser is in `interop.rs`.

use crate::cli::{latchkey, run_with_stdin, stderr_line};

fn user_json(dir: &std::path::Path, username: &str) -> serde_json::Value {
    let out = latchkey(dir)
        .args(["user", "show", username, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_admin_role_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();

    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "root", "--role", "admin", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("role admin"));
    assert_eq!(user_json(dir.path(), "root")["role"], "admin");

    // Without --role: an ordinary user.
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(user_json(dir.path(), "alice")["role"], "user");

    // A role Latchkey does not know: refused before anything is written.
    let mut cmd = latchkey(dir.path());
    cmd.args([
        "user",
        "add",
        "mallory",
        "--role",
        "root",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    let out = latchkey(dir.path())
        .args(["user", "show", "mallory"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // Given and taken away; the claims stay.
    let out = latchkey(dir.path())
        .args(["user", "update", "alice", "--role", "admin", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["role"], "admin", "{shown}");
    let out = latchkey(dir.path())
        .args(["user", "update", "root", "--role", "user", "--name", "Root"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = user_json(dir.path(), "root");
    assert_eq!(root["role"], "user", "{root}");
    assert_eq!(root["name"], "Root", "{root}");

    let out = latchkey(dir.path())
        .args(["user", "update", "alice", "--role", "superuser"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(user_json(dir.path(), "alice")["role"], "admin");

    let out = latchkey(dir.path())
        .args(["user", "update", "nobody", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not found"));

    // `user list` marks the admins.
    let out = latchkey(dir.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines()
            .any(|l| l.contains("alice") && l.contains("(admin)")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("root") && !l.contains("(admin)")),
        "{list}"
    );
}

mod pages {
    use std::time::Duration;

    use latchkey_domain::Role;

    use crate::mfa::{account_sign_in, enrol, factor_step, totp_code};
    use crate::support::*;

    /// A user of `role` with an authenticator app; returns the app's
    /// secret. The code used at set-up is spent: the clock is moved on.
    async fn enrolled(app: &TestApp, username: &str, role: Role) -> String {
        app.core
            .admin(Actor::CommandLine)
            .users()
            .create_with_role(username, PASSWORD.into(), Default::default(), role)
            .await
            .unwrap();
        let setup = browser();
        account_sign_in(app, &setup, username).await;
        let (secret, _) = enrol(app, &setup).await;
        // The session that set the app up did not prove it.
        let resp = setup.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        let page = resp.text().await.unwrap();
        if role == Role::Admin {
            assert!(page.contains("Confirm with your second factor"), "{page}");
            assert!(page.contains("href=\"/login?reauth=1\""), "{page}");
        } else {
            assert!(page.contains("does not have the admin role"), "{page}");
        }
        app.clock.advance(Duration::from_secs(30));
        secret
    }

    /// Signs `username` in on `b` with password and the app's code now
    /// (then moves the clock on, so the next sign-in has a fresh code);
    /// returns the answer to the code.
    async fn sign_in_with_code(
        app: &TestApp,
        b: &reqwest::Client,
        username: &str,
        secret: &str,
    ) -> reqwest::Response {
        let page = FormPage::read(app, b, "/login").await;
        let resp = post_login(app, b, None, &page.csrf(), username, PASSWORD).await;
        assert_eq!(resp.status(), 303);
        let next = location(&resp);
        assert!(next.starts_with("/login/factor?c="), "{next}");
        let code = totp_code(secret, latchkey_domain::Clock::unix(&*app.clock));
        let resp = factor_step(app, b, &next, &code).await;
        assert_eq!(resp.status(), 303, "the code signs in");
        app.clock.advance(Duration::from_secs(30));
        resp
    }

    /// A user of `role` with an authenticator app, and a browser signed in
    /// with password and code.
    async fn signed_in_with_code(app: &TestApp, username: &str, role: Role) -> reqwest::Client {
        let secret = enrolled(app, username, role).await;
        let b = browser();
        let resp = sign_in_with_code(app, &b, username, &secret).await;
        assert_eq!(location(&resp), "/account/sessions");
        b
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_in_started_at_the_console_returns_there_only() {
        let app = TestApp::spawn().await;
        let secret = enrolled(&app, "root", Role::Admin).await;
        let (b, jar) = browser_with_jar();
        let resp = b.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), "/login");
        assert_eq!(
            jar_cookie(&jar, &app.url("/"), "latchkey_return").as_deref(),
            Some("/admin")
        );
        let resp = sign_in_with_code(&app, &b, "root", &secret).await;
        assert_eq!(location(&resp), "/admin", "back at the console");
        assert_eq!(jar_cookie(&jar, &app.url("/"), "latchkey_return"), None);
        assert_eq!(b.get(app.url("/admin")).send().await.unwrap().status(), 200);

        // The cookie names the console or nothing: anything else planted
        // in it is ignored, so it cannot send a sign-in elsewhere.
        for planted in [
            "https://evil.example/",
            "//evil.example",
            "/admin/../account",
        ] {
            let (b, jar) = browser_with_jar();
            jar.add_cookie_str(
                &format!("latchkey_return={planted}; Path=/"),
                &app.url("/").parse().unwrap(),
            );
            let resp = sign_in_with_code(&app, &b, "root", &secret).await;
            assert_eq!(location(&resp), "/account/sessions", "{planted}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn confirming_the_second_factor_from_the_console_returns_there() {
        let app = TestApp::spawn().await;
        app.core
            .admin(Actor::CommandLine)
            .users()
            .create_with_role("root", PASSWORD.into(), Default::default(), Role::Admin)
            .await
            .unwrap();
        let (b, jar) = browser_with_jar();
        account_sign_in(&app, &b, "root").await;
        let (secret, _) = enrol(&app, &b).await;
        app.clock.advance(Duration::from_secs(30));
        // Signed in with the password only: the door asks to confirm, and
        // remembers the way back.
        let resp = b.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(
            jar_cookie(&jar, &app.url("/"), "latchkey_return").as_deref(),
            Some("/admin")
        );
        let page = FormPage::read(&app, &b, "/login?reauth=1").await;
        let resp = b
            .post(app.url("/login"))
            .form(&[
                ("csrf", page.csrf().as_str()),
                ("reauth", "1"),
                ("username", "root"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        let next = location(&resp);
        assert!(next.starts_with("/login/factor?c="), "{next}");
        let code = totp_code(&secret, latchkey_domain::Clock::unix(&*app.clock));
        let resp = factor_step(&app, &b, &next, &code).await;
        assert_eq!(location(&resp), "/admin", "back at the console");
        assert_eq!(b.get(app.url("/admin")).send().await.unwrap().status(), 200);
    }

    async fn get(app: &TestApp, b: &reqwest::Client, path: &str) -> (u16, String) {
        let resp = b.get(app.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn post(
        app: &TestApp,
        b: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        b.post(app.url(path)).form(form).send().await.unwrap()
    }

    /// Whether `secret` authenticates client `id` at the introspection
    /// endpoint (in the body with `post`, else HTTP Basic).
    async fn secret_works(app: &TestApp, id: &str, secret: &str, post: bool) -> bool {
        let req = api().post(app.url("/introspect"));
        let req = if post {
            req.form(&[("token", "x"), ("client_id", id), ("client_secret", secret)])
        } else {
            req.basic_auth(id, Some(secret)).form(&[("token", "x")])
        };
        let status = req.send().await.unwrap().status();
        assert!(status == 200 || status == 401, "{status}");
        status == 200
    }

    /// The console's CSRF token, as its home page gives it.
    async fn csrf(app: &TestApp, b: &reqwest::Client) -> String {
        FormPage::read(app, b, "/admin/console/tokens").await.csrf()
    }

    const PAGES: [&str; 9] = [
        "/admin",
        "/admin/console/clients",
        "/admin/console/clients/new",
        "/admin/console/users",
        "/admin/console/users/root",
        "/admin/console/keys",
        "/admin/console/tokens",
        "/admin/console/audit",
        "/admin/console/audit?kind=login",
    ];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_console_opens_for_an_admin_who_proved_a_second_factor_only() {
        let app = TestApp::spawn().await;
        // Nobody signed in: to the sign-in page.
        let resp = browser().get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), "/login");

        // An admin without a second factor: told to set one up.
        app.core
            .admin(Actor::CommandLine)
            .users()
            .create_with_role("newadmin", PASSWORD.into(), Default::default(), Role::Admin)
            .await
            .unwrap();
        let b = browser();
        account_sign_in(&app, &b, "newadmin").await;
        let (status, page) = get(&app, &b, "/admin").await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains("Set up a second factor"), "{page}");
        assert!(page.contains("href=\"/account/security\""), "{page}");
        assert!(!page.contains("/admin/console/clients"), "{page}");

        // A user with a second factor but without the role: refused.
        let user = signed_in_with_code(&app, "alice", Role::User).await;
        let (status, page) = get(&app, &user, "/admin").await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains("does not have the admin role"), "{page}");

        // An admin signed in with password and code: in, under the
        // account pages' headers.
        let admin = signed_in_with_code(&app, "root", Role::Admin).await;
        let resp = admin.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cache-control"], "no-store");
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Signed in as <strong>root</strong>"));
        for path in PAGES {
            let (status, page) = get(&app, &admin, path).await;
            assert_eq!(status, 200, "{path}: {page}");
        }

        // The JSON admin API stays Bearer-only: the console's cookie opens
        // nothing there.
        let resp = admin.get(app.url("/admin/clients")).send().await.unwrap();
        assert_eq!(resp.status(), 401);

        // The role taken away: the console closes at once.
        app.core
            .admin(Actor::CommandLine)
            .users()
            .set_role("root", Role::User)
            .await
            .unwrap();
        let resp = admin.get(app.url("/admin")).send().await.unwrap();
        assert_eq!(resp.status(), 303, "the session ended with the role");
        assert_eq!(location(&resp), "/login");

        // The admin API shows the role (read-only).
        let token = crate::registration::admin_token(&app).await;
        let shown: serde_json::Value = api()
            .get(app.url("/admin/users/root"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown["role"], "user", "{shown}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_user_without_the_role_is_refused_every_page_and_every_form() {
        let app = TestApp::spawn().await;
        let admin = signed_in_with_code(&app, "root", Role::Admin).await;
        let token = csrf(&app, &admin).await;
        let victim = app.web_client().await;
        let kid = app.core.signing_keys().list().await.unwrap()[0]
            .kid
            .to_string();

        let user = signed_in_with_code(&app, "mallory", Role::User).await;
        for path in PAGES {
            let (status, page) = get(&app, &user, path).await;
            assert_eq!(status, 403, "{path}: {page}");
            assert!(!page.contains(victim.id()), "{path}: {page}");
        }
        // Even with a CSRF token of the admin's (not this browser's) or of
        // the account pages, every form is refused and nothing changes.
        let account = FormPage::read(&app, &user, "/account/sessions")
            .await
            .csrf();
        let client = format!("/admin/console/clients/{}", victim.id());
        let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                "/admin/console/clients".into(),
                vec![
                    ("name", "Evil"),
                    ("redirect_uris", REDIRECT),
                    ("grant.authorization_code", "on"),
                ],
            ),
            (
                client.clone(),
                vec![
                    ("name", "Evil"),
                    ("redirect_uris", REDIRECT),
                    ("pkce", "optional"),
                ],
            ),
            (format!("{client}/secret"), vec![]),
            (format!("{client}/delete"), vec![]),
            (
                "/admin/console/users".into(),
                vec![
                    ("username", "evil"),
                    ("password", "a long enough password"),
                    ("role", "admin"),
                ],
            ),
            (
                "/admin/console/users/mallory/role".into(),
                vec![("role", "admin")],
            ),
            ("/admin/console/users/root/disable".into(), vec![]),
            (
                "/admin/console/users/root/password".into(),
                vec![("password", "a long enough password")],
            ),
            ("/admin/console/users/root/factors".into(), vec![]),
            (
                "/admin/console/users/root".into(),
                vec![("claims", "{}"), ("groups", "")],
            ),
            ("/admin/console/keys".into(), vec![("action", "rotate")]),
            (
                "/admin/console/keys".into(),
                vec![("action", "revoke"), ("kid", &kid)],
            ),
            (
                "/admin/console/tokens".into(),
                vec![("action", "admin"), ("name", "evil")],
            ),
        ];
        for (path, fields) in &forms {
            for csrf in [token.as_str(), account.as_str()] {
                let mut form = fields.clone();
                form.push(("csrf", csrf));
                let resp = post(&app, &user, path, &form).await;
                assert_eq!(resp.status(), 403, "{path}");
            }
        }
        let c = app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .show(victim.id())
            .await
            .unwrap();
        assert_eq!(c.name, "Web app");
        assert!(!c.pkce.is_optional());
        let mallory = app
            .core
            .admin(Actor::CommandLine)
            .users()
            .show("mallory")
            .await
            .unwrap();
        assert_eq!(mallory.role, Role::User);
        assert!(app
            .core
            .admin(Actor::CommandLine)
            .users()
            .show("evil")
            .await
            .is_err());
        assert!(
            !app.core
                .admin(Actor::CommandLine)
                .users()
                .show("root")
                .await
                .unwrap()
                .disabled
        );
        assert!(app
            .core
            .admin(Actor::CommandLine)
            .tokens()
            .list_admin_tokens()
            .await
            .unwrap()
            .is_empty());
        let keys = app.core.signing_keys().list().await.unwrap();
        assert!(keys
            .iter()
            .all(|k| k.state.is_published() || k.kid.as_str() != kid));
        // The admin's own session still works: nothing was signed out.
        assert_eq!(get(&app, &admin, "/admin").await.0, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn console_forms_need_this_browsers_console_token() {
        let app = TestApp::spawn().await;
        let admin = signed_in_with_code(&app, "root", Role::Admin).await;
        let account = FormPage::read(&app, &admin, "/account/sessions")
            .await
            .csrf();
        let other = signed_in_with_code(&app, "root2", Role::Admin).await;
        let others = csrf(&app, &other).await;
        let fields = [
            ("name", "Made"),
            ("redirect_uris", REDIRECT),
            ("grant.authorization_code", "on"),
        ];
        for csrf in [
            None,
            Some("forged"),
            Some(account.as_str()),
            Some(others.as_str()),
        ] {
            let mut form = fields.to_vec();
            if let Some(c) = csrf {
                form.push(("csrf", c));
            }
            let resp = post(&app, &admin, "/admin/console/clients", &form).await;
            assert_eq!(resp.status(), 403, "{csrf:?}");
        }
        assert!(app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap()
            .is_empty());
        // A GET cannot change anything: the forms' paths answer 404/405
        // to it, never act.
        let resp = admin
            .get(app.url("/admin/console/users/root/disable"))
            .send()
            .await
            .unwrap();
        assert_ne!(resp.status(), 200);
        assert!(
            !app.core
                .admin(Actor::CommandLine)
                .users()
                .show("root")
                .await
                .unwrap()
                .disabled
        );
        // The right token works.
        let mut form = fields.to_vec();
        let token = csrf(&app, &admin).await;
        form.push(("csrf", &token));
        let resp = post(&app, &admin, "/admin/console/clients", &form).await;
        assert_eq!(resp.status(), 200);
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

    /// Every change an operator makes says who made it: the command line,
    /// a console user, or an admin API token, whichever acted; what a
    /// user or client does names no operator.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_operator_change_names_the_operator() {
        use latchkey_domain::{AuditEvent, AuditFilter};

        let app = TestApp::spawn().await;
        let admin = signed_in_with_code(&app, "root", Role::Admin).await;
        let token = csrf(&app, &admin).await;
        let api_token = app
            .core
            .admin(Actor::CommandLine)
            .tokens()
            .create_admin_token("deploy", None)
            .await
            .unwrap();
        let by_api = format!("api:{}", api_token.record.id);

        // Made at the command line, its secret rotated in the console,
        // deleted through the admin API.
        let web = app.web_client().await;
        let path = format!("/admin/console/clients/{}", web.id());
        let resp = post(&app, &admin, &format!("{path}/secret"), &[("csrf", &token)]).await;
        assert_eq!(resp.status(), 200);
        let resp = api()
            .delete(app.url(&format!("/admin/clients/{}", web.id())))
            .bearer_auth(&api_token.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        // A user and a registration token made and removed through the
        // API; the admin token and the signing keys from the console.
        let resp = api()
            .post(app.url("/admin/users"))
            .bearer_auth(&api_token.token)
            .json(&serde_json::json!({"username": "dora", "password": "a-long-password-9"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let made: serde_json::Value = api()
            .post(app.url("/admin/registration-tokens"))
            .bearer_auth(&api_token.token)
            .json(&serde_json::json!({"expires_in": 3600, "uses": 1}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let registration_id = made["id"].as_str().expect("a token id").to_owned();
        let resp = api()
            .delete(app.url(&format!("/admin/registration-tokens/{registration_id}")))
            .bearer_auth(&api_token.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        for form in [
            [("csrf", token.as_str()), ("action", "rotate"), ("id", "")],
            [
                ("csrf", token.as_str()),
                ("action", "revoke-admin"),
                ("id", api_token.record.id.as_str()),
            ],
        ] {
            let path = if form[1].1 == "rotate" {
                "/admin/console/keys"
            } else {
                "/admin/console/tokens"
            };
            let resp = post(&app, &admin, path, &form).await;
            assert_eq!(resp.status(), 303, "{form:?}");
        }
        // A user signing in is nobody's operator action.
        app.add_user("alice").await;
        let b = browser();
        let (_, challenge) = pkce();
        let other = app.web_client().await;
        sign_in(
            &app,
            &b,
            &authorize_url(&app, other.id(), &challenge, &[]),
            "alice",
        )
        .await;

        let events = app.store.recent(100).await.unwrap();
        let by = |kind: AuditEvent, client: &str| {
            let found: Vec<_> = events
                .iter()
                .filter(|r| r.kind == kind && r.client_id.as_deref() == Some(client))
                .map(|r| r.actor.clone())
                .collect();
            assert_eq!(found.len(), 1, "{kind:?}: {events:#?}");
            found[0].clone()
        };
        assert_eq!(
            by(AuditEvent::ClientRegistered, web.id()).as_deref(),
            Some("cli")
        );
        assert_eq!(
            by(AuditEvent::ClientSecretRotated, web.id()).as_deref(),
            Some("console:root")
        );
        assert_eq!(
            by(AuditEvent::ClientDeleted, web.id()).as_deref(),
            Some(by_api.as_str())
        );
        let actor_of = |kind: AuditEvent| {
            let found: Vec<_> = events.iter().filter(|r| r.kind == kind).collect();
            assert_eq!(found.len(), 1, "{kind:?}: {events:#?}");
            found[0].actor.clone().unwrap_or_default()
        };
        assert_eq!(actor_of(AuditEvent::AdminTokenCreated), "cli");
        let dora = events
            .iter()
            .find(|r| r.kind == AuditEvent::UserCreated && r.detail.starts_with("dora "))
            .expect("dora's creation is audited");
        assert_eq!(dora.actor.as_deref(), Some(by_api.as_str()));
        let alice = events
            .iter()
            .find(|r| r.kind == AuditEvent::UserCreated && r.detail.starts_with("alice "))
            .expect("alice's creation is audited");
        assert_eq!(alice.actor.as_deref(), Some("cli"));
        assert_eq!(actor_of(AuditEvent::RegistrationTokenCreated), by_api);
        assert_eq!(actor_of(AuditEvent::RegistrationTokenDeleted), by_api);
        assert_eq!(actor_of(AuditEvent::KeysRotated), "console:root");
        assert_eq!(actor_of(AuditEvent::AdminTokenDeleted), "console:root");
        let login = events
            .iter()
            .find(|r| r.kind == AuditEvent::Login)
            .expect("alice's sign-in is audited");
        assert_eq!(login.actor, None);

        // The console filters by operator and shows who acted.
        let (status, page) = get(
            &app,
            &admin,
            &format!("/admin/console/audit?actor={by_api}"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(page.contains("class=\"kind\">client_deleted<"), "{page}");
        assert!(
            page.contains(&format!("class=\"actor\">{by_api}<")),
            "{page}"
        );
        assert!(
            !page.contains("class=\"kind\">client_secret_rotated<"),
            "{page}"
        );
        let only_console = app
            .store
            .search(
                &AuditFilter {
                    actor: Some("console:root".into()),
                    ..AuditFilter::default()
                },
                100,
            )
            .await
            .unwrap();
        assert!(!only_console.is_empty());
        assert!(only_console
            .iter()
            .all(|r| r.actor.as_deref() == Some("console:root")));

        // The admin API searches the same log (the first token is revoked:
        // a second one reads it).
        let reader = app
            .core
            .admin(Actor::CommandLine)
            .tokens()
            .create_admin_token("siem", None)
            .await
            .unwrap()
            .token;
        let search = |query: String| {
            let (app, reader) = (&app, &reader);
            async move {
                let resp = api()
                    .get(app.url(&format!("/admin/audit-events{query}")))
                    .bearer_auth(reader)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                (status, resp.json::<serde_json::Value>().await.unwrap())
            }
        };
        let (status, found) = search(format!("?actor={by_api}")).await;
        assert_eq!(status, 200, "{found}");
        let mut kinds: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["actor"], by_api.as_str(), "{e}");
                e["kind"].as_str().unwrap()
            })
            .collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            [
                "client_deleted",
                "registration_token_created",
                "registration_token_deleted",
                "user_created"
            ]
        );
        let (status, found) = search("?user=alice&kind=login".to_owned()).await;
        assert_eq!(status, 200);
        let logins = found.as_array().unwrap();
        assert_eq!(logins.len(), 1, "{found}");
        assert!(logins[0].get("actor").is_none(), "{found}");
        let now = latchkey_domain::Clock::unix(&*app.clock);
        let (_, found) = search(format!("?kind=login&until={}", now - 3600)).await;
        assert_eq!(found, serde_json::json!([]));
        for wrong in [
            "?since=yesterday",
            "?kind=nonsense",
            "?user=nobody",
            "?users=alice",
            "?kind=login&kind=logout",
        ] {
            let (status, body) = search(wrong.to_owned()).await;
            assert_eq!(status, 400, "{wrong}: {body}");
            assert_eq!(body["error"], "invalid_request", "{wrong}");
        }
        let (status, body) = search(format!("?since={now}&until={}", now - 60)).await;
        assert_eq!(status, 400, "{body}");
        // Without an admin token: refused before anything is read.
        let resp = api()
            .get(app.url("/admin/audit-events"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let resp = api()
            .get(app.url("/admin/audit-events"))
            .bearer_auth(&api_token.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "a revoked admin token reads nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_users_keys_tokens_and_the_audit_log_through_the_console() {
        let app = TestApp::spawn().await;
        let admin = signed_in_with_code(&app, "root", Role::Admin).await;
        let token = csrf(&app, &admin).await;

        // A client: its secret shown once.
        let resp = post(
            &app,
            &admin,
            "/admin/console/clients",
            &[
                ("csrf", &token),
                ("name", "Payroll"),
                ("redirect_uris", REDIRECT),
                ("grant.authorization_code", "on"),
                ("grant.refresh_token", "on"),
                ("scope", "openid profile"),
                ("auth_method", "client_secret_basic"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 200);
        let page = resp.text().await.unwrap();
        let clients = app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap();
        assert_eq!(clients.len(), 1);
        let id = clients[0].id.to_string();
        let secret = crate::mfa::marked(&page, "id=\"secret\"").remove(0);
        assert!(secret.len() >= 32, "{page}");
        assert!(secret_works(&app, &id, &secret, false).await);
        let path = format!("/admin/console/clients/{id}");
        let (status, view) = get(&app, &admin, &path).await;
        assert_eq!(status, 200);
        assert!(!view.contains(&secret), "the secret is not shown again");
        assert!(!view.contains("class=\"warning\""), "{view}");

        // Bad input: a clear message, nothing saved.
        let resp = post(
            &app,
            &admin,
            &path,
            &[
                ("csrf", &token),
                ("name", "Payroll"),
                ("redirect_uris", "not a uri"),
                ("grant.authorization_code", "on"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("role=\"alert\""));
        let resp = post(
            &app,
            &admin,
            &path,
            &[
                ("csrf", &token),
                ("name", "Payroll"),
                ("redirect_uris", REDIRECT),
                ("grant.authorization_code", "on"),
                ("id_token_alg", "HS256"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400);

        // An opt-out: saved, audited, and shown as a warning.
        let resp = post(
            &app,
            &admin,
            &path,
            &[
                ("csrf", &token),
                ("name", "Payroll 2"),
                ("redirect_uris", REDIRECT),
                ("grant.authorization_code", "on"),
                ("scope", "openid profile"),
                ("auth_method", "client_secret_post"),
                ("pkce", "optional"),
                ("require_mfa", "on"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), format!("{path}?done=saved"));
        let c = app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .show(&id)
            .await
            .unwrap();
        assert_eq!(c.name, "Payroll 2");
        assert!(c.pkce.is_optional() && c.require_mfa);

        // CORS origins: an origin is exact (no path), and once saved the
        // browser app's preflight to /token is answered at once.
        let spa = "https://spa.example.com";
        let preflight = || async {
            api()
                .request(reqwest::Method::OPTIONS, app.url("/token"))
                .header("origin", spa)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap()
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(preflight().await, None);
        let edit = |origins: &'static str| {
            vec![
                ("csrf", token.as_str()),
                ("name", "Payroll 2"),
                ("redirect_uris", REDIRECT),
                ("grant.authorization_code", "on"),
                ("scope", "openid profile"),
                ("auth_method", "client_secret_post"),
                ("pkce", "optional"),
                ("require_mfa", "on"),
                ("cors_origins", origins),
            ]
        };
        let resp = post(&app, &admin, &path, &edit("https://spa.example.com/app")).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(preflight().await, None);
        let resp = post(&app, &admin, &path, &edit("https://spa.example.com\n")).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(preflight().await.as_deref(), Some(spa));
        let (_, view) = get(&app, &admin, &path).await;
        assert!(view.contains(spa), "{view}");
        let resp = post(&app, &admin, &path, &edit("")).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(
            preflight().await,
            None,
            "a removed origin is refused at once"
        );
        assert_eq!(c.auth_method.as_str(), "client_secret_post");
        assert!(!c.allows_grant(latchkey_domain::GrantType::RefreshToken));
        let (_, view) = get(&app, &admin, &path).await;
        assert!(view.contains("class=\"warning\""), "{view}");
        assert!(view.contains("pkce=optional"), "{view}");

        // Rotation: a new secret, shown once.
        let resp = post(&app, &admin, &format!("{path}/secret"), &[("csrf", &token)]).await;
        assert_eq!(resp.status(), 200);
        let rotated = crate::mfa::marked(&resp.text().await.unwrap(), "id=\"secret\"").remove(0);
        assert_ne!(rotated, secret);
        assert!(secret_works(&app, &id, &rotated, true).await);
        assert!(!secret_works(&app, &id, "not the secret", true).await);

        // The audit log, filtered to this client.
        let (status, audit) = get(&app, &admin, &format!("/admin/console/audit?client={id}")).await;
        assert_eq!(status, 200);
        for kind in [
            "client_registered",
            "client_updated",
            "client_compat_changed",
            "client_secret_rotated",
        ] {
            assert!(
                audit.contains(&format!("class=\"kind\">{kind}<")),
                "{kind}: {audit}"
            );
        }
        assert!(!audit.contains("class=\"kind\">login<"), "{audit}");
        // A time range (UTC, to the minute) around now finds them; one
        // that ends before, or starts after, does not.
        let now = latchkey_domain::Clock::unix(&*app.clock);
        let minute = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        };
        let (from, to) = (minute(now - 120), minute(now + 120));
        let rotated_in = |page: &str| page.contains("class=\"kind\">client_secret_rotated<");
        let (_, page) = get(
            &app,
            &admin,
            &format!("/admin/console/audit?client={id}&since={from}&until={to}"),
        )
        .await;
        assert!(rotated_in(&page), "{page}");
        let (_, page) = get(
            &app,
            &admin,
            &format!("/admin/console/audit?client={id}&until={from}"),
        )
        .await;
        assert!(!rotated_in(&page) && page.contains("No events"), "{page}");
        let (_, page) = get(
            &app,
            &admin,
            &format!("/admin/console/audit?client={id}&since={to}"),
        )
        .await;
        assert!(!rotated_in(&page), "{page}");
        let (status, _) = get(
            &app,
            &admin,
            &format!("/admin/console/audit?since={to}&until={from}"),
        )
        .await;
        assert_eq!(status, 400, "a range that ends before it starts");
        let (status, audit) = get(&app, &admin, "/admin/console/audit?since=yesterday").await;
        assert_eq!(status, 400, "{audit}");
        let (status, _) = get(&app, &admin, "/admin/console/audit?kind=nonsense").await;
        assert_eq!(status, 400);
        let (status, _) = get(&app, &admin, "/admin/console/audit?user=nobody").await;
        assert_eq!(status, 400);

        // Deleted.
        let resp = post(&app, &admin, &format!("{path}/delete"), &[("csrf", &token)]).await;
        assert_eq!(resp.status(), 303);
        assert!(app
            .core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .unwrap()
            .is_empty());
        assert_eq!(get(&app, &admin, &path).await.0, 404);

        // A user: created, edited, disabled.
        let resp = post(
            &app,
            &admin,
            "/admin/console/users",
            &[("csrf", &token), ("username", "bob"), ("password", "short")],
        )
        .await;
        assert_eq!(resp.status(), 400);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users",
            &[
                ("csrf", &token),
                ("username", "bob"),
                ("password", PASSWORD),
                ("name", "Bob"),
                ("groups", "staff, ops"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let bob = app
            .core
            .admin(Actor::CommandLine)
            .users()
            .show("bob")
            .await
            .unwrap();
        assert_eq!(bob.groups.names().collect::<Vec<_>>(), ["staff", "ops"]);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob",
            &[
                ("csrf", &token),
                ("claims", "{\"email\": \"not an address\"}"),
                ("groups", ""),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob",
            &[("csrf", &token), ("claims", "[1]"), ("groups", "")],
        )
        .await;
        assert_eq!(resp.status(), 400);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob",
            &[
                ("csrf", &token),
                ("claims", "{\"email\": \"bob@example.com\"}"),
                ("groups", "staff"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let bob = app
            .core
            .admin(Actor::CommandLine)
            .users()
            .show("bob")
            .await
            .unwrap();
        assert!(bob.claims.name.is_none(), "a claim left out is cleared");
        assert_eq!(
            bob.claims.email.as_ref().unwrap().as_str(),
            "bob@example.com"
        );
        let (_, view) = get(&app, &admin, "/admin/console/users/root").await;
        assert!(
            view.contains("authenticator app, 10 unused recovery codes"),
            "{view}"
        );
        assert!(!view.contains("class=\"warning\""), "{view}");
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/role",
            &[("csrf", &token), ("role", "admin")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let (_, view) = get(&app, &admin, "/admin/console/users/bob").await;
        assert!(view.contains("<td>none</td>"), "no factor: {view}");
        assert!(view.contains("this admin has no second factor"), "{view}");
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/role",
            &[("csrf", &token), ("role", "user")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(
            app.core
                .admin(Actor::CommandLine)
                .users()
                .show("bob")
                .await
                .unwrap()
                .role,
            Role::User
        );
        let b = browser();
        account_sign_in(&app, &b, "bob").await;
        let (_, view) = get(&app, &admin, "/admin/console/users/bob").await;
        let session = hidden(&view, "session");
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/end-session",
            &[("csrf", &token), ("session", &session)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert_eq!(
            b.get(app.url("/account/sessions"))
                .send()
                .await
                .unwrap()
                .status(),
            303
        );
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/end-session",
            &[("csrf", &token), ("session", &session)],
        )
        .await;
        assert_eq!(resp.status(), 404);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/disable",
            &[("csrf", &token)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert!(
            app.core
                .admin(Actor::CommandLine)
                .users()
                .show("bob")
                .await
                .unwrap()
                .disabled
        );
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/bob/role",
            &[("csrf", &token), ("role", "root")],
        )
        .await;
        assert_eq!(resp.status(), 400);
        let resp = post(
            &app,
            &admin,
            "/admin/console/users/nobody/disable",
            &[("csrf", &token)],
        )
        .await;
        assert_eq!(resp.status(), 404);
        let (status, audit) = get(
            &app,
            &admin,
            "/admin/console/audit?user=bob&kind=user_disabled",
        )
        .await;
        assert_eq!(status, 200);
        assert!(audit.contains("class=\"kind\">user_disabled<"), "{audit}");
        assert!(
            !audit.contains("class=\"kind\">user_claims_changed<"),
            "{audit}"
        );

        // Keys: a rotation, then the emergency revocation of the signer.
        let resp = post(
            &app,
            &admin,
            "/admin/console/keys",
            &[("csrf", &token), ("action", "rotate")],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let keys = app.core.signing_keys().list().await.unwrap();
        let current = keys
            .iter()
            .find(|k| k.state == latchkey_domain::keys::KeyState::Current)
            .unwrap()
            .kid
            .to_string();
        let resp = post(
            &app,
            &admin,
            "/admin/console/keys",
            &[("csrf", &token), ("action", "revoke"), ("kid", &current)],
        )
        .await;
        assert_eq!(resp.status(), 303);
        let (_, page) = get(&app, &admin, "/admin/console/keys").await;
        assert!(page.contains("revoked"), "{page}");
        let resp = post(
            &app,
            &admin,
            "/admin/console/keys",
            &[("csrf", &token), ("action", "revoke"), ("kid", &current)],
        )
        .await;
        assert_eq!(resp.status(), 400);

        // Tokens: issued once, listed, revoked.
        let resp = post(
            &app,
            &admin,
            "/admin/console/tokens",
            &[
                ("csrf", &token),
                ("action", "admin"),
                ("name", "ci"),
                ("days", "30"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 200);
        let value = crate::mfa::marked(&resp.text().await.unwrap(), "id=\"secret\"").remove(0);
        assert!(value.starts_with("lka_"), "{value}");
        let listed = app
            .core
            .admin(Actor::CommandLine)
            .tokens()
            .list_admin_tokens()
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        let resp = post(
            &app,
            &admin,
            "/admin/console/tokens",
            &[
                ("csrf", &token),
                ("action", "registration"),
                ("days", "many"),
            ],
        )
        .await;
        assert_eq!(resp.status(), 400);
        let resp = post(
            &app,
            &admin,
            "/admin/console/tokens",
            &[
                ("csrf", &token),
                ("action", "revoke-admin"),
                ("id", &listed[0].id),
            ],
        )
        .await;
        assert_eq!(resp.status(), 303);
        assert!(app
            .core
            .admin(Actor::CommandLine)
            .tokens()
            .list_admin_tokens()
            .await
            .unwrap()
            .is_empty());
    }
}
