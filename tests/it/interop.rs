//! Relying parties no one here wrote: each library in `tests/interop/`
//! signs a user in against a real `latchkey serve` in the configuration
//! docs/interop.md gives for it, validates the ID token, calls userinfo,
//! and, where the library does those, refreshes and logs out
//! (RP-initiated, with `id_token_hint`). The libraries come from the
//! registries (`.ci/run` installs them); outside CI a missing one skips
//! its test with a note, under `CI=true` it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::api;

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// Whether a library can run here; `false` skips (never under CI).
fn available(what: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").ok().as_deref() == Some("true") {
            panic!("{what} is required in CI (installed by .ci/run)");
        }
        eprintln!("skipping: {what} is not installed (see tests/interop/README.md)");
    }
    ok
}

/// `latchkey serve` on SQLite in a temporary directory, killed (by PID)
/// when dropped.
struct Served {
    dir: tempfile::TempDir,
    issuer: String,
    child: Option<Child>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Served {
    fn new() -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Served {
            dir: tempfile::tempdir().unwrap(),
            issuer: format!("http://127.0.0.1:{port}"),
            child: None,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        c.current_dir(self.dir.path())
            .env("LATCHKEY_ISSUER", &self.issuer)
            .env("LATCHKEY_BIND", self.issuer.trim_start_matches("http://"))
            .env("LATCHKEY_WORKERS", "1");
        c
    }

    /// Runs a command line; returns stdout.
    fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    async fn start(&mut self) {
        let child = self
            .command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = api().get(format!("{}/readyz", self.issuer)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("latchkey serve did not become ready");
    }
}

/// `alice` as every relying party sees her.
const NAME: &str = "Alice Liddell";
const EMAIL: &str = "alice@example.com";

/// A server with user `alice` (a name and a verified e-mail address) and
/// one client made with `latchkey client add --name Interop --json` and
/// `args`; returns the server and the client's JSON.
async fn server_with(args: &[&str]) -> (Served, Value) {
    let mut s = Served::new();
    s.cli(
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--name",
            NAME,
            "--email",
            EMAIL,
            "--email-verified",
        ],
        PASSWORD,
    );
    let mut all = vec!["client", "add", "--name", "Interop", "--json"];
    all.extend_from_slice(args);
    let client: Value = serde_json::from_str(&s.cli(&all, "")).unwrap();
    s.start().await;
    (s, client)
}

/// A server with user `alice` and one confidential client that may
/// refresh and log out, made with `extra` flags.
async fn server_with_client(extra: &[&str]) -> (Served, Value) {
    let mut args = vec![
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        BYE,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "openid profile email offline_access",
    ];
    args.extend_from_slice(extra);
    server_with(&args).await
}

/// A loopback port nothing listens on, for a relying party that serves
/// its own callback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One relying party's process, told where Latchkey is and who to be;
/// its redirect URI is the client's first.
fn rp(s: &Served, client: &Value, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("CLIENT_ID", client["client_id"].as_str().unwrap())
        .env("CLIENT_SECRET", client["client_secret"].as_str().unwrap())
        .env("REDIRECT_URI", client["redirect_uris"][0].as_str().unwrap())
        .env("POST_LOGOUT_REDIRECT_URI", BYE)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD);
    c
}

/// Runs one relying party; returns the JSON line it printed.
fn run_rp(s: &Served, client: &Value, program: &str, args: &[&str]) -> Value {
    report_of(&mut rp(s, client, program, args))
}

/// Runs a relying party's command; returns the JSON line it printed.
fn report_of(command: &mut Command) -> Value {
    let what = format!(
        "{} {:?}",
        command.get_program().to_string_lossy(),
        command.get_args().collect::<Vec<_>>()
    );
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {stdout}"))
}

/// What every relying party must have seen.
fn check_report(report: &Value, issuer: &str) {
    let sub = report["sub"].as_str().expect("an ID token subject");
    assert_eq!(report["iss"], issuer);
    assert_eq!(report["userinfo_sub"], sub, "{report}");
    assert_eq!(report["userinfo_email"], EMAIL, "{report}");
    assert_eq!(report["refreshed"], true);
    assert_eq!(report["logged_out"], true);
    assert_eq!(
        report["after_logout"], "login_required",
        "the logout must end the session: {report}"
    );
}

