//! Relying parties no one here wrote: each library in `tests/interop/`
//! signs a user in against a real `latchkey serve` in the configuration
//! docs/interop.md gives for it, validates the ID token, calls userinfo,
//! and, where the library does those, refreshes and logs out
//! (RP-initiated, with `id_token_hint`). The libraries come from the
//! registries (`.ci/run` installs them); outside CI a missing one skips
//! its test with a note, under `CI=true` it fails.
//!
//! The browser tests at the end drive Latchkey's pages in headless
//! Chromium (tests/interop/README.md says what each covers), checking
//! each page's accessibility on the way. Every server here runs on
//! SQLite, or with `LATCHKEY_TEST_DATABASE=postgres` on a fresh Postgres
//! database of its own.

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

/// `latchkey serve` on SQLite in a temporary directory (or, with
/// `LATCHKEY_TEST_DATABASE=postgres`, on a Postgres database of its own),
/// killed (by PID) when dropped.
struct Served {
    dir: tempfile::TempDir,
    issuer: String,
    child: Option<Child>,
    /// Dropped after the server is killed (fields drop after `drop`).
    postgres: Option<FreshDatabase>,
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
        Self::on_host("127.0.0.1")
    }

    /// A server whose issuer is `http://localhost:PORT` (listening on
    /// 127.0.0.1): a secure context with a domain name, so passkeys work.
    fn on_localhost() -> Served {
        Self::on_host("localhost")
    }

    fn on_host(host: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        Served {
            postgres: FreshDatabase::if_asked(dir.path()),
            dir,
            issuer: format!("http://{host}:0"),
            child: None,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        c.current_dir(self.dir.path())
            .env("LATCHKEY_ISSUER", &self.issuer)
            .env(
                "LATCHKEY_BIND",
                self.issuer
                    .trim_start_matches("http://")
                    .replace("localhost", "127.0.0.1"),
            )
            .env("LATCHKEY_WORKERS", "1");
        if let Some(db) = &self.postgres {
            c.env("LATCHKEY_DATABASE_URL", &db.url);
        }
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

    /// Starts the server on a port it picks itself (no other test can
    /// take it between a pick and a bind; see `support::Serving`) and
    /// waits until it is ready. Until then the issuer says port 0, which
    /// commands run before accept.
    async fn start(&mut self) {
        let mut serve = self.command();
        serve.arg("serve");
        let serving = crate::support::Serving::spawn(serve, None);
        let (issuer, _) = serving.listening();
        self.issuer = issuer;
        self.child = Some(serving.child);
        self.ready().await
    }

    async fn ready(&mut self) {
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

/// With `LATCHKEY_TEST_DATABASE=postgres` (as in support.rs), a Postgres
/// database for one server alone, `latchkey_interop_<random>`, made
/// through the `postgres` database of the server
/// `LATCHKEY_TEST_POSTGRES_URL` names (default the local one) and dropped
/// with it. Postgres asked for and out of reach fails the test, in CI or
/// not: it is never skipped.
struct FreshDatabase {
    admin: String,
    name: String,
    /// What `latchkey` is given as `LATCHKEY_DATABASE_URL`.
    url: String,
}

impl FreshDatabase {
    fn if_asked(dir: &Path) -> Option<FreshDatabase> {
        if std::env::var("LATCHKEY_TEST_DATABASE").ok().as_deref() != Some("postgres") {
            return None;
        }
        let base = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut url = url::Url::parse(&base).expect("LATCHKEY_TEST_POSTGRES_URL is a URL");
        let suffix: String = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!("latchkey_interop_{}{suffix}", std::process::id());
        url.set_path("/postgres");
        let admin = url.to_string();
        url.set_path(&format!("/{name}"));
        if let Err(e) = run_sql(&admin, format!("CREATE DATABASE \"{name}\"")) {
            panic!("LATCHKEY_TEST_DATABASE=postgres, but no database could be made at {base}: {e}");
        }
        Some(FreshDatabase {
            admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = run_sql(&self.admin, drop) {
            eprintln!("database {} left behind: {e}", self.name);
        }
    }
}

/// Runs one statement on `url`, on a thread and runtime of its own: this
/// runs in `Served::new` and in `drop`, inside a test's runtime or not.
fn run_sql(url: &str, sql: String) -> Result<(), String> {
    use sea_orm::ConnectionTrait;
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut options = sea_orm::ConnectOptions::new(url);
            options
                .max_connections(1)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(Duration::from_secs(5))
                .sqlx_logging(false);
            let db = sea_orm::Database::connect(options)
                .await
                .map_err(|e| e.to_string())?;
            let done = db.execute_unprepared(&sql).await.map_err(|e| e.to_string());
            let _ = db.close().await;
            done.map(|_| ())
        })
    })
    .join()
    .expect("the SQL thread ends")
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

/// Node openid-client with pushed authorization requests and DPoP, for a
/// client that must use both: the library pushes, handles the nonce
/// dance itself, and every token it gets is bound to its one key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_openid_client_pushes_and_binds_its_tokens_with_dpop() {
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
    let (s, client) = server_with(&[
        "--redirect-uri",
        REDIRECT,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--grant-type",
        "client_credentials",
        "--scope",
        "openid profile email offline_access api:read",
        "--auth-method",
        "client_secret_post",
        "--require-par",
        "--dpop-bound",
        "--resource",
        "https://api.example.com",
    ])
    .await;
    let report = run_rp(&s, &client, "node", &["node/par_dpop.mjs"]);
    assert_eq!(report["library"], "openid-client");
    // The browser carried the reference only.
    assert_eq!(
        report["authorize_params"], "client_id request_uri",
        "{report}"
    );
    assert_eq!(report["userinfo_sub"], report["sub"], "{report}");
    let jkt = report["jkt"].as_str().expect("a bound access token");
    for (kind, key) in [
        ("token_type", "jkt"),
        ("refreshed_token_type", "refreshed_jkt"),
        ("machine_token_type", "machine_jkt"),
    ] {
        // The library reports the type in lower case.
        assert_eq!(report[kind], "dpop", "{kind}: {report}");
        assert_eq!(report[key], jkt, "{key}: {report}");
    }
    assert_eq!(report["bearer_refused"], true, "{report}");
    assert_eq!(report["machine_aud"], "https://api.example.com", "{report}");
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

/// The browser tests' Chromium (Debian's `chromium`, installed by
/// `.ci/run`; `LATCHKEY_TEST_CHROMIUM` names another) and its driver
/// (playwright-core and axe-core, in tests/interop/node): `None` skips
/// the test, saying why (never under CI).
fn chromium() -> Option<String> {
    let chromium = std::env::var("LATCHKEY_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let modules = interop_dir().join("node/node_modules");
    let probe = format!(
        "require('fs').accessSync({:?}); require('fs').accessSync({:?}); require('fs').accessSync({:?})",
        modules.join("playwright-core").display().to_string(),
        modules.join("axe-core").display().to_string(),
        chromium
    );
    available(
        "chromium, playwright-core and axe-core (tests/interop/node)",
        Command::new("node").arg("-e").arg(probe),
    )
    .then_some(chromium)
}

/// A server (not started yet) with user alice ("Alice"), and Chromium;
/// `None` when the test is skipped.
fn prepared_for_chromium() -> Option<(Served, String)> {
    let chromium = chromium()?;
    let s = Served::new();
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
    Some((s, chromium))
}

/// Started with user alice; `None` when the test is skipped.
async fn served_for_chromium() -> Option<(Served, String)> {
    let (mut s, chromium) = prepared_for_chromium()?;
    s.start().await;
    Some((s, chromium))
}

/// A client of `s` named `name` whose redirect URI is
/// `http://127.0.0.1:<port>/cb` and post-logout redirect URI `.../bye`,
/// on a free port the browser script serves them on; returns the client's
/// JSON and the port.
fn browser_client(s: &Served, name: &str) -> (Value, u16) {
    let port = free_port();
    (browser_client_on(s, name, port, &[]), port)
}

/// As `browser_client`, on a given port, made with `extra` flags besides.
fn browser_client_on(s: &Served, name: &str, port: u16, extra: &[&str]) -> Value {
    let redirect = format!("http://127.0.0.1:{port}/cb");
    let bye = format!("http://127.0.0.1:{port}/bye");
    let mut args = vec![
        "client",
        "add",
        "--name",
        name,
        "--redirect-uri",
        &redirect,
        "--post-logout-redirect-uri",
        &bye,
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&s.cli(&args, "")).unwrap()
}

/// Where a failing browser script leaves its screenshots:
/// `LATCHKEY_SCREENSHOTS`, else `target/browser-screenshots`.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("LATCHKEY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots")
        })
}

