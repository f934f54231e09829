//! The requests each scenario sends, and the one-time browser work some of
//! them need first (signing in through the real login and consent pages).

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use hyper::http::response::Parts;
use hyper::{Method, Request, StatusCode};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};
use url::form_urlencoded;

use crate::dpop::ProofPool;
use crate::load::Workload;

const FORM: &str = "application/x-www-form-urlencoded";

/// `client_secret_basic` credentials (RFC 6749 §2.3.1: form-encoded, then
/// base64).
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

/// The same request every time; success is one status code.
pub struct Fixed {
    method: Method,
    uri: String,
    host: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    expect: StatusCode,
    /// Bytes the response body must contain, if any.
    expect_in_body: Option<&'static [u8]>,
}

impl Fixed {
    pub fn get(host: &str, uri: &str) -> anyhow::Result<Fixed> {
        Ok(Fixed {
            method: Method::GET,
            uri: uri.to_owned(),
            host: HeaderValue::from_str(host)?,
            headers: Vec::new(),
            body: Bytes::new(),
            expect: StatusCode::OK,
            expect_in_body: None,
        })
    }

    pub fn post_form(host: &str, uri: &str, form: &[(&str, &str)]) -> anyhow::Result<Fixed> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut f = Fixed::get(host, uri)?;
        f.method = Method::POST;
        f.headers
            .push((CONTENT_TYPE, HeaderValue::from_static(FORM)));
        f.body = Bytes::from(body);
        Ok(f)
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> anyhow::Result<Fixed> {
        self.headers.push((name, HeaderValue::from_str(value)?));
        Ok(self)
    }

    /// Success also requires `needle` in the response body.
    pub fn body_contains(mut self, needle: &'static [u8]) -> Fixed {
        self.expect_in_body = Some(needle);
        self
    }
}

impl Workload for Fixed {
    fn request(&self, _conn: usize, _n: u64) -> Option<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.uri)
            .header(HOST, self.host.clone());
        for (name, value) in &self.headers {
            builder = builder.header(name, value.clone());
        }
        builder.body(Full::new(self.body.clone())).ok()
    }

    fn check(&self, _conn: usize, _n: u64, head: &Parts, body: &Bytes) -> bool {
        head.status == self.expect
            && self
                .expect_in_body
                .is_none_or(|needle| body.windows(needle.len()).any(|w| w == needle))
    }
}

/// A [`Fixed`] request with a fresh DPoP proof in each (`DPoP` header),
/// from a pool signed before the window.
pub struct WithProof {
    pub request: Fixed,
    pub proofs: Arc<ProofPool>,
}

impl Workload for WithProof {
    fn request(&self, conn: usize, n: u64) -> Option<Request<Full<Bytes>>> {
        let mut request = self.request.request(conn, n)?;
        request
            .headers_mut()
            .insert(HeaderName::from_static("dpop"), self.proofs.get(n)?);
        Some(request)
    }

    fn check(&self, conn: usize, n: u64, head: &Parts, body: &Bytes) -> bool {
        self.request.check(conn, n, head, body)
    }
}

/// The PKCE verifier of the `n`-th code of a run: derived from a per-run
/// random seed, so none has to be stored between preparing the code and
/// redeeming it.
pub fn pkce_verifier(seed: &[u8; 32], n: u64) -> String {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(n.to_le_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A web client registered for the authorization-code flow.
#[derive(Clone)]
pub struct WebClient {
    pub id: String,
    pub secret: String,
    pub redirect_uri: String,
}

/// The authorization URL's path and query for the `n`-th code.
fn authorize_uri(client: &WebClient, seed: &[u8; 32], n: u64) -> String {
    let challenge = pkce_challenge(&pkce_verifier(seed, n));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", &format!("s{n}"))
        .append_pair("nonce", &format!("n{n}"))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/authorize?{query}")
}

/// `GET /authorize` with a signed-in, consented browser session: each
/// request answers 303 straight back to the client with a code, which is
/// kept for the exchange scenario.
pub struct Authorize {
    pub client: WebClient,
    pub host: HeaderValue,
    pub cookie: HeaderValue,
    pub seed: [u8; 32],
    pub max_codes: u64,
    /// (n, code): n gives the code's PKCE verifier.
    pub codes: Mutex<Vec<(u64, String)>>,
}

impl Workload for Authorize {
    fn request(&self, _conn: usize, n: u64) -> Option<Request<Full<Bytes>>> {
        if n >= self.max_codes {
            return None;
        }
        Request::get(authorize_uri(&self.client, &self.seed, n))
            .header(HOST, self.host.clone())
            .header(COOKIE, self.cookie.clone())
            .body(Full::new(Bytes::new()))
            .ok()
    }

    fn check(&self, _conn: usize, n: u64, head: &Parts, _body: &Bytes) -> bool {
        if head.status != StatusCode::SEE_OTHER {
            return false;
        }
        let Some(location) = head.headers.get(LOCATION).and_then(|l| l.to_str().ok()) else {
            return false;
        };
        let Some(query) = location
            .strip_prefix(self.client.redirect_uri.as_str())
            .and_then(|rest| rest.strip_prefix('?'))
        else {
            return false;
        };
        let (mut code, mut state_ok) = (None, false);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "code" => code = Some(v.into_owned()),
                "state" => state_ok = v == format!("s{n}"),
                _ => {}
            }
        }
        match (code, state_ok, self.codes.lock()) {
            (Some(code), true, Ok(mut codes)) => {
                codes.push((n, code));
                true
            }
            _ => false,
        }
    }
}