/// Node openid-client (PKCE S256, state, nonce); it authenticates with
/// `client_secret_post` when given a secret, so the client is registered
/// that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_openid_client_signs_in_refreshes_and_logs_out() {
    let node = interop_dir().join("node/node_modules/openid-client");
    if !available(
        "node with tests/interop/node installed (npm ci)",
        Command::new("node").arg("-e").arg(format!(
            "require('fs').accessSync({:?})",
            node.display().to_string()
        )),
    ) {
        return;
    }
    let (s, client) = server_with_client(&["--auth-method", "client_secret_post"]).await;
    let report = run_rp(&s, &client, "node", &["node/rp.mjs"]);
    assert_eq!(report["library"], "openid-client");
    check_report(&report, &s.issuer);
}

/// Python Authlib as Flask and Django apps use it: a confidential client
/// with state and nonce and no PKCE, which needs the client's explicit
/// `--pkce optional`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_authlib_signs_in_refreshes_and_logs_out() {
    if !available(
        "python3 with tests/interop/python/requirements.txt installed",
        Command::new("python3").args(["-c", "import authlib, requests"]),
    ) {
        return;
    }
    let (s, client) = server_with_client(&["--pkce", "optional"]).await;
    let report = run_rp(&s, &client, "python3", &["-W", "ignore", "python/rp.py"]);
    assert_eq!(report["library"], "authlib");
    check_report(&report, &s.issuer);
}

/// Authlib with PKCE turned on (`code_challenge_method="S256"`, as
/// docs/interop.md configures it) needs no opt-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_authlib_with_pkce_needs_no_opt_out() {
    if !available(
        "python3 with tests/interop/python/requirements.txt installed",
        Command::new("python3").args(["-c", "import authlib, requests"]),
    ) {
        return;
    }
    let (s, client) = server_with_client(&[]).await;
    let report = report_of(
        rp(&s, &client, "python3", &["-W", "ignore", "python/rp.py"])
            .env("CODE_CHALLENGE_METHOD", "S256"),
    );
    assert_eq!(report["library"], "authlib");
    assert_eq!(report["pkce"], "S256");
    check_report(&report, &s.issuer);
}

/// The same Authlib client without the opt-out is refused at the
/// authorization request: strict stays the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_authlib_without_the_opt_out_is_refused() {
    if !available(
        "python3 with tests/interop/python/requirements.txt installed",
        Command::new("python3").args(["-c", "import authlib, requests"]),
    ) {
        return;
    }
    let (s, client) = server_with_client(&[]).await;
    let out = rp(&s, &client, "python3", &["-W", "ignore", "python/rp.py"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("code_challenge is required"), "{err}");
}

/// Auth.js (`@auth/core`) with its generic OIDC provider, served by
/// `tests/interop/node/authjs.mjs`; whether it is installed.
fn authjs_available() -> bool {
    let authjs = interop_dir().join("node/node_modules/@auth/core");
    available(
        "node with tests/interop/node installed (npm ci)",
        Command::new("node").arg("-e").arg(format!(
            "require('fs').accessSync({:?})",
            authjs.display().to_string()
        )),
    )
}

/// A server with the client docs/interop.md gives for Auth.js: Latchkey's
/// defaults (`client_secret_basic`, which Auth.js uses; `openid profile
/// email`, the scope it asks for; PKCE and nonce required) and its
/// callback at Auth.js's default route.
async fn authjs_server() -> (Served, Value) {
    let redirect = format!("http://127.0.0.1:{}/auth/callback/latchkey", free_port());
    server_with(&["--redirect-uri", &redirect]).await
}

/// Auth.js with `checks: ["pkce", "state", "nonce"]` signs in through the
/// pages, takes the profile from UserInfo (`idToken: false`), establishes
/// a session whose user carries `alice`'s name and e-mail, and signs out
/// of its own session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_authjs_signs_in_with_state_and_nonce_checks() {
    if !authjs_available() {
        return;
    }
    let (s, client) = authjs_server().await;
    let report = report_of(
        rp(&s, &client, "node", &["node/authjs.mjs"]).env("AUTHJS_CHECKS", "pkce,state,nonce"),
    );
    assert_eq!(report["library"], "authjs");
    let sent = &report["sent"];
    assert_eq!(sent["state"], true, "{report}");
    assert_eq!(sent["nonce"], true, "{report}");
    assert_eq!(sent["code_challenge_method"], "S256", "{report}");
    assert_eq!(sent["scope"], "openid profile email", "{report}");
    assert_eq!(report["session_user"]["name"], NAME, "{report}");
    assert_eq!(report["session_user"]["email"], EMAIL, "{report}");
    assert_eq!(report["session_after_sign_out"], Value::Null, "{report}");
}