/// Runs `node/<script>` (built on browser_support.mjs) against `s` as
/// alice, with `env` besides; returns the JSON line it printed last,
/// after checking that no page broke its CSP and that the script checked
/// the accessibility of `pages`, in that order. A failure names the
/// screenshots the script took of every open page.
fn run_browser_script(
    s: &Served,
    chromium: &str,
    script: &str,
    env: &[(&str, &str)],
    pages: &[&str],
) -> Value {
    let shots = screenshot_dir();
    let started = Instant::now();
    let out = Command::new("node")
        .arg(format!("node/{script}"))
        .current_dir(interop_dir())
        .env("ISSUER", &s.issuer)
        .env("USERNAME", "alice")
        .env("PASSWORD", PASSWORD)
        .env("CHROMIUM", chromium)
        .env("LATCHKEY_SCREENSHOTS", &shots)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let taken: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("screenshot: "))
            .collect();
        panic!(
            "{script} failed after {:.1?}; screenshots: {}\n{stdout}\n{stderr}",
            started.elapsed(),
            if taken.is_empty() {
                "none".to_owned()
            } else {
                taken.join(", ")
            }
        );
    }
    eprintln!("{script}: {:.1?}", started.elapsed());
    let report: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(report["csp_errors"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["accessibility"],
        serde_json::json!(pages),
        "pages whose accessibility was checked: {report}"
    );
    report
}

