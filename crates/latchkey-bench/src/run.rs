//! One benchmark run: the ceilings, then a real server set up through its
//! command line and loaded scenario by scenario, then the peer if any.
//!
//! A scenario is one async function returning its rows; refresh-token
//! rotation and introspection are checked against what the server
//! advertises and reported as unavailable until it offers them.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use hyper::header::{HeaderValue, AUTHORIZATION};
use latchkey_domain::{OsRandom, Random};
use latchkey_keys::Alg;
use serde_json::Value;

use crate::load::{self, interrupted, LoadConfig, LoadResult, Workload, INTERRUPTED};
use crate::procfs::{self, ChildGuard};
use crate::report::{self, Ceiling, Ceilings, Goal, Outcome, Row, Usage};
use crate::server::{self, ServerSetup};
use crate::signing;
use crate::workloads::{
    basic_auth, Authorize, Browser, CodeExchange, Family, Fixed, RefreshRotation, WebClient,
};

/// The options of `run`.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Seconds of load per scenario (1 to 120).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub duration: u64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connections: u64,
    /// Threads of the load generator.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub load_threads: u64,
    /// HTTP workers of the server and of the ceiling server (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Scenarios to run, comma-separated (default: all):
    /// client_credentials, authorization_code, refresh, introspection,
    /// userinfo, jwks, discovery, healthz.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Database of the server under test (default: a fresh SQLite file).
    /// Users and clients are added under fresh names, so a Postgres database
    /// can be reused between runs (with the same --kek-file).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The key-encryption key file of the server under test (default: a
    /// fresh one). A database keeps its signing keys between runs, sealed
    /// under the KEK of its first run: reuse one with the same file.
    #[arg(long, value_name = "FILE")]
    pub kek_file: Option<PathBuf>,
    /// Redis for the server under test (passed as LATCHKEY_REDIS_URL).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// The latchkey binary (default: beside this one).
    #[arg(long, value_name = "PATH")]
    pub latchkey: Option<PathBuf>,
    /// Upper bound on authorization codes prepared for the code-exchange
    /// scenario (preparation also stops after --duration seconds).
    #[arg(long, default_value_t = 200_000)]
    pub max_codes: u64,
    /// Seconds per signing-ceiling measurement.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=30))]
    pub ceiling_seconds: u64,
    /// Also load this OpenID provider (its issuer URL; loopback, http only).
    #[arg(long, value_name = "ISSUER", requires_all = ["client_id", "client_secret"])]
    pub target: Option<String>,
    /// The peer's client_credentials client.
    #[arg(long, requires = "target")]
    pub client_id: Option<String>,
    #[arg(long, requires = "target")]
    pub client_secret: Option<String>,
    /// Extra form parameters for the peer's token request, e.g. `scope=api`.
    #[arg(long = "target-param", value_name = "K=V", requires = "target")]
    pub target_params: Vec<String>,
    /// The peer's process id, to report its memory like Latchkey's.
    #[arg(long, requires = "target")]
    pub target_pid: Option<u32>,
}

const ALL_SCENARIOS: [&str; 8] = [
    "healthz",
    "discovery",
    "jwks",
    "client_credentials",
    "authorization_code",
    "refresh",
    "introspection",
    "userinfo",
];

/// The password of the bench's user; only ever sent to the loopback server.
const PASSWORD: &str = "bench-password-not-a-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// An HTTP server under load: where to connect and what to say in `Host`.
#[derive(Clone)]
struct Endpoint {
    addr: SocketAddr,
    host: String,
    /// Origin-form path (and query) of the resource.
    path: String,
}

impl Endpoint {
    /// A loopback `http://` URL; anything else is refused.
    fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let u = url::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
        if u.scheme() != "http" {
            bail!("{url}: the bench speaks plain HTTP to loopback servers only");
        }
        let host = u.host_str().ok_or_else(|| anyhow!("{url} has no host"))?;
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = (host.trim_matches(['[', ']']), port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| {
                anyhow!("{url} is not on loopback; the bench loads only this machine")
            })?;
        let mut path = u.path().to_owned();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        let host = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Endpoint { addr, host, path })
    }
}

struct Run {
    args: RunArgs,
    cores: usize,
    /// The ceiling server (address, pid), kept running for the HTTP
    /// ceiling measured before each scenario read against it.
    ceiling_server: Option<(SocketAddr, u32)>,
}

impl Run {
    fn is_postgres(&self) -> bool {
        self.args
            .database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres"))
    }

    fn load_config(&self, addr: SocketAddr, duration: Duration) -> LoadConfig {
        LoadConfig {
            addr,
            connections: self.args.connections as usize,
            duration,
        }
    }

