//! The test harness: a real Latchkey on a random loopback port with its own
//! SQLite file and key-encryption key, a mock clock, and a browser.

use std::sync::Arc;

use actix_web::web;
use chrono::Utc;
use latchkey::Application;
use latchkey_config::{Config, Storage};
pub use latchkey_core::admin::Actor;
use latchkey_core::admin::NewClient;
use latchkey_core::Latchkey;
use latchkey_domain::{Client, MockClock};
use latchkey_protocol::Scope;
use reqwest::redirect::Policy;
use tempfile::TempDir;
use url::Url;

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub struct TestApp {
    pub issuer: String,
    /// Where this instance listens (the issuer may name a whole cluster).
    pub base: String,
    pub core: web::Data<Latchkey>,
    /// The test's own connection to the server's database, to check what
    /// was stored (or plant what an endpoint never would).
    pub store: Arc<dyn latchkey_domain::Store>,
    pub clock: Arc<MockClock>,
    /// The metrics listener, when the test set `metrics_bind`.
    pub metrics: Option<String>,
    _dir: Arc<TempDir>,
}

/// A registered client and its secret.
pub struct TestClient {
    pub client: Client,
    pub secret: Option<String>,
}

impl TestClient {
    pub fn id(&self) -> &str {
        self.client.id.as_str()
    }

    pub fn secret(&self) -> &str {
        self.secret.as_deref().unwrap_or("")
    }
}

/// Settings every test server shares: loopback, port 0, cheap argon2.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        server: latchkey_config::Server {
            issuer: "http://127.0.0.1:0".parse().unwrap(),
            bind: "127.0.0.1:0".parse().unwrap(),
            workers: 1,
            ..latchkey_config::Server::default()
        },
        storage: Storage {
            database_url: format!("sqlite://{}/latchkey.db", dir.display()),
            kek_file: dir.join("kek"),
            ..Storage::default()
        },
        ..Config::default()
    }
    .validated()
    .expect("test config is valid");
    // Below what a configuration may ask for (refused at start): these
    // servers hash test passwords only, many times per run.
    c.passwords.memory_kib = 1024;
    c.passwords.iterations = 1;
    c
}

