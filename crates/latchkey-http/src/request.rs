//! Reading requests strictly: the exact Content-Type, a size limit, and
//! parameters parsed once with the protocol's duplicate rules.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use latchkey_protocol::{OAuthError, Params};

/// The largest form body any endpoint accepts.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// The longest query string `/authorize` accepts.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

pub const FORM: &str = "application/x-www-form-urlencoded";

/// Whether the request declares exactly a form body (UTF-8 if a charset is
/// given).
pub fn is_form(req: &HttpRequest) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    if !parts.next().is_some_and(|m| m.eq_ignore_ascii_case(FORM)) {
        return false;
    }
    parts.all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    })
}

/// Reads a form body: wrong type or too large is `invalid_request`.
pub async fn read_form(req: &HttpRequest, mut payload: web::Payload) -> Result<Params, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_limited(&mut payload, MAX_FORM_BYTES).await?;
    Params::parse(&body)
}

/// The largest JSON body (registration and admin APIs) accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

pub const JSON: &str = "application/json";

/// Whether the request declares exactly a JSON body (UTF-8 if a charset is
/// given). Anything else, `text/plain` and forms included, is refused: a
/// browser can send those cross-site without a preflight (CSRF).
pub fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    if !parts.next().is_some_and(|m| m.eq_ignore_ascii_case(JSON)) {
        return false;
    }
    parts.all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    })
}

/// Reads a JSON body: wrong type or too large is `invalid_request`. The
/// bytes are parsed by the caller, into the type it expects.
pub async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, OAuthError> {
    if !is_json(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/json",
        ));
    }
    read_limited(&mut payload, MAX_JSON_BYTES).await
}

/// Reads a body of any type up to `limit` bytes.
pub async fn read_limited(payload: &mut web::Payload, limit: usize) -> Result<Vec<u8>, OAuthError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::invalid_request("could not read the request body"))?;
        if body.len() + chunk.len() > limit {
            return Err(OAuthError::invalid_request("the request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub fn query(req: &HttpRequest) -> Result<Params, OAuthError> {
    let q = req.query_string();
    if q.len() > MAX_QUERY_BYTES {
        return Err(OAuthError::invalid_request("the query string is too long"));
    }
    Params::parse(q.as_bytes())
}

pub fn header_str(req: &HttpRequest, name: header::HeaderName) -> Result<Option<&str>, OAuthError> {
    let mut values = req.headers().get_all(&name);
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(format!(
            "repeated {name} header"
        )));
    }
    first
        .map(|v| {
            v.to_str()
                .map_err(|_| OAuthError::invalid_request(format!("malformed {name} header")))
        })
        .transpose()
}

/// The peer's address. Forwarded headers are not trusted: they are set by
/// whoever sends the request.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