    /// Loads `addr` with `workload` for `--duration`, with the server's CPU
    /// and peak memory taken around it.
    async fn measure(
        &self,
        addr: SocketAddr,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
    ) -> anyhow::Result<(LoadResult, Usage)> {
        let duration = Duration::from_secs(self.args.duration);
        self.measure_for(addr, pid, workload, duration).await
    }

    /// The HTTP ceiling now, for up to 2 s; None without a ceiling server.
    async fn http_ceiling(&self) -> anyhow::Result<Option<(LoadResult, Usage)>> {
        let Some((addr, pid)) = self.ceiling_server else {
            return Ok(None);
        };
        let w = Arc::new(Fixed::get(&addr.to_string(), "/")?);
        let duration = Duration::from_secs(self.args.duration.min(2));
        Ok(Some(self.measure_for(addr, Some(pid), w, duration).await?))
    }

    async fn measure_for(
        &self,
        addr: SocketAddr,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
        duration: Duration,
    ) -> anyhow::Result<(LoadResult, Usage)> {
        if interrupted() {
            bail!("interrupted");
        }
        let peak_reset = pid.is_some_and(procfs::reset_peak);
        let server_before = pid.and_then(|p| procfs::cpu_seconds(Some(p)));
        let me_before = procfs::cpu_seconds(None);
        let all_before = procfs::machine_busy_seconds();
        let result = load::run(&self.load_config(addr, duration), workload).await?;
        let server_after = pid.and_then(|p| procfs::cpu_seconds(Some(p)));
        let me_after = procfs::cpu_seconds(None);
        let all_after = procfs::machine_busy_seconds();
        let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        let usage = Usage {
            server_cpu: diff(server_before, server_after),
            generator_cpu: diff(me_before, me_after),
            machine_cpu: diff(all_before, all_after),
            peak_kib: pid
                .filter(|_| peak_reset)
                .and_then(procfs::memory)
                .map(|m| m.hwm_kib),
        };
        Ok((result, usage))
    }

    async fn row(
        &self,
        id: &'static str,
        name: &str,
        goal: Goal,
        ep: &Endpoint,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
    ) -> anyhow::Result<Row> {
        let http_ceiling = if goal.ceiling == Ceiling::Http {
            self.http_ceiling().await?
        } else {
            None
        };
        let signs_with = match goal.ceiling {
            Ceiling::Signing(alg) => Some(alg),
            Ceiling::Http => (goal.signatures > 0).then_some(goal.sign_alg),
        };
        let signing_ceiling = match signs_with {
            Some(alg) => Some(signing::measure_signing(
                alg,
                self.cores,
                Duration::from_secs(1),
            )?),
            None => None,
        };
        eprintln!("bench: {name} ...");
        let (load, usage) = self.measure(ep.addr, pid, workload).await?;
        Ok(Row {
            id,
            name: name.to_owned(),
            goal,
            outcome: Outcome::Measured { load, usage },
            note: None,
            problem: None,
            http_ceiling,
            signing_ceiling,
        })
    }
}

/// The server under test once set up.
struct Latchkey {
    pid: u32,
    base: String,
    host: String,
    addr: SocketAddr,
    discovery: Value,
    machine: (String, String),
    web: WebClient,
    username: String,
    seed: [u8; 32],
    browser: Option<Browser>,
}

impl Latchkey {
    fn endpoint(&self, path: &str) -> Endpoint {
        Endpoint {
            addr: self.addr,
            host: self.host.clone(),
            path: path.to_owned(),
        }
    }

    /// Signs the bench's user in once (real login and consent pages).
    async fn browser(&mut self) -> anyhow::Result<&Browser> {
        if self.browser.is_none() {
            let b = Browser::new(&self.base)?;
            b.sign_in(&self.web, &self.seed, &self.username, PASSWORD)
                .await
                .context("signing in through /login and /consent")?;
            self.browser = Some(b);
        }
        self.browser
            .as_ref()
            .ok_or_else(|| anyhow!("no browser session"))
    }
}

/// The JOSE `alg` of a compact JWS (not verified: only to label figures).
fn jws_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header["alg"].as_str().map(str::to_owned)
}

/// "RS256 JWT", or "opaque".
fn token_kind(token: &str) -> String {
    jws_alg(token).map_or_else(|| "opaque".to_owned(), |a| format!("{a} JWT"))
}

/// The signing ceiling a token of this kind is read against.
fn signing_alg(token: &str) -> Alg {
    jws_alg(token)
        .and_then(|a| Alg::parse(&a).ok())
        .unwrap_or(Alg::RS256)
}