/// The pages in a real browser: headless Chromium signs in and consents
/// for a `response_mode=form_post` request, and the form_post page, under
/// its CSP, posts the code to the client by itself. The sign-in and
/// consent pages pass the accessibility check on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_completes_a_form_post_sign_in() {
    let Some((mut s, chromium)) = prepared_for_chromium() else {
        return;
    };
    let (client, port) = browser_client(&s, "Browser");
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_form_post.mjs",
        &[
            ("CLIENT_ID", client["client_id"].as_str().unwrap()),
            ("CLIENT_SECRET", client["client_secret"].as_str().unwrap()),
            ("REDIRECT_PORT", &port.to_string()),
        ],
        &["login", "consent"],
    );
    assert_eq!(report["code"], true, "{report}");
    assert_eq!(report["state_matches"], true, "{report}");
    assert_eq!(report["iss"], s.issuer.as_str(), "{report}");
    // openid-client redeemed the code and validated the ID token; the
    // browser sent the POST with `Origin: null` (the page's no-referrer
    // policy), which a relying party must not refuse.
    assert!(
        report["sub"].as_str().is_some_and(|s| !s.is_empty()),
        "{report}"
    );
    assert_eq!(report["origin"], "null", "{report}");
}

/// Consent denied and RP-initiated logout in a real browser, JavaScript
/// off: an unknown client gets the error page; a wrong password shows the
/// sign-in page's message; "Deny" sends the client `access_denied` with
/// its state; after "Allow", logout with the ID token as hint returns to
/// the client with no question asked and ends the session; logout without
/// a hint asks, then ends the session on the signed-out page. Every page
/// on the way passes the accessibility check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_denies_consent_and_logs_out() {
    let Some((mut s, chromium)) = prepared_for_chromium() else {
        return;
    };
    // One word too long for a phone's width: the pages that show it (the
    // consent page's heading) must wrap it rather than scroll sideways.
    let (client, port) = browser_client(&s, "ExampleCorpInternalDashboardForEveryone");
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_consent_logout.mjs",
        &[
            ("CLIENT_ID", client["client_id"].as_str().unwrap()),
            ("CLIENT_SECRET", client["client_secret"].as_str().unwrap()),
            ("REDIRECT_PORT", &port.to_string()),
        ],
        &[
            "error",
            "login",
            "login with an error",
            "consent",
            "logout confirmation",
            "signed out",
        ],
    );
    let error_page = &report["error_page"];
    assert_eq!(error_page["status"], 400, "{report}");
    assert_eq!(error_page["path"], "/authorize", "{report}");
    assert_eq!(
        error_page["heading"], "This request cannot continue",
        "{report}"
    );
    assert!(
        report["wrong_password"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    let denied = &report["denied"];
    assert_eq!(denied["error"], "access_denied", "{report}");
    assert_eq!(denied["state_matches"], true, "{report}");
    assert_eq!(denied["iss"], s.issuer.as_str(), "{report}");
    assert_eq!(denied["code"], false, "{report}");
    assert_eq!(report["id_token"], true, "{report}");

    let hinted = &report["logout_with_hint"];
    assert_eq!(
        hinted["logout_status"], 303,
        "no confirmation page: {report}"
    );
    assert_eq!(
        hinted["landed"],
        format!("http://127.0.0.1:{port}/bye"),
        "{report}"
    );
    assert_eq!(hinted["state_matches"], true, "{report}");
    assert_eq!(hinted["account_after"], "/login", "session gone: {report}");

    let asked = &report["logout_without_hint"];
    assert_eq!(asked["logout_status"], 200, "{report}");
    assert_eq!(asked["question"], "Sign out?", "{report}");
    assert_eq!(asked["after_confirm_path"], "/logout/confirm", "{report}");
    assert_eq!(asked["after_confirm"], "You are signed out", "{report}");
    assert_eq!(asked["account_after"], "/login", "session gone: {report}");
}

/// The device authorization grant in a real browser, JavaScript off: a
/// device client (made on the command line with `--grant-type
/// device_code`, no redirect URI) asks for codes; headless Chromium opens
/// `verification_uri_complete` (the code is filled in), is told a wrong
/// code is not valid, enters the right one, signs in, allows on the
/// consent page and is told to return to the device, whose next poll gets
/// its tokens. Every page passes the accessibility check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_connects_a_device() {
    let Some((mut s, chromium)) = prepared_for_chromium() else {
        return;
    };
    let client: Value = serde_json::from_str(&s.cli(
        &[
            "client",
            "add",
            "--name",
            "Living room TV",
            "--public",
            "--grant-type",
            "device_code",
            "--scope",
            "openid profile",
            "--json",
        ],
        "",
    ))
    .unwrap();
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_device.mjs",
        &[("CLIENT_ID", client["client_id"].as_str().unwrap())],
        &[
            "device code",
            "device code with an error",
            "device consent",
            "device done",
        ],
    );
    assert_eq!(report["prefilled"], report["user_code"], "{report}");
    assert_eq!(report["pending"], "authorization_pending", "{report}");
    assert!(
        report["wrong_message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid")),
        "{report}"
    );
    assert!(
        report["consent_heading"]
            .as_str()
            .is_some_and(|h| h.contains("Living room TV")),
        "{report}"
    );
    assert!(
        report["done"]
            .as_str()
            .is_some_and(|d| d.contains("Return to your device")),
        "{report}"
    );
    assert_eq!(report["done_path"], "/device/consent", "{report}");
    assert_eq!(report["token_status"], 200, "{report}");
    assert_eq!(report["access_token"], true, "{report}");
    assert_eq!(report["id_token"], true, "{report}");
}