/// Auth.js's default `checks` are `["pkce"]`: no `state`, which Latchkey
/// requires of every request and no client setting relaxes, so the
/// request is refused back to Auth.js and no one is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_authjs_default_checks_are_refused() {
    if !authjs_available() {
        return;
    }
    let (s, client) = authjs_server().await;
    let out = rp(&s, &client, "node", &["node/authjs.mjs"])
        .env("AUTHJS_CHECKS", "default")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_request: state is required"), "{err}");
}

/// One authorization request of a product docs/interop.md configures but
/// CI cannot run (its registry is out of reach): the client the page
/// registers for it, and the parameters the product's source sends besides
/// `response_type`, `client_id` and `redirect_uri` (`pkce` stands for a
/// S256 challenge).
struct ProductRequest {
    product: &'static str,
    client: &'static [&'static str],
    params: &'static [(&'static str, &'static str)],
    /// `None`: accepted (the browser goes on to the sign-in page);
    /// otherwise the error description it is refused with.
    refused: Option<&'static str>,
}

const PRODUCT_REQUESTS: &[ProductRequest] = &[
    ProductRequest {
        product: "oauth2-proxy, insecure_oidc_skip_nonce = false, code_challenge_method = S256",
        client: &[
            "--redirect-uri",
            "https://app.example/oauth2/callback",
            "--post-logout-redirect-uri",
            "https://app.example/",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid email profile groups",
        ],
        params: &[
            ("scope", "openid email profile groups"),
            ("state", "s"),
            ("nonce", "n"),
            ("pkce", ""),
            ("approval_prompt", "force"),
        ],
        refused: None,
    },
    ProductRequest {
        product: "oauth2-proxy's defaults (no nonce, no PKCE)",
        client: &[
            "--redirect-uri",
            "https://app.example/oauth2/callback",
            "--scope",
            "openid email profile groups",
        ],
        params: &[
            ("scope", "openid email profile"),
            ("state", "s"),
            ("approval_prompt", "force"),
        ],
        refused: Some("nonce is required"),
    },
    ProductRequest {
        product: "Grafana, use_pkce = true (never a nonce)",
        client: &[
            "--redirect-uri",
            "https://grafana.example/login/generic_oauth",
            "--post-logout-redirect-uri",
            "https://grafana.example/login",
            "--scope",
            "openid profile email groups",
            "--nonce",
            "optional",
        ],
        params: &[
            ("scope", "openid profile email groups"),
            ("state", "c3RhdGUgb2YgdGhpcnR5LXR3byBieXRlcyBsb25nLg=="),
            ("pkce", ""),
        ],
        refused: None,
    },
    ProductRequest {
        product: "Nextcloud user_oidc (with its claims parameter)",
        client: &[
            "--redirect-uri",
            "https://cloud.example/index.php/apps/user_oidc/code",
            "--post-logout-redirect-uri",
            "https://cloud.example/",
            "--backchannel-logout-uri",
            "https://cloud.example/index.php/apps/user_oidc/backchannel-logout/latchkey",
            "--scope",
            "openid email profile groups",
            "--auth-method",
            "client_secret_post",
        ],
        params: &[
            ("scope", "openid email profile groups"),
            ("state", "S"),
            ("nonce", "N"),
            ("pkce", ""),
            (
                "claims",
                r#"{"id_token":{"email":null,"name":null,"quota":null,"groups":null},"userinfo":{"email":null,"name":null,"quota":null,"groups":null}}"#,
            ),
        ],
        refused: None,
    },
    ProductRequest {
        product: "Spring Security with scope openid,profile,email and the PKCE customizer",
        client: &[
            "--redirect-uri",
            "https://app.example/login/oauth2/code/latchkey",
            "--post-logout-redirect-uri",
            "https://app.example/",
        ],
        params: &[
            ("scope", "openid profile email"),
            ("state", "s"),
            ("nonce", "n"),
            ("pkce", ""),
        ],
        refused: None,
    },
    ProductRequest {
        product: "Spring Security without scope (every scope discovery lists)",
        client: &[
            "--redirect-uri",
            "https://app.example/login/oauth2/code/latchkey",
        ],
        params: &[
            (
                "scope",
                "openid profile email address phone groups offline_access sessions",
            ),
            ("state", "s"),
            ("nonce", "n"),
            ("pkce", ""),
        ],
        refused: Some("scope not allowed for this client"),
    },
    ProductRequest {
        product: "ASP.NET Core, ResponseType = code (form_post, telemetry)",
        client: &[
            "--redirect-uri",
            "https://app.example/signin-oidc",
            "--post-logout-redirect-uri",
            "https://app.example/signout-callback-oidc",
            "--scope",
            "openid profile email groups",
            "--auth-method",
            "client_secret_post",
        ],
        params: &[
            ("scope", "openid profile email groups"),
            ("response_mode", "form_post"),
            ("state", "s"),
            ("nonce", "n"),
            ("pkce", ""),
            ("x-client-SKU", "ID_NET9_0"),
            ("x-client-ver", "8.0.1.0"),
        ],
        refused: None,
    },
    ProductRequest {
        product: "ASP.NET Core's default ResponseType (id_token)",
        client: &["--redirect-uri", "https://app.example/signin-oidc"],
        params: &[
            ("scope", "openid profile"),
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("state", "s"),
            ("nonce", "n"),
        ],
        refused: Some("only response_type=code is supported"),
    },
];