/// `scope` and one more token.
pub fn plus_scope(scope: &Scope, token: &str) -> Scope {
    Scope::parse(&format!("{scope} {token}")).expect("a valid scope")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_in(Arc::new(tempfile::tempdir().expect("temp dir")), tweak).await
    }

    /// A server on the database and key of `dir`: several of them make a
    /// cluster sharing one SQLite file.
    pub async fn spawn_in(dir: Arc<TempDir>, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config(dir.path());
        if let Some((url, schema)) = postgres_backend(dir.path()) {
            config.storage.database_url = url;
            config.database.schema = Some(schema);
        }
        tweak(&mut config);
        let store: Arc<dyn latchkey_domain::Store> = Arc::new(
            latchkey::open_store(&config)
                .await
                .expect("the test database opens"),
        );
        #[allow(clippy::disallowed_methods)]
        let clock = Arc::new(MockClock::new(Utc::now()));
        let app = Application::build(config, clock.clone())
            .await
            .expect("server starts");
        let issuer = app.issuer().to_owned();
        let metrics = app
            .metrics_port
            .map(|p| format!("http://127.0.0.1:{p}/metrics"));
        let (port, core) = app.spawn();
        TestApp {
            issuer,
            base: format!("http://127.0.0.1:{port}"),
            core,
            store,
            clock,
            metrics,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn add_user(&self, username: &str) -> latchkey_domain::User {
        self.core
            .admin(Actor::CommandLine)
            .users()
            .create(
                username,
                PASSWORD.into(),
                latchkey_core::admin::UserChanges {
                    claims: serde_json::json!({
                        "name": format!("{username} Example"),
                        "email": format!("{username}@example.com"),
                    })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                    groups: None,
                },
            )
            .await
            .expect("user created")
    }

    pub async fn add_client(&self, new: NewClient) -> TestClient {
        let (client, secret) = self
            .core
            .admin(Actor::CommandLine)
            .clients()
            .create(new)
            .await
            .expect("client created");
        TestClient { client, secret }
    }

    /// A confidential web app with the usual scopes.
    pub async fn web_client(&self) -> TestClient {
        self.add_client(NewClient {
            name: "Web app".into(),
            redirect_uris: vec![REDIRECT.into()],
            scope: Some("openid profile email".into()),
            ..NewClient::default()
        })
        .await
    }

    /// A resource server an administrator allowed to introspect any token.
    pub async fn resource_server(&self) -> TestClient {
        self.add_client(NewClient {
            name: "Resource server".into(),
            grant_types: vec![latchkey_domain::GrantType::ClientCredentials],
            scope: Some("api:read".into()),
            introspect: true,
            ..NewClient::default()
        })
        .await
    }

    /// A machine client for client credentials.
    pub async fn machine_client(&self) -> TestClient {
        self.add_client(NewClient {
            name: "Machine".into(),
            grant_types: vec![latchkey_domain::GrantType::ClientCredentials],
            scope: Some("api:read api:write".into()),
            ..NewClient::default()
        })
        .await
    }
}

/// With `LATCHKEY_TEST_DATABASE=postgres`, every test server runs on
/// Postgres (`LATCHKEY_TEST_POSTGRES_URL`, default the local `test`
/// database) in a schema of its own, named after its directory so that
/// servers sharing a directory share the schema.
fn postgres_backend(dir: &std::path::Path) -> Option<(String, String)> {
    if std::env::var("LATCHKEY_TEST_DATABASE").ok().as_deref() != Some("postgres") {
        return None;
    }
    let url = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = dir.file_name().unwrap().to_string_lossy().to_lowercase();
    let schema: String = format!("it_{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some((url, schema))
}

/// A browser: keeps cookies, never follows redirects (tests read them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A browser whose cookie jar the test can read.
pub fn browser_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(Policy::none())
        .build()
        .expect("client");
    (client, jar)
}

/// The value of cookie `name` that `jar` would send to `url`.
pub fn jar_cookie(jar: &reqwest::cookie::Jar, url: &str, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let header = jar.cookies(&url.parse().unwrap())?;
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// An HTTP client for API calls: no cookies, no redirects. One shared
/// client, since building one loads the system's CA certificates; without
/// a connection pool, because each test runs its own runtime and a pooled
/// connection must not outlive the runtime that opened it.
pub fn api() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .expect("client")
        })
        .clone()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location header; status {}", resp.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let u = Url::parse(url).unwrap_or_else(|_| Url::parse(&format!("http://x{url}")).unwrap());
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a hidden form input in a page, as a browser submits it
/// (character references decoded).
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} input in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape_html(&html[start..end])
}

/// Decodes the character references an HTML template writes in an
/// attribute (`&#38;`, `&amp;`, ...).
fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "lt" => Some('<'),
                "gt" => Some('>'),
                _ => entity
                    .strip_prefix('#')
                    .and_then(|n| n.parse::<u32>().ok())
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Asserts an OAuth JSON error, printing the body when it is not.
pub async fn assert_oauth_error(
    resp: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (status {got}): {text}"));
    assert_eq!(got, status, "status; body {text}");
    assert_eq!(body["error"], code, "error code; body {text}");
    body
}