/// The account pages in a real browser, JavaScript off: headless Chromium
/// signs in, follows the account pages' links to `/account/profile`,
/// changes the name and saves (the page shows the new name with its
/// notice, and the user has it), then to `/account/password`, where a
/// wrong current password is refused and the right one changes it: the
/// old password then fails at the sign-in page and the new one signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_edits_the_profile_and_changes_the_password() {
    let Some((s, chromium)) = served_for_chromium().await else {
        return;
    };
    let new_password = "a brand-new passphrase, 42";
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_account.mjs",
        &[
            ("NEW_NAME", "Alice Liddell"),
            ("NEW_PASSWORD", new_password),
        ],
        &[
            "profile",
            "profile with a notice",
            "password",
            "password with an error",
        ],
    );
    assert_eq!(report["before"], "Alice", "{report}");
    assert_eq!(report["name"], "Alice Liddell", "{report}");
    assert_eq!(report["notice"], "Your profile was saved.", "{report}");
    let shown: Value =
        serde_json::from_str(&s.cli(&["user", "show", "alice", "--json"], "")).unwrap();
    assert_eq!(shown["name"], "Alice Liddell");

    assert!(
        report["wrong_current"]
            .as_str()
            .is_some_and(|m| !m.is_empty() && !m.starts_with("Password changed")),
        "{report}"
    );
    assert_eq!(
        report["changed"], "Password changed. Your other sessions were signed out.",
        "{report}"
    );
    assert_eq!(report["changed_on_path"], "/account/password", "{report}");
    assert_eq!(
        report["old_password"]["path"], "/login",
        "the old password is refused: {report}"
    );
    assert!(
        report["old_password"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    assert_eq!(
        report["new_password_path"], "/account/sessions",
        "the new password signs in: {report}"
    );
}

/// The sessions page in a real browser, JavaScript off: alice signs in
/// from Firefox on Windows, Safari on macOS and Chromium. Chromium's page
/// lists all three with "This device" on its own; signing out the Firefox
/// session ends that one alone; "Sign out everywhere else" leaves only
/// Chromium's, with its notice, and signs Safari out; "Sign out of this
/// device" ends the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_out_sessions_one_by_one_and_everywhere_else() {
    let Some((s, chromium)) = served_for_chromium().await else {
        return;
    };
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_sessions.mjs",
        &[],
        &["sessions", "sessions with a notice"],
    );
    let sorted = |v: &Value| {
        let mut d: Vec<String> = v
            .as_array()
            .unwrap_or_else(|| panic!("a list of devices: {report}"))
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        d.sort();
        d
    };
    let this = report["device"].as_str().unwrap_or_default().to_owned();
    assert!(this.starts_with("Chrome on "), "{report}");
    assert_eq!(
        sorted(&report["before"]),
        sorted(&serde_json::json!([
            "Firefox on Windows",
            "Safari on macOS",
            this.as_str()
        ])),
        "{report}"
    );
    assert_eq!(report["this_device"], 1, "{report}");
    assert_eq!(
        report["times"], 6,
        "signed in and last used, three times: {report}"
    );
    assert_eq!(
        sorted(&report["after_one"]),
        sorted(&serde_json::json!(["Safari on macOS", this.as_str()])),
        "{report}"
    );
    assert_eq!(report["firefox_after_one"], "/login", "{report}");
    assert_eq!(report["safari_after_one"], "/account/sessions", "{report}");
    assert_eq!(
        report["after_others"],
        serde_json::json!([this]),
        "{report}"
    );
    assert_eq!(report["current_after"], 1, "{report}");
    assert_eq!(
        report["notice"], "Your other sessions were signed out.",
        "{report}"
    );
    assert_eq!(report["safari_after_others"], "/login", "{report}");
    assert_eq!(report["after_own"], "/login", "{report}");
}