/// The authorization requests of the products docs/interop.md configures
/// but CI cannot run, as their sources build them, against the clients
/// the page registers: each configuration the page gives is accepted, and
/// each default the page warns about is refused for the reason it gives.
/// (Their token requests, claims and logout are not exercised here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_products_authorization_requests() {
    let mut s = Served::new();
    let clients: Vec<Value> = PRODUCT_REQUESTS
        .iter()
        .map(|r| {
            let mut args = vec!["client", "add", "--name", r.product, "--json"];
            args.extend_from_slice(r.client);
            serde_json::from_str(&s.cli(&args, "")).unwrap()
        })
        .collect();
    s.start().await;
    let (_, challenge) = crate::support::pkce();
    for (r, client) in PRODUCT_REQUESTS.iter().zip(&clients) {
        let redirect = client["redirect_uris"][0].as_str().unwrap();
        let mut url = url::Url::parse(&format!("{}/authorize", s.issuer)).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", client["client_id"].as_str().unwrap())
                .append_pair("redirect_uri", redirect);
            if !r.params.iter().any(|(k, _)| *k == "response_type") {
                q.append_pair("response_type", "code");
            }
            for (k, v) in r.params {
                if *k == "pkce" {
                    q.append_pair("code_challenge", &challenge)
                        .append_pair("code_challenge_method", "S256");
                } else {
                    q.append_pair(k, v);
                }
            }
        }
        let resp = api().get(url).send().await.unwrap();
        let body_or_location = match resp.headers().get("location") {
            Some(l) => l.to_str().unwrap().to_owned(),
            None => resp.text().await.unwrap(),
        };
        match r.refused {
            None => assert!(
                body_or_location.starts_with("/login"),
                "{}: refused: {body_or_location}",
                r.product
            ),
            Some(reason) => assert!(
                !body_or_location.starts_with("/login")
                    && (body_or_location.contains(reason)
                        || body_or_location.contains(&reason.replace(' ', "+"))),
                "{}: expected refusal ({reason}): {body_or_location}",
                r.product
            ),
        }
    }
}

/// The pages in a real browser: headless Chromium (Debian's `chromium`,
/// installed by `.ci/run`) signs in and consents for a
/// `response_mode=form_post` request, and the form_post page, under its
/// CSP, posts the code to the client by itself. A failure leaves a
/// screenshot in `target/browser-screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_completes_a_form_post_sign_in() {
    let chromium = std::env::var("LATCHKEY_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let driver = interop_dir().join("node/node_modules/playwright-core");
    if !available(
        "chromium and playwright-core (tests/interop/node)",
        Command::new("node").arg("-e").arg(format!(
            "require('fs').accessSync({:?}); require('fs').accessSync({:?})",
            driver.display().to_string(),
            chromium
        )),
    ) {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let mut s = Served::new();
    s.cli(&["user", "add", "alice", "--password-stdin"], PASSWORD);
    let client: Value = serde_json::from_str(&s.cli(
        &[
            "client",
            "add",
            "--name",
            "Browser",
            "--redirect-uri",
            &redirect,
            "--json",
        ],
        "",
    ))
    .unwrap();
    s.start().await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg("node/browser_form_post.mjs")
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("CLIENT_ID", client["client_id"].as_str().unwrap())
        .env("CLIENT_SECRET", client["client_secret"].as_str().unwrap())
        .env("REDIRECT_PORT", port.to_string())
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed (screenshot in {}):\n{stdout}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}"));
    assert_eq!(report["code"], true, "{report}");
    assert_eq!(report["state_matches"], true, "{report}");
    assert_eq!(report["iss"], s.issuer.as_str(), "{report}");
    assert_eq!(report["csp_errors"], serde_json::json!([]), "{report}");
    // openid-client redeemed the code and validated the ID token; the
    // browser sent the POST with `Origin: null` (the page's no-referrer
    // policy), which a relying party must not refuse.
    assert!(
        report["sub"].as_str().is_some_and(|s| !s.is_empty()),
        "{report}"
    );
    assert_eq!(report["origin"], "null", "{report}");
}