/// `POST /token` with `grant_type=authorization_code`: one prepared code
/// per request, its own PKCE verifier, client_secret_basic.
pub struct CodeExchange {
    pub client: WebClient,
    pub host: HeaderValue,
    pub authorization: HeaderValue,
    pub seed: [u8; 32],
    pub codes: Vec<(u64, String)>,
}

impl Workload for CodeExchange {
    fn request(&self, _conn: usize, n: u64) -> Option<Request<Full<Bytes>>> {
        let (i, code) = self.codes.get(usize::try_from(n).ok()?)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.client.redirect_uri)
            .append_pair("code_verifier", &pkce_verifier(&self.seed, *i))
            .finish();
        Request::post("/token")
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, FORM)
            .header(AUTHORIZATION, self.authorization.clone())
            .body(Full::new(Bytes::from(body)))
            .ok()
    }

    fn check(&self, _conn: usize, _n: u64, head: &Parts, _body: &Bytes) -> bool {
        head.status == StatusCode::OK
    }
}

/// One refresh-token family: the token to present next, and what the run
/// did with it.
#[derive(Debug, Clone, Default)]
pub struct Family {
    pub current: String,
    pub rotations: u64,
}

/// `POST /token` with `grant_type=refresh_token`: one family per
/// connection, each response's new refresh token presented next, so every
/// request is a real rotation.
pub struct RefreshRotation {
    pub host: HeaderValue,
    pub authorization: HeaderValue,
    pub families: Vec<Mutex<Family>>,
}

impl Workload for RefreshRotation {
    fn request(&self, conn: usize, _n: u64) -> Option<Request<Full<Bytes>>> {
        let token = self.families.get(conn)?.lock().ok()?.current.clone();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", &token)
            .finish();
        Request::post("/token")
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, FORM)
            .header(AUTHORIZATION, self.authorization.clone())
            .body(Full::new(Bytes::from(body)))
            .ok()
    }

    fn check(&self, conn: usize, _n: u64, head: &Parts, body: &Bytes) -> bool {
        if head.status != StatusCode::OK {
            return false;
        }
        let next = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["refresh_token"].as_str().map(str::to_owned));
        match (next, self.families.get(conn).map(|f| f.lock())) {
            (Some(next), Some(Ok(mut family))) => {
                family.current = next;
                family.rotations += 1;
                true
            }
            _ => false,
        }
    }
}

/// A browser that keeps cookies and reads redirects instead of following
/// them, signed in through the real pages.
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

fn location(resp: &reqwest::Response) -> anyhow::Result<String> {
    resp.headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("expected a redirect, got HTTP {}", resp.status()))
}

/// The value of a hidden form input.
pub fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .ok_or_else(|| anyhow!("the page has no {name} input"))?
        + marker.len();
    let end = html[start..]
        .find('"')
        .ok_or_else(|| anyhow!("unterminated {name} input"))?;
    Ok(html[start..start + end].to_owned())
}