/// One token request through reqwest, to fail early with the server's own
/// words rather than a column of errors.
async fn probe_token(
    url: &str,
    authorization: &str,
    form: &[(String, String)],
) -> anyhow::Result<String> {
    let resp = reqwest::Client::new()
        .post(url)
        .header(AUTHORIZATION, authorization)
        .form(form)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body = resp.text().await?;
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match v["access_token"].as_str() {
        Some(t) if status.is_success() => Ok(t.to_owned()),
        _ => bail!("POST {url} answered {status}: {body}"),
    }
}

async fn get_json(url: &str) -> anyhow::Result<Value> {
    let resp = reqwest::get(url)
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET {url} answered {status}");
    }
    Ok(resp.json().await?)
}

fn http_goal() -> Goal {
    Goal::new(Ceiling::Http)
}

// --- Scenarios. Each is one function: add a scenario by adding one. ---

async fn healthz(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let ep = lk.endpoint("/healthz");
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    Ok(vec![
        run.row(
            "ref",
            "healthz (Latchkey's own trivial route)",
            http_goal(),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}

async fn discovery(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let ep = lk.endpoint("/.well-known/openid-configuration");
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    Ok(vec![
        run.row(
            "6",
            "discovery",
            http_goal().at_least(0.8),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}

async fn jwks(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let ep = lk.endpoint("/jwks");
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    Ok(vec![
        run.row("6", "JWKS", http_goal().at_least(0.8), &ep, Some(lk.pid), w)
            .await?,
    ])
}

/// client_credentials with the server's default algorithm (RS256). The
/// ES256 figure comes from a second server, see [`es256_client_credentials`].
async fn client_credentials(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let token = probe_token(
        &format!("{}/token", lk.base),
        &basic_auth(&lk.machine.0, &lk.machine.1),
        &[("grant_type".into(), "client_credentials".into())],
    )
    .await?;
    let alg = signing_alg(&token);
    let goal = if alg == Alg::ES256 {
        http_goal().signs(1, alg).at_least(0.5)
    } else {
        Goal::new(Ceiling::Signing(alg)).signs(1, alg).at_least(0.7)
    };
    Ok(vec![cc_row(run, lk, &token_kind(&token), goal).await?])
}

async fn cc_row(run: &Run, lk: &Latchkey, kind: &str, goal: Goal) -> anyhow::Result<Row> {
    let ep = lk.endpoint("/token");
    let auth = basic_auth(&lk.machine.0, &lk.machine.1);
    let form = [("grant_type", "client_credentials")];
    let w = Arc::new(Fixed::post_form(&ep.host, &ep.path, &form)?.header(AUTHORIZATION, &auth)?);
    run.row(
        "1",
        &format!("client_credentials ({kind})"),
        goal,
        &ep,
        Some(lk.pid),
        w,
    )
    .await
}

/// The ES256 figures: the same database, KEK, user and clients, served by
/// a second server whose first algorithm is ES256 (it adds an ES256 key on
/// start; ID tokens stay RS256, the clients' default). Run after the first
/// server has stopped. Gives client_credentials and, if selected, refresh
/// rotation with ES256 access tokens, beside their RS256 rows.
async fn es256_server(
    run: &Run,
    setup: &ServerSetup,
    lk: &mut Latchkey,
    with_refresh: bool,
) -> anyhow::Result<(Vec<Row>, Option<procfs::Memory>)> {
    let cc_name = "client_credentials (ES256 JWT)";
    let cc_goal = http_goal().signs(1, Alg::ES256).at_least(0.5);
    let mut env = setup.env.clone();
    env.push(("LATCHKEY_KEYS__ALGORITHMS".into(), "ES256,RS256".into()));
    let es = ServerSetup {
        binary: setup.binary.clone(),
        dir: setup.dir.clone(),
        env,
    };
    eprintln!("bench: starting a second latchkey serve that signs with ES256 ...");
    let (guard, port) = match es.serve() {
        Ok(started) => started,
        Err(e) => {
            let why = format!(
                "not available in this build: LATCHKEY_KEYS__ALGORITHMS=ES256,RS256 refused ({e:#})"
            );
            return Ok((vec![Row::unavailable("1", cc_name, cc_goal, &why)], None));
        }
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = procfs::memory(guard.pid());
    lk.pid = guard.pid();
    lk.base = format!("http://127.0.0.1:{port}");
    lk.host = format!("127.0.0.1:{port}");
    lk.addr = SocketAddr::from((IpAddr::from([127, 0, 0, 1]), port));
    lk.browser = None;
    let token = probe_token(
        &format!("{}/token", lk.base),
        &basic_auth(&lk.machine.0, &lk.machine.1),
        &[("grant_type".into(), "client_credentials".into())],
    )
    .await?;
    let mut guard = guard;
    if jws_alg(&token).as_deref() != Some("ES256") {
        let why = format!(
            "not available in this build: with LATCHKEY_KEYS__ALGORITHMS=ES256,RS256 it still signs {}",
            token_kind(&token)
        );
        return Ok((vec![Row::unavailable("1", cc_name, cc_goal, &why)], idle));
    }
    let mut rows = vec![cc_row(run, lk, &token_kind(&token), cc_goal).await?];
    if with_refresh {
        rows.extend(refresh(run, lk, Alg::ES256).await?);
    }
    if let Some(status) = guard.exited() {
        let why = format!(
            "the ES256 server exited ({status}); its last words: {}",
            guard.stderr_tail().replace('\n', " / ")
        );
        for row in &mut rows {
            row.problem = Some(format!("the server exited ({status})"));
            row.note = Some(why.clone());
        }
    }
    drop(guard);
    Ok((rows, idle))
}

/// Codes prepared in bulk through the signed-in session (one GET /authorize
/// each, a 303 straight back with a code), then each redeemed once.
async fn authorization_code(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let seed = lk.seed;
    let web = lk.web.clone();
    let cookie = lk.browser().await?.cookie_header()?;
    let host = HeaderValue::from_str(&lk.host)?;
    let prepare = Arc::new(Authorize {
        client: web.clone(),
        host: host.clone(),
        cookie,
        seed,
        max_codes: run.args.max_codes,
        codes: Mutex::new(Vec::new()),
    });
    let ep = lk.endpoint("/authorize");
    let authorize = run
        .row(
            "2a",
            "authorize with a session (code preparation)",
            http_goal(),
            &ep,
            Some(lk.pid),
            prepare.clone(),
        )
        .await?;
    let codes = std::mem::take(&mut *prepare.codes.lock().map_err(|_| anyhow!("poisoned"))?);
    if codes.is_empty() {
        bail!("no authorization code could be prepared");
    }
    let exchange = Arc::new(CodeExchange {
        authorization: HeaderValue::from_str(&basic_auth(&web.id, &web.secret))?,
        client: web,
        host,
        seed,
        codes,
    });
    let ep = lk.endpoint("/token");
    let redeem = run
        .row(
            "2",
            "authorization_code exchange (RS256 access + ID token)",
            http_goal().signs(2, Alg::RS256),
            &ep,
            Some(lk.pid),
            exchange,
        )
        .await?;
    Ok(vec![authorize, redeem])
}

fn offers_refresh(discovery: &Value) -> bool {
    discovery["grant_types_supported"]
        .as_array()
        .is_some_and(|g| g.iter().any(|g| g == "refresh_token"))
}

/// A fresh user access token (code `n` through the signed-in session).
async fn user_access_token(lk: &mut Latchkey, n: u64) -> anyhow::Result<String> {
    let (web, seed) = (lk.web.clone(), lk.seed);
    let tokens = lk
        .browser()
        .await?
        .user_tokens(&web, &seed, n)
        .await
        .context("getting a user access token")?;
    tokens["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access_token in {tokens}"))
}

/// Revocation between instances: a second `latchkey serve` on the same
/// database (and Redis, if given) runs beside the first; each of `N` user
/// access tokens is revoked at the first and introspected at the second
/// until it is refused. Returns the report line.
async fn revocation_propagation(
    run: &Run,
    setup: &ServerSetup,
    lk: &mut Latchkey,
) -> anyhow::Result<String> {
    const N: u64 = 20;
    // Each wait is bounded: well past the database sync interval.
    const GIVE_UP: Duration = Duration::from_secs(5);
    eprintln!("bench: starting a second latchkey serve for revocation between instances ...");
    // Instances behind one issuer, as in a deployment.
    let issuer = lk.discovery["issuer"]
        .as_str()
        .ok_or_else(|| anyhow!("no issuer in discovery"))?;
    let mut env = setup.env.clone();
    env.push(("LATCHKEY_ISSUER".into(), issuer.to_owned()));
    let second = ServerSetup {
        binary: setup.binary.clone(),
        dir: setup.dir.clone(),
        env,
    };
    let (mut guard, port) = second.serve()?;
    let at_b = format!("http://127.0.0.1:{port}/introspect");
    let revoke_at_a = format!("{}/revoke", lk.base);
    let machine = basic_auth(&lk.machine.0, &lk.machine.1);
    let web = basic_auth(&lk.web.id, &lk.web.secret);
    let http = reqwest::Client::new();
    let active_at_b = |token: String| {
        let (http, url, auth) = (http.clone(), at_b.clone(), machine.clone());
        async move {
            let v: Value = http
                .post(&url)
                .header(AUTHORIZATION, auth)
                .form(&[("token", token.as_str())])
                .send()
                .await
                .with_context(|| format!("POST {url}"))?
                .json()
                .await?;
            anyhow::Ok(v["active"] == Value::Bool(true))
        }
    };
    let mut waits = Vec::new();
    for i in 0..N {
        let token = user_access_token(lk, u64::MAX - 100 - i).await?;
        if !active_at_b(token.clone()).await? {
            bail!("a live token was refused by the second instance before any revocation");
        }
        let resp = http
            .post(&revoke_at_a)
            .header(AUTHORIZATION, &web)
            .form(&[("token", token.as_str())])
            .send()
            .await
            .with_context(|| format!("POST {revoke_at_a}"))?;
        if !resp.status().is_success() {
            bail!("POST {revoke_at_a} answered {}", resp.status());
        }
        let revoked = Instant::now();
        loop {
            if !active_at_b(token.clone()).await? {
                waits.push(revoked.elapsed());
                break;
            }
            if revoked.elapsed() > GIVE_UP {
                bail!("a token revoked at the first instance was still active at the second after {GIVE_UP:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    if let Some(status) = guard.exited() {
        bail!("the second latchkey serve exited ({status})");
    }
    drop(guard);
    waits.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let how = if run.args.redis_url.is_some() {
        "Redis pub/sub"
    } else {
        "the database sync of the revocation mirror"
    };
    Ok(format!(
        "- revocation between instances ({how}): a token revoked at one `latchkey serve` was refused by introspection at a second after {:.1} ms median, {:.1} ms at most, {:.1} ms at least ({N} tokens, polled every millisecond)\n",
        ms(waits[waits.len() / 2]),
        ms(waits[waits.len() - 1]),
        ms(waits[0]),
    ))
}

/// Refresh-token rotation: one family per connection, each response's
/// refresh token presented next, so every request rotates. Afterwards each
/// family is audited over HTTP: the token the client holds must still
/// rotate (none lost), the one just used must be refused (none doubled),
/// and that refusal must end the family (reuse detection).
async fn refresh(run: &Run, lk: &mut Latchkey, alg: Alg) -> anyhow::Result<Vec<Row>> {
    let name = match alg {
        Alg::RS256 => "refresh-token rotation".to_owned(),
        other => format!("refresh-token rotation ({other} access token)"),
    };
    let name = name.as_str();
    // One access token signed per rotation.
    let goal = if run.is_postgres() {
        http_goal().signs(1, alg).at_least_rps(2000.0)
    } else {
        http_goal().signs(1, alg)
    };
    if !offers_refresh(&lk.discovery) {
        let why = "not available in this build: the server offers no refresh_token grant";
        return Ok(vec![Row::unavailable("3", name, goal, why)]);
    }
    let (web, seed) = (lk.web.clone(), lk.seed);
    let mut families = Vec::new();
    for i in 0..run.args.connections {
        let tokens = lk
            .browser()
            .await?
            .user_tokens(&web, &seed, u64::MAX - 100 - i)
            .await?;
        let token = tokens["refresh_token"].as_str().ok_or_else(|| {
            anyhow!(
                "no refresh_token from a client registered for the refresh_token grant: {tokens}"
            )
        })?;
        families.push(Mutex::new(Family {
            current: token.to_owned(),
            rotations: 0,
        }));
    }
    let ep = lk.endpoint("/token");
    let workload = Arc::new(RefreshRotation {
        host: HeaderValue::from_str(&ep.host)?,
        authorization: HeaderValue::from_str(&basic_auth(&web.id, &web.secret))?,
        families,
    });
    let mut row = run
        .row("3", name, goal, &ep, Some(lk.pid), workload.clone())
        .await?;
    let browser = lk.browser().await?;
    let (mut rotations, mut lost, mut doubled, mut kept) = (0, 0, 0, 0);
    for family in &workload.families {
        let family = family.lock().map_err(|_| anyhow!("poisoned"))?.clone();
        rotations += family.rotations;
        let (status, next) = browser.refresh(&web, &family.current).await?;
        let Some(next) = next.filter(|_| status.is_success()) else {
            lost += 1;
            continue;
        };
        if browser.refresh(&web, &family.current).await?.0.is_success() {
            doubled += 1;
        } else if browser.refresh(&web, &next).await?.0.is_success() {
            kept += 1;
        }
    }
    let n = workload.families.len();
    row.note = Some(format!(
        "{rotations} rotations over {n} families during the run; audited afterwards: \
         {lost} families lost (the held token no longer rotates), {doubled} doubled \
         (a used token accepted again), {kept} still usable after a reuse"
    ));
    if lost + doubled + kept > 0 {
        row.problem = Some(format!(
            "{lost} lost, {doubled} doubled, {kept} not ended by reuse"
        ));
    }
    Ok(vec![row])
}

/// RFC 7662 introspection of a live user access token (signature, expiry
/// and the revocation check of its jti, family and session), by the
/// machine client acting as a resource server.
async fn introspection(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let name = "introspection of a JWT access token";
    let goal = http_goal().at_least(0.5).p99_under_ms(5.0);
    let Some(url) = lk.discovery["introspection_endpoint"].as_str() else {
        let why = "not available in this build: no introspection_endpoint in discovery";
        return Ok(vec![Row::unavailable("4", name, goal, why)]);
    };
    let mut ep = Endpoint::parse(url)?;
    ep.addr = lk.addr;
    let token = user_access_token(lk, u64::MAX - 2).await?;
    let auth = basic_auth(&lk.machine.0, &lk.machine.1);
    let w = Fixed::post_form(
        &ep.host,
        &ep.path,
        &[("token", &token), ("token_type_hint", "access_token")],
    )?
    .header(AUTHORIZATION, &auth)?
    .body_contains(br#""active":true"#);
    let cache = if run.args.redis_url.is_some() {
        "revocation mirror + Redis"
    } else {
        "revocation mirror"
    };
    Ok(vec![
        run.row(
            "4",
            &format!("introspection ({}, {cache})", token_kind(&token)),
            goal,
            &ep,
            Some(lk.pid),
            Arc::new(w),
        )
        .await?,
    ])
}

async fn userinfo(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let token = user_access_token(lk, u64::MAX - 1).await?;
    let ep = lk.endpoint("/userinfo");
    let w = Arc::new(
        Fixed::get(&ep.host, &ep.path)?.header(AUTHORIZATION, &format!("Bearer {token}"))?,
    );
    Ok(vec![
        run.row(
            "5",
            &format!("userinfo ({})", token_kind(&token)),
            http_goal().at_least(0.5).p99_under_ms(5.0),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}

async fn scenario(name: &str, run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    match name {
        "healthz" => healthz(run, lk).await,
        "discovery" => discovery(run, lk).await,
        "jwks" => jwks(run, lk).await,
        "client_credentials" => client_credentials(run, lk).await,
        "authorization_code" => authorization_code(run, lk).await,
        "refresh" => refresh(run, lk, Alg::RS256).await,
        "introspection" => introspection(run, lk).await,
        "userinfo" => userinfo(run, lk).await,
        other => bail!("unknown scenario {other:?}"),
    }
}

/// The peer: client_credentials, discovery and JWKS, with the same load.
async fn peer(run: &Run) -> anyhow::Result<Vec<Row>> {
    let (Some(issuer), Some(id), Some(secret)) = (
        run.args.target.as_deref(),
        run.args.client_id.as_deref(),
        run.args.client_secret.as_deref(),
    ) else {
        return Ok(Vec::new());
    };
    let pid = run.args.target_pid;
    let issuer = issuer.trim_end_matches('/');
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    let ep = Endpoint::parse(&discovery_url)?;
    let meta = get_json(&discovery_url).await?;
    let url_of = |name: &str| {
        meta[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the peer's discovery has no {name}"))
    };
    let (token_url, jwks_url) = (url_of("token_endpoint")?, url_of("jwks_uri")?);
    let mut form: Vec<(String, String)> = vec![("grant_type".into(), "client_credentials".into())];
    for kv in &run.args.target_params {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--target-param wants K=V, got {kv:?}"))?;
        form.push((k.into(), v.into()));
    }
    let auth = basic_auth(id, secret);
    let token = probe_token(&token_url, &auth, &form).await?;
    let alg = signing_alg(&token);
    let mut rows = Vec::new();
    let token_ep = Endpoint::parse(&token_url)?;
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let w = Arc::new(
        Fixed::post_form(&token_ep.host, &token_ep.path, &pairs)?.header(AUTHORIZATION, &auth)?,
    );
    rows.push(
        run.row(
            "peer",
            &format!("peer client_credentials ({})", token_kind(&token)),
            Goal::new(Ceiling::Signing(alg)).signs(1, alg),
            &token_ep,
            pid,
            w,
        )
        .await?,
    );
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    rows.push(
        run.row("peer", "peer discovery", http_goal(), &ep, pid, w)
            .await?,
    );
    let jwks_ep = Endpoint::parse(&jwks_url)?;
    let w = Arc::new(Fixed::get(&jwks_ep.host, &jwks_ep.path)?);
    rows.push(
        run.row("peer", "peer JWKS", http_goal(), &jwks_ep, pid, w)
            .await?,
    );
    Ok(rows)
}

/// Starts and sets up the server under test in `dir`.
fn start_latchkey(
    args: &RunArgs,
    dir: &std::path::Path,
) -> anyhow::Result<(ChildGuard, ServerSetup, u16)> {
    let binary = server::find_latchkey(args.latchkey.as_deref())?;
    let mut env: Vec<(String, String)> = vec![
        ("LATCHKEY_BIND".into(), "127.0.0.1:0".into()),
        // Rewritten by the server to the port it got.
        ("LATCHKEY_ISSUER".into(), "http://127.0.0.1:0".into()),
        (
            "LATCHKEY_KEK_FILE".into(),
            match &args.kek_file {
                Some(path) => std::path::absolute(path)?.display().to_string(),
                None => dir.join("kek").display().to_string(),
            },
        ),
        (
            "LATCHKEY_DATABASE_URL".into(),
            args.database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}/latchkey.db", dir.display())),
        ),
        // Codes are prepared in bulk before they are redeemed.
        ("LATCHKEY_TOKENS__CODE_TTL".into(), "600".into()),
    ];
    if let Some(redis) = &args.redis_url {
        env.push(("LATCHKEY_REDIS_URL".into(), redis.clone()));
    }
    if args.workers > 0 {
        env.push(("LATCHKEY_WORKERS".into(), args.workers.to_string()));
    }
    let setup = ServerSetup {
        binary,
        dir: dir.to_owned(),
        env,
    };
    let (guard, port) = setup.serve()?;
    Ok((guard, setup, port))
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    OsRandom.fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let selected: Vec<String> = if args.scenarios.is_empty() {
        ALL_SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        for s in &args.scenarios {
            if !ALL_SCENARIOS.contains(&s.as_str()) {
                bail!(
                    "unknown scenario {s:?}; known: {}",
                    ALL_SCENARIOS.join(", ")
                );
            }
        }
        args.scenarios.clone()
    };
    // Fail before measuring anything if the server cannot be found.
    server::find_latchkey(args.latchkey.as_deref())?;
    let (model, cores) = procfs::machine();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.load_threads as usize)
        .enable_all()
        .build()?;
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("bench: interrupted; stopping the servers");
            INTERRUPTED.store(true, Ordering::Relaxed);
        }
    });
    let mut run = Run {
        args,
        cores,
        ceiling_server: None,
    };
    let database = match &run.args.database_url {
        Some(url) if url.starts_with("postgres") => "PostgreSQL",
        Some(_) => "the given database",
        None => "SQLite (fresh file)",
    };
    println!(
        "# latchkey-bench\n\nMachine: {} cores, {model}; load average {} at the start. Load: {} connections, \
         {} load-generator threads, {} s per scenario, server workers {}, {database}{}.\n",
        run.cores,
        procfs::load_average(),
        run.args.connections,
        run.args.load_threads,
        run.args.duration,
        if run.args.workers == 0 { "one per core".to_owned() } else { run.args.workers.to_string() },
        if run.args.redis_url.is_some() { " + Redis" } else { "" },
    );

    // 1. Ceilings, each on an otherwise idle machine.
    let secs = Duration::from_secs(run.args.ceiling_seconds);
    eprintln!("bench: signing ceilings ...");
    let rs256 = signing::measure(Alg::RS256, run.cores, secs)?;
    let es256 = signing::measure(Alg::ES256, run.cores, secs)?;
    if interrupted() {
        bail!("interrupted");
    }
    eprintln!("bench: HTTP ceiling ...");
    // Kept running (idle between measurements) until the run ends.
    let (ceiling_server, addr) = server::start_ceiling_server(run.args.workers)?;
    let http = {
        let pid = ceiling_server.pid();
        let w = Arc::new(Fixed::get(&addr.to_string(), "/")?);
        let measured = runtime.block_on(run.measure(addr, Some(pid), w))?;
        run.ceiling_server = Some((addr, pid));
        measured
    };
    let ceilings = Ceilings {
        rs256: Some(rs256),
        es256: Some(es256),
        http: Some(http),
    };

    // 2. The server under test, set up with its own command line.
    let dir = tempfile::Builder::new()
        .prefix("latchkey-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    eprintln!(
        "bench: starting latchkey serve in {} ...",
        dir.path().display()
    );
    let (guard, setup, port) = start_latchkey(&run.args, dir.path())?;
    let suffix = random_suffix();
    let username = format!("bench-{suffix}");
    setup.cli(
        &["user", "add", &username, "--password-stdin"],
        Some(PASSWORD),
    )?;
    let machine_name = format!("bench machine {suffix}");
    let mut machine_args = vec![
        "--name",
        &machine_name,
        "--grant-type",
        "client_credentials",
        "--scope",
        "api:read api:write",
    ];
    // The machine client is also the resource server that introspects the
    // web client's tokens, which needs an operator's permission.
    if setup.client_add_takes("--introspect") {
        machine_args.push("--introspect");
    }
    let machine = setup.add_client(&machine_args)?;
    let base = format!("http://127.0.0.1:{port}");
    let discovery = runtime.block_on(get_json(&format!(
        "{base}/.well-known/openid-configuration"
    )))?;
    let web_name = format!("bench web {suffix}");
    let mut web_args = vec![
        "--name",
        &web_name,
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid profile email",
    ];
    if offers_refresh(&discovery) {
        web_args.extend([
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ]);
    }
    let (web_id, web_secret) = setup.add_client(&web_args)?;
    // Idle: started, set up, nothing asked of it for a moment.
    std::thread::sleep(Duration::from_secs(1));
    let idle = procfs::memory(guard.pid());
    let mut lk = Latchkey {
        pid: guard.pid(),
        host: format!("127.0.0.1:{port}"),
        addr: SocketAddr::from((IpAddr::from([127, 0, 0, 1]), port)),
        base,
        discovery,
        machine,
        web: WebClient {
            id: web_id,
            secret: web_secret,
            redirect_uri: REDIRECT_URI.to_owned(),
        },
        username,
        seed: {
            let mut s = [0u8; 32];
            OsRandom.fill(&mut s);
            s
        },
        browser: None,
    };

    let mut rows = Vec::new();
    let mut guard = guard;
    for name in &selected {
        rows.extend(runtime.block_on(scenario(name, &run, &mut lk))?);
        if let Some(status) = guard.exited() {
            bail!(
                "latchkey serve exited ({status}) during {name}; its last words:\n{}",
                guard.stderr_tail()
            );
        }
    }
    let after = procfs::memory(guard.pid());
    let propagation = if selected.iter().any(|s| s == "introspection") {
        runtime.block_on(revocation_propagation(&run, &setup, &mut lk))?
    } else {
        String::new()
    };
    drop(guard);
    let mut es256_idle = None;
    if selected.iter().any(|s| s == "client_credentials") {
        let with_refresh = selected.iter().any(|s| s == "refresh");
        let (es_rows, idle) =
            runtime.block_on(es256_server(&run, &setup, &mut lk, with_refresh))?;
        es256_idle = idle;
        // Each beside its RS256 row.
        for row in es_rows {
            let kind = row.name.split(' ').next().unwrap_or_default().to_owned();
            let at = rows
                .iter()
                .rposition(|r| r.name.split(' ').next() == Some(kind.as_str()))
                .map_or(rows.len(), |i| i + 1);
            rows.insert(at, row);
        }
    }
    drop(dir);

    // 3. The peer, if any, with the same generator.
    rows.extend(runtime.block_on(peer(&run))?);
    drop(ceiling_server);

    println!(
        "## Ceilings (measured in this run)\n\n{}",
        report::ceilings_table(&ceilings)
    );
    println!(
        "## Scenarios\n\n{}",
        report::scenarios_table(&rows, &ceilings)
    );
    let peak = rows
        .iter()
        .filter(|r| !r.id.starts_with("peer"))
        .filter_map(|r| match &r.outcome {
            Outcome::Measured { usage, .. } => usage.peak_kib,
            Outcome::Unavailable(_) => None,
        })
        .max();
    let verdict = |kib: Option<u64>, limit_mib: f64| match kib {
        Some(k) if report::mib(k) < limit_mib => {
            format!("{:.1} MiB (target < {limit_mib} MiB: met)", report::mib(k))
        }
        Some(k) => format!(
            "{:.1} MiB (target < {limit_mib} MiB: **missed** by {:.1} MiB)",
            report::mib(k),
            report::mib(k) - limit_mib
        ),
        None => "not measured".to_owned(),
    };
    print!("{propagation}");
    println!(
        "## Memory of latchkey serve\n\n- idle (after start and setup): {}\n- peak under load (highest per-scenario VmHWM): {}\n- resident after its scenarios: {}\n{}\nLoad average at the end: {}.",
        verdict(idle.map(|m| m.rss_kib), 50.0),
        verdict(peak, 150.0),
        after.map_or("-".to_owned(), |m| format!("{:.1} MiB", report::mib(m.rss_kib))),
        es256_idle.map_or(String::new(), |m| format!(
            "- idle, the second (ES256) server: {}\n",
            verdict(Some(m.rss_kib), 50.0)
        )),
        procfs::load_average(),
    );
    Ok(())
}