/// Second factors in a real browser, JavaScript off, at the server's real
/// clock: alice sets up an authenticator app on `/account/security` (the
/// code computed by the script from the key the page shows) and gets ten
/// recovery codes; a recovery code signs her in to a client once; bob,
/// with no factor, signing in to a client made with `--require-mfa` sets
/// up an app within the sign-in and continues to the client after his
/// recovery codes; alice, signed out, signs in with the password and her
/// app's code (`amr` pwd, otp, mfa; `acr` mfa); `/login?reauth=1` asks
/// bob for both again and returns to the security page with the same
/// session. A used app code waits for the next 30-second step, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sets_up_and_uses_second_factors() {
    let Some((mut s, chromium)) = prepared_for_chromium() else {
        return;
    };
    s.cli(
        &["user", "add", "bob", "--name", "Bob", "--password-stdin"],
        PASSWORD,
    );
    let (client, port) = browser_client(&s, "Browser");
    let strict = browser_client_on(&s, "Payroll", port, &["--require-mfa"]);
    assert_eq!(strict["require_mfa"], true, "{strict}");
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_mfa.mjs",
        &[
            ("CLIENT_ID", client["client_id"].as_str().unwrap()),
            ("CLIENT_SECRET", client["client_secret"].as_str().unwrap()),
            ("STRICT_CLIENT_ID", strict["client_id"].as_str().unwrap()),
            (
                "STRICT_CLIENT_SECRET",
                strict["client_secret"].as_str().unwrap(),
            ),
            ("REDIRECT_PORT", &port.to_string()),
            ("SECOND_USERNAME", "bob"),
        ],
        &[
            "security",
            "authenticator app setup",
            "recovery codes",
            "second factor",
            "second factor with an error",
            "authenticator app setup in sign-in",
            "recovery codes in sign-in",
            "reauth",
        ],
    );
    eprintln!("waited for the next step: {}s", report["waited_secs"]);
    let mfa = serde_json::json!({"amr": ["pwd", "otp", "mfa"], "acr": "urn:latchkey:acr:mfa"});
    let claims = |v: &Value| serde_json::json!({"amr": v["amr"], "acr": v["acr"]});

    let enrolment = &report["enrolment"];
    assert_eq!(
        enrolment["before"], "No authenticator app is set up.",
        "{report}"
    );
    assert_eq!(enrolment["qr"], 1, "a QR code: {report}");
    assert_eq!(enrolment["codes"], 10, "{report}");
    assert_eq!(enrolment["distinct"], 10, "{report}");
    assert_eq!(
        enrolment["after"], "An authenticator app gives you a code when you sign in.",
        "{report}"
    );
    assert_eq!(
        enrolment["codes_left"], "10 unused recovery codes.",
        "{report}"
    );

    let recovery = &report["recovery"];
    assert_eq!(
        recovery["factor_label"], "Code from your authenticator app, or a recovery code",
        "{report}"
    );
    assert_eq!(claims(&recovery["claims"]), mfa, "{report}");
    assert_eq!(
        recovery["reused"]["path"], "/login/factor",
        "a used recovery code is refused: {report}"
    );
    assert_eq!(
        recovery["reused"]["message"], "That code is not right. Check it and try again.",
        "{report}"
    );

    let required = &report["required"];
    assert_eq!(
        required["heading"], "Set up an authenticator app",
        "{report}"
    );
    assert_eq!(required["codes"], 10, "{report}");
    assert_eq!(claims(&required["claims"]), mfa, "{report}");
    assert_ne!(required["claims"]["sub"], recovery["claims"]["sub"]);
    let shown: Value =
        serde_json::from_str(&s.cli(&["user", "show", "bob", "--json"], "")).unwrap();
    assert_eq!(required["claims"]["sub"], shown["id"], "{shown}");

    assert_eq!(claims(&report["app"]), mfa, "{report}");
    assert_eq!(report["app"]["sub"], recovery["claims"]["sub"], "{report}");

    let reauth = &report["reauth"];
    assert_eq!(reauth["heading"], "Confirm it's you", "{report}");
    assert_eq!(reauth["prefilled"], "bob", "{report}");
    assert_eq!(reauth["path"], "/account/security", "{report}");
    assert_eq!(reauth["same_cookie"], true, "the session is kept: {report}");
    assert_eq!(reauth["offers_reauth"], 0, "fresh again: {report}");
}

