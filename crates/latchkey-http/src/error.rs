//! Turning protocol errors into responses, in one place: JSON bodies with
//! the status from the error table, `Cache-Control: no-store`, and the
//! `WWW-Authenticate` challenge where the RFCs ask for one. A 500 never
//! carries internal detail.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_protocol::{ErrorCode, OAuthError};

use crate::pages;

/// A JSON error response (RFC 6749 §5.2 shape).
pub fn json_error(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if e.code == ErrorCode::InvalidClient {
        resp.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="latchkey""#));
    }
    resp.json(e)
}

/// An error from a protected resource (RFC 6750 §3): the challenge carries
/// the error code; a request with no token at all gets a bare challenge.
pub fn bearer_error(e: Option<&OAuthError>) -> HttpResponse {
    match e {
        None => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="latchkey""#))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(OAuthError::new(
                ErrorCode::InvalidToken,
                "an access token is required in the Authorization header",
            )),
        Some(e) => {
            let mut resp = json_error(e);
            let challenge = format!(
                r#"Bearer realm="latchkey", error="{}"{}"#,
                e.code.as_str(),
                match e.code {
                    ErrorCode::InsufficientScope => r#", scope="openid""#,
                    _ => "",
                }
            );
            if let Ok(v) = header::HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            resp
        }
    }
}

/// Unknown routes: JSON for API callers, never a framework page.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let e = OAuthError::new(ErrorCode::NotFound, "no such endpoint");
    if wants_html {
        pages::error_page(&e)
    } else {
        json_error(&e)
    }
}
