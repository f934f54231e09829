//! The scenarios, each in the file named as `--scenarios` names it, plus
//! the runs beside them: the ES256 server (`es256`), revocation between two
//! instances (`revocation_propagation`) and the peer (`peer`).
//!
//! A scenario is one async function returning its rows; refresh-token
//! rotation and introspection are checked against what the server
//! advertises and reported as unavailable until it offers them. Add one by
//! adding its file, its name to [`ALL`] and its line to [`run_one`].

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, bail, Context};
use hyper::header::AUTHORIZATION;
use latchkey_keys::Alg;
use serde_json::Value;

use crate::report::{Ceiling, Goal, Row};
use crate::runner::Run;
use crate::workloads::{Browser, WebClient};

mod authorization_code;
mod client_credentials;
mod discovery;
mod dpop;
mod es256;
mod healthz;
mod introspection;
mod jwks;
mod peer;
mod refresh;
mod revocation_propagation;
mod userinfo;

pub(crate) use es256::es256_server;
pub(crate) use peer::peer;
pub(crate) use revocation_propagation::revocation_propagation;

/// Every scenario, in the order a run takes them.
pub(crate) const ALL: [&str; 9] = [
    "healthz",
    "discovery",
    "jwks",
    "client_credentials",
    "authorization_code",
    "refresh",
    "introspection",
    "userinfo",
    "dpop",
];

/// The password of the bench's user; only ever sent to the loopback server.
pub(crate) const PASSWORD: &str = "bench-password-not-a-secret";

/// The rows of scenario `name` (one of [`ALL`]).
pub(crate) async fn run_one(name: &str, run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    match name {
        "healthz" => healthz::healthz(run, lk).await,
        "discovery" => discovery::discovery(run, lk).await,
        "jwks" => jwks::jwks(run, lk).await,
        "client_credentials" => client_credentials::client_credentials(run, lk).await,
        "authorization_code" => authorization_code::authorization_code(run, lk).await,
        "refresh" => refresh::refresh(run, lk, Alg::RS256).await,
        "introspection" => introspection::introspection(run, lk).await,
        "userinfo" => userinfo::userinfo(run, lk).await,
        "dpop" => dpop::dpop(run, lk).await,
        other => bail!("unknown scenario {other:?}"),
    }
}

/// An HTTP server under load: where to connect and what to say in `Host`.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    pub(crate) host: String,
    /// Origin-form path (and query) of the resource.
    pub(crate) path: String,
}

impl Endpoint {
    /// A loopback `http://` URL; anything else is refused.
    pub(crate) fn parse(url: &str) -> anyhow::Result<Endpoint> {
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

/// The server under test once set up.
pub(crate) struct Latchkey {
    pub(crate) pid: u32,
    pub(crate) base: String,
    pub(crate) host: String,
    pub(crate) addr: SocketAddr,
    pub(crate) discovery: Value,
    pub(crate) machine: (String, String),
    pub(crate) web: WebClient,
    pub(crate) username: String,
    pub(crate) seed: [u8; 32],
    pub(crate) browser: Option<Browser>,
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

pub(crate) async fn get_json(url: &str) -> anyhow::Result<Value> {
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

pub(crate) fn offers_refresh(discovery: &Value) -> bool {
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