/// Latchkey served with user alice, and the browser tests' driver: `None`
/// (the test is skipped, saying why) without Chromium and playwright-core.
async fn served_for_chromium() -> Option<(Served, String)> {
    let chromium = std::env::var("LATCHKEY_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let driver = interop_dir().join("node/node_modules/playwright-core");
    if !available(
        "chromium and playwright-core (tests/interop/node)",
        Command::new("node").arg("-e").arg(format!(
            "require('fs').accessSync({:?}); require('fs').accessSync({:?})",
            driver.display().to_string(),
            chromium
        )),
    ) {
        return None;
    }
    let mut s = Served::new();
    s.cli(
        &[
            "user",
            "add",
            "alice",
            "--name",
            "Alice",
            "--password-stdin",
        ],
        PASSWORD,
    );
    s.start().await;
    Some((s, chromium))
}

/// Runs `node/<script>` against `s` as alice, with `env` besides; returns
/// the JSON line it printed last. A failure leaves a screenshot in
/// `target/browser-screenshots/`.
fn run_browser_script(s: &Served, chromium: &str, script: &str, env: &[(&str, &str)]) -> Value {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(format!("node/{script}"))
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD)
        .env("CHROMIUM", chromium)
        .env("SCREENSHOT_DIR", &shots)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed (screenshot in {}):\n{stdout}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}"))
}

/// The profile page in a real browser, JavaScript off: headless Chromium
/// signs in at the sign-in page, follows the account pages' link to
/// `/account/profile`, changes the name and saves; the page shows the new
/// name with its notice, and the user has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_edits_the_profile() {
    let Some((s, chromium)) = served_for_chromium().await else {
        return;
    };
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_profile.mjs",
        &[("NEW_NAME", "Alice Liddell")],
    );
    assert_eq!(report["before"], "Alice", "{report}");
    assert_eq!(report["name"], "Alice Liddell", "{report}");
    assert_eq!(report["notice"], "Your profile was saved.", "{report}");
    assert_eq!(report["csp_errors"], serde_json::json!([]), "{report}");
    let shown: Value =
        serde_json::from_str(&s.cli(&["user", "show", "alice", "--json"], "")).unwrap();
    assert_eq!(shown["name"], "Alice Liddell");
}

/// The sessions page in a real browser, JavaScript off: alice signs in
/// from two browser contexts; the second's page lists both sessions with
/// "This device" on its own, and "Sign out everywhere else" leaves only
/// that one and signs the first out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_out_everywhere_else() {
    let Some((s, chromium)) = served_for_chromium().await else {
        return;
    };
    let report = run_browser_script(&s, &chromium, "browser_sessions.mjs", &[]);
    assert_eq!(report["before"], 2, "{report}");
    assert_eq!(report["this_device"], 1, "{report}");
    assert!(
        report["device"]
            .as_str()
            .is_some_and(|d| d.starts_with("Chrome on ")),
        "{report}"
    );
    assert_eq!(
        report["times"], 4,
        "signed in and last used, twice: {report}"
    );
    assert_eq!(report["after"], 1, "{report}");
    assert_eq!(report["current_after"], 1, "{report}");
    assert_eq!(
        report["notice"], "Your other sessions were signed out.",
        "{report}"
    );
    assert_eq!(report["other_url"], "/login", "{report}");
    assert_eq!(report["csp_errors"], serde_json::json!([]), "{report}");
}