impl Browser {
    pub fn new(base: &str) -> anyhow::Result<Browser> {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Browser {
            http,
            jar,
            base: base.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The `Cookie` header this browser sends to the server.
    pub fn cookie_header(&self) -> anyhow::Result<HeaderValue> {
        let url = url::Url::parse(&self.base)?;
        let value = self
            .jar
            .cookies(&url)
            .ok_or_else(|| anyhow!("the browser holds no cookie after signing in"))?;
        Ok(HeaderValue::from_bytes(value.as_bytes())?)
    }

    /// Signs `username` in and approves consent for `client`, through the
    /// real pages; returns the redirect back to the client.
    pub async fn sign_in(
        &self,
        client: &WebClient,
        seed: &[u8; 32],
        username: &str,
        password: &str,
    ) -> anyhow::Result<String> {
        let resp = self
            .http
            .get(self.url(&authorize_uri(client, seed, u64::MAX)))
            .send()
            .await?;
        let mut next = location(&resp).context("GET /authorize")?;
        if next.starts_with("/login") {
            let page = self.http.get(self.url(&next)).send().await?.text().await?;
            let resp = self
                .http
                .post(self.url("/login"))
                .form(&[
                    ("req", hidden(&page, "req")?.as_str()),
                    ("csrf", hidden(&page, "csrf")?.as_str()),
                    ("username", username),
                    ("password", password),
                ])
                .send()
                .await?;
            next = location(&resp).context("POST /login (wrong password?)")?;
        }
        if next.starts_with("/consent") {
            let page = self.http.get(self.url(&next)).send().await?.text().await?;
            let resp = self
                .http
                .post(self.url("/consent"))
                .form(&[
                    ("req", hidden(&page, "req")?.as_str()),
                    ("csrf", hidden(&page, "csrf")?.as_str()),
                    ("decision", "approve"),
                ])
                .send()
                .await?;
            next = location(&resp).context("POST /consent")?;
        }
        if !next.starts_with(&client.redirect_uri) {
            bail!("signing in ended at {next}, not at the client");
        }
        Ok(next)
    }

    /// One code through the signed-in session, redeemed at once: the token
    /// response (a user access token, and a refresh token if the client may
    /// refresh).
    pub async fn user_tokens(
        &self,
        client: &WebClient,
        seed: &[u8; 32],
        n: u64,
    ) -> anyhow::Result<serde_json::Value> {
        self.user_tokens_with(client, seed, n, None).await
    }

    /// The same, the code redeemed with a DPoP proof if given (the access
    /// token is then bound to the proof's key).
    pub async fn user_tokens_with(
        &self,
        client: &WebClient,
        seed: &[u8; 32],
        n: u64,
        dpop: Option<&str>,
    ) -> anyhow::Result<serde_json::Value> {
        let resp = self
            .http
            .get(self.url(&authorize_uri(client, seed, n)))
            .send()
            .await?;
        let back = location(&resp).context("GET /authorize with a session")?;
        let code = url::Url::parse(&back)?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow!("no code in {back}"))?;
        let mut req = self
            .http
            .post(self.url("/token"))
            .header(AUTHORIZATION, basic_auth(&client.id, &client.secret));
        if let Some(proof) = dpop {
            req = req.header("DPoP", proof);
        }
        let resp = req
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", client.redirect_uri.as_str()),
                ("code_verifier", pkce_verifier(seed, n).as_str()),
            ])
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        if !status.is_success() || !body["access_token"].is_string() {
            bail!("the token endpoint answered {status}: {body}");
        }
        Ok(body)
    }

    /// One refresh, outside the measurement: the status and the new
    /// refresh token, if any.
    pub async fn refresh(
        &self,
        client: &WebClient,
        token: &str,
    ) -> anyhow::Result<(StatusCode, Option<String>)> {
        let resp = self
            .http
            .post(self.url("/token"))
            .header(AUTHORIZATION, basic_auth(&client.id, &client.secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .send()
            .await?;
        let status = StatusCode::from_u16(resp.status().as_u16())?;
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        Ok((status, body["refresh_token"].as_str().map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_pairs_follow_rfc7636() {
        let seed = [3u8; 32];
        let v = pkce_verifier(&seed, 7);
        assert_eq!(v.len(), 43);
        assert_ne!(v, pkce_verifier(&seed, 8));
        assert_eq!(v, pkce_verifier(&seed, 7));
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn basic_auth_form_encodes_first() {
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
        // "a:b" in the secret must not split the pair.
        assert_eq!(
            basic_auth("id", "x:y"),
            format!("Basic {}", STANDARD.encode("id:x%3Ay"))
        );
    }
}