/// Passkeys in a real browser (Chromium's virtual authenticator, issuer
/// on http://localhost): one added on the security page after a password
/// sign-in, then a sign-in with the passkey button alone; then a client
/// demanding `urn:latchkey:acr:phr` gets, after the password, a second
/// step offering only the passkey, and an ID token saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_adds_a_passkey_and_signs_in_with_it() {
    let Some(chromium) = chromium() else {
        return;
    };
    let mut s = Served::on_localhost();
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
    let (client, port) = browser_client(&s, "Passkeys");
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_passkeys.mjs",
        &[
            ("CLIENT_ID", client["client_id"].as_str().unwrap()),
            ("CLIENT_SECRET", client["client_secret"].as_str().unwrap()),
            ("REDIRECT_PORT", &port.to_string()),
        ],
        &[
            "login with passkeys",
            "security",
            "passkey setup",
            "security with a passkey",
            "passkey as second factor",
        ],
    );
    assert_eq!(
        report["passkey_names"],
        serde_json::json!(["Laptop"]),
        "{report}"
    );
    assert_eq!(report["resident"], serde_json::json!([true]), "{report}");
    assert_eq!(report["passwordless_path"], "/account/sessions", "{report}");
    assert!(
        !report["last_used"]
            .as_str()
            .unwrap_or("never")
            .ends_with("never."),
        "the passwordless sign-in was recorded: {report}"
    );
    let amr = |r: &Value| -> Vec<String> {
        r["amr"]
            .as_array()
            .unwrap_or_else(|| panic!("an amr: {report}"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let key = |amr: &[String]| amr.iter().any(|m| m == "hwk" || m == "swk");
    let step_up = &report["step_up"];
    assert_eq!(step_up["code_fields"], 0, "only the passkey: {report}");
    assert_eq!(step_up["state"], "st-1", "{report}");
    assert_eq!(step_up["acr"], "urn:latchkey:acr:phr", "{report}");
    let a = amr(step_up);
    assert!(key(&a) && a.contains(&"mfa".into()), "{report}");
    assert!(
        a.contains(&"pwd".into()),
        "the password came first: {report}"
    );
    let direct = &report["passwordless_client"];
    assert_eq!(direct["state"], "st-1", "{report}");
    let a = amr(direct);
    assert!(key(&a), "{report}");
    assert!(
        a.contains(&"user".into()) && a.contains(&"mfa".into()),
        "{report}"
    );
    assert!(!a.contains(&"pwd".into()), "no password: {report}");
}

/// The operator console in a real browser, JavaScript off
/// (`browser_console.mjs`): alice, an admin with no second factor yet, is
/// sent to sign in, then told to set one up; with an authenticator app
/// and a sign-in that proved it, she registers a client and sees its
/// secret once, makes PKCE optional and sees the warning, rotates the
/// secret, filters the audit log to the client, deletes it, and creates
/// and disables a user. Every console page passes the accessibility
/// check; what the pages did is checked again from the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_runs_the_operator_console() {
    let Some((mut s, chromium)) = prepared_for_chromium() else {
        return;
    };
    s.cli(&["user", "update", "alice", "--role", "admin"], "");
    s.start().await;
    let report = run_browser_script(
        &s,
        &chromium,
        "browser_console.mjs",
        &[],
        &[
            "console door",
            "console",
            "new client",
            "client secret",
            "client",
            "audit log",
            "signing keys",
            "tokens",
            "users",
            "user",
        ],
    );
    assert!(
        report["key_states"]
            .as_array()
            .is_some_and(|s| s.contains(&"current".into())),
        "{report}"
    );
    assert_eq!(report["door"]["status"], 403, "{report}");
    assert_eq!(
        report["door"]["heading"], "Set up a second factor",
        "{report}"
    );
    assert_eq!(report["home"]["status"], 200, "{report}");
    assert_eq!(report["home"]["heading"], "Latchkey console", "{report}");

    let client = &report["client"];
    let id = client["id"].as_str().expect("a client id");
    assert!(client["secret_length"].as_u64().unwrap() >= 32, "{report}");
    assert_eq!(client["secret_shown_again"], false, "{report}");
    assert_eq!(client["warnings_before"], 0, "{report}");
    assert!(
        client["warning"]
            .as_str()
            .is_some_and(|w| w.contains("pkce=optional")),
        "{report}"
    );
    assert_eq!(client["saved"], "The client was saved.", "{report}");
    assert_eq!(client["rotated_differs"], true, "{report}");
    assert_eq!(client["deleted"], "The client was deleted.", "{report}");
    assert_eq!(client["gone_status"], 404, "{report}");

    let audit = &report["audit"];
    assert_eq!(audit["clients"], serde_json::json!([id]), "{report}");
    assert_eq!(
        audit["actors"],
        serde_json::json!(["console:alice"]),
        "every change names the console user who made it: {report}"
    );
    let kinds: Vec<&str> = audit["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for kind in [
        "client_registered",
        "client_compat_changed",
        "client_secret_rotated",
    ] {
        assert!(kinds.contains(&kind), "{kind}: {report}");
    }

    assert_eq!(report["user"]["status"], "disabled", "{report}");
    assert_eq!(report["user"]["enable_offered"], 1, "{report}");
    let listed: Value = serde_json::from_str(&s.cli(&["client", "list", "--json"], "")).unwrap();
    assert_eq!(listed, serde_json::json!([]), "the client is gone");
    let bob: Value = serde_json::from_str(&s.cli(&["user", "show", "bob", "--json"], "")).unwrap();
    assert_eq!(bob["disabled"], true, "{bob}");
    assert_eq!(bob["name"], "Bob", "{bob}");
}
