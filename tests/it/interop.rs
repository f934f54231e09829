//! Relying parties no one here wrote: each library in `tests/interop/`
//! signs a user in against a real `latchkey serve` in its own default
//! configuration, validates the ID token, calls userinfo, refreshes, and
//! logs out (RP-initiated, with `id_token_hint`). The libraries come from
//! the registries (`.ci/run` installs them); outside CI a missing one skips
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

/// A server with user `alice` and one confidential client made with
/// `extra` flags; returns the server and the client's `client show --json`.
async fn server_with_client(extra: &[&str]) -> (Served, Value) {
    let mut s = Served::new();
    s.cli(&["user", "add", "alice", "--password-stdin"], PASSWORD);
    let mut args = vec![
        "client",
        "add",
        "--name",
        "Interop",
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
        "--json",
    ];
    args.extend_from_slice(extra);
    let client: Value = serde_json::from_str(&s.cli(&args, "")).unwrap();
    s.start().await;
    (s, client)
}

/// One relying party's process, told where Latchkey is and who to be.
fn rp(s: &Served, client: &Value, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("CLIENT_ID", client["client_id"].as_str().unwrap())
        .env("CLIENT_SECRET", client["client_secret"].as_str().unwrap())
        .env("REDIRECT_URI", REDIRECT)
        .env("POST_LOGOUT_REDIRECT_URI", BYE)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD);
    c
}

/// Runs one relying party; returns the JSON line it printed.
fn run_rp(s: &Served, client: &Value, program: &str, args: &[&str]) -> Value {
    let out = rp(s, client, program, args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{program} printed no JSON ({e}): {stdout}"))
}

/// What every relying party must have seen.
fn check_report(report: &Value, issuer: &str) {
    let sub = report["sub"].as_str().expect("an ID token subject");
    assert_eq!(report["iss"], issuer);
    assert_eq!(report["userinfo_sub"], sub, "{report}");
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
}

/// The profile page in a real browser, JavaScript off: headless Chromium
/// signs in at the sign-in page, follows the account pages' link to
/// `/account/profile`, changes the name and saves; the page shows the new
/// name with its notice, and the user has it. A failure leaves a
/// screenshot in `target/browser-screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_edits_the_profile() {
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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg("node/browser_profile.mjs")
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD)
        .env("NEW_NAME", "Alice Liddell")
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
    assert_eq!(report["before"], "Alice", "{report}");
    assert_eq!(report["name"], "Alice Liddell", "{report}");
    assert_eq!(report["notice"], "Your profile was saved.", "{report}");
    assert_eq!(report["csp_errors"], serde_json::json!([]), "{report}");
    let shown: Value =
        serde_json::from_str(&s.cli(&["user", "show", "alice", "--json"], "")).unwrap();
    assert_eq!(shown["name"], "Alice Liddell");
}