/// The page at `path` (a sign-in or consent page), as text.
pub async fn page_text(app: &impl Server, browser: &reqwest::Client, path: &str) -> String {
    browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A page with a form (sign-in, consent, sign-out confirmation) as one
/// browser read it. Its hidden fields are read when asked for, so a test
/// checks only the fields it uses.
pub struct FormPage {
    pub text: String,
}

impl FormPage {
    /// The page at `path`, read by `browser`.
    pub async fn read(app: &impl Server, browser: &reqwest::Client, path: &str) -> FormPage {
        FormPage {
            text: page_text(app, browser, path).await,
        }
    }

    /// The value of the hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        hidden(&self.text, name)
    }

    /// The pending authorization request the form answers.
    pub fn req(&self) -> String {
        self.hidden("req")
    }

    /// The form's CSRF token (bound to the browser that read the page).
    pub fn csrf(&self) -> String {
        self.hidden("csrf")
    }

    /// Posts this sign-in form with its own request and CSRF token.
    pub async fn sign_in(
        &self,
        app: &impl Server,
        browser: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        post_login(
            app,
            browser,
            Some(&self.req()),
            &self.csrf(),
            username,
            password,
        )
        .await
    }

    /// Answers this consent page with `decision` (`approve` or `deny`).
    pub async fn decide(
        &self,
        app: &impl Server,
        browser: &reqwest::Client,
        decision: &str,
    ) -> reqwest::Response {
        browser
            .post(app.url("/consent"))
            .form(&[
                ("req", self.req().as_str()),
                ("csrf", self.csrf().as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Confirms this sign-out page.
    pub async fn confirm_logout(
        &self,
        app: &impl Server,
        browser: &reqwest::Client,
    ) -> reqwest::Response {
        browser
            .post(app.url("/logout/confirm"))
            .form(&[
                ("query", self.hidden("query").as_str()),
                ("csrf", self.csrf().as_str()),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// Opens `auth_url` in `browser` and reads the sign-in page it redirects
/// to.
pub async fn login_page(app: &impl Server, browser: &reqwest::Client, auth_url: &str) -> FormPage {
    let resp = browser.get(auth_url).send().await.unwrap();
    FormPage::read(app, browser, &location(&resp)).await
}

/// Posts the sign-in form: the pending request (`None` for the account
/// pages), the form's CSRF token and the credentials.
pub async fn post_login(
    app: &impl Server,
    browser: &reqwest::Client,
    req: Option<&str>,
    csrf: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("csrf", csrf),
        ("username", username),
        ("password", password),
    ];
    if let Some(r) = req {
        form.insert(0, ("req", r));
    }
    browser
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Drives the browser from an authorization URL through sign-in and
/// consent to the redirect back to the client; returns the final Location.
pub async fn sign_in(
    app: &impl Server,
    browser: &reqwest::Client,
    auth_url: &str,
    username: &str,
) -> String {
    let resp = browser.get(auth_url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        303,
        "authorize should redirect to the login page"
    );
    let mut next = location(&resp);
    if next.starts_with("/login") {
        let resp = FormPage::read(app, browser, &next)
            .await
            .sign_in(app, browser, username, PASSWORD)
            .await;
        assert_eq!(resp.status(), 303, "login should succeed");
        next = location(&resp);
    }
    if next.starts_with("/consent") {
        next = approve(app, browser, &next).await;
    }
    next
}

/// Approves the consent page at `path`; returns the redirect to the client.
pub async fn approve(app: &impl Server, browser: &reqwest::Client, path: &str) -> String {
    let resp = FormPage::read(app, browser, path)
        .await
        .decide(app, browser, "approve")
        .await;
    assert_eq!(resp.status(), 303, "consent should redirect");
    location(&resp)
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut bytes = [0u8; 32];
    latchkey_domain::Random::fill(&latchkey_domain::OsRandom, &mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorization URL built by hand, for requests a library would never
/// send. `extra` replaces or adds parameters; a value of "" removes one.
pub fn authorize_url(
    app: &impl Server,
    client_id: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-123"),
        ("nonce", "no-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push((k.to_string(), v.to_string()));
        }
    }
    let mut u = Url::parse(&app.url("/authorize")).unwrap();
    u.query_pairs_mut().extend_pairs(params);
    u.to_string()
}

/// Signs `username` in through a hand-built request and returns the code.
pub async fn code_for(
    app: &impl Server,
    browser: &reqwest::Client,
    client: &TestClient,
    challenge: &str,
    username: &str,
) -> String {
    let back = sign_in(
        app,
        browser,
        &authorize_url(app, client.id(), challenge, &[]),
        username,
    )
    .await;
    assert!(
        back.starts_with(REDIRECT),
        "redirected to the client: {back}"
    );
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()));
    param(&back, "code").expect("a code")
}

/// Redeems a code at the token endpoint with client_secret_basic.
pub async fn redeem(
    app: &impl Server,
    client: &TestClient,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    api()
        .post(app.url("/token"))
        .basic_auth(client.id(), client.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// A private Redis on a free loopback port, stopped (by its PID) when
/// dropped or when the test says so.
pub struct RedisServer {
    pub url: String,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Whether this machine can run the Redis tests. Outside CI a missing
    /// `redis-server` skips them with a note; under `CI=true` it fails.
    pub fn available() -> bool {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var("CI").ok().as_deref() == Some("true") {
                panic!("redis-server is required in CI for the Redis tests");
            }
            eprintln!("note: redis-server not installed; Redis test skipped");
        }
        found
    }

    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed to run the Redis tests");
        // From here the guard owns the process: it is stopped on every path.
        let server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            child: Some(child),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Anything tests talk to over HTTP: an in-process server or a process.
pub trait Server {
    fn url(&self, path: &str) -> String;
    fn issuer(&self) -> &str;
}

impl Server for TestApp {
    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// A server in another process.
pub struct Remote {
    pub base: String,
    pub issuer: String,
}

impl Server for Remote {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }
}

impl TestClient {
    /// A client registered through the command line (`client add --json`).
    pub fn remote(json: &serde_json::Value) -> TestClient {
        let id = json["client_id"].as_str().expect("client_id");
        TestClient {
            client: latchkey_domain::Client {
                id: latchkey_protocol::ClientId::parse(id).unwrap(),
                name: json["client_name"].as_str().unwrap_or("").to_owned(),
                auth_method: latchkey_domain::ClientAuthMethod::ClientSecretBasic,
                secret_hash: None,
                secret_expires_at: None,
                previous_secret_hash: None,
                previous_secret_expires_at: None,
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                grant_types: Vec::new(),
                scope: latchkey_protocol::Scope::empty(),
                backchannel_logout_uri: None,
                id_token_signed_response_alg: None,
                allowed_cors_origins: Vec::new(),
                introspect: false,
                pkce: Default::default(),
                nonce: Default::default(),
                require_mfa: false,
                require_par: false,
                dpop_bound: false,
                resources: latchkey_domain::Resources::default(),
                fapi2: false,
                created_at: 0,
                updated_at: 0,
            },
            secret: json["client_secret"].as_str().map(str::to_owned),
        }
    }
}

/// The server's provider metadata (discovery).
pub async fn metadata(app: &impl Server) -> serde_json::Value {
    api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A `latchkey serve` process on a port it picked itself (`bind` and
/// issuer at port 0): a port picked free by a test and handed over could
/// be taken by a test running beside it first, and a readiness check would
/// then find the neighbour's server.
pub struct Serving {
    pub child: std::process::Child,
    said: std::sync::mpsc::Receiver<(String, u16)>,
}

impl Serving {
    /// Spawns `cmd` (a `latchkey serve` with its environment; its bind
    /// address is set here, and its issuer too unless `cmd` names one).
    /// Its standard error is read to its end on a thread of its own and
    /// copied to `log` if given.
    pub fn spawn(mut cmd: std::process::Command, log: Option<std::fs::File>) -> Serving {
        use std::io::{BufRead, Write};
        if !cmd
            .get_envs()
            .any(|(k, v)| k == "LATCHKEY_ISSUER" && v.is_some())
        {
            cmd.env("LATCHKEY_ISSUER", "http://127.0.0.1:0");
        }
        let mut child = cmd
            .env("LATCHKEY_BIND", "127.0.0.1:0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = log;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((port, issuer)) = line
                    .split_once("Latchkey is listening on port ")
                    .and_then(|(_, rest)| rest.split_once("; issuer "))
                {
                    if let Ok(port) = port.parse::<u16>() {
                        let _ = tx.send((issuer.trim().to_owned(), port));
                    }
                }
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        Serving { child, said }
    }

    /// The issuer (`http://127.0.0.1:PORT` unless the command named one)
    /// and the port, once the server says it listens.
    pub fn listening(&self) -> (String, u16) {
        self.said
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("latchkey serve did not say it was listening")
    }
}
