//! Turning protocol errors into responses, in one place. A handler or an
//! extractor returns an [`ApiError`] saying only which kind of answer the
//! caller gets; the status comes from the protocol's error table, and the
//! headers from here: `Cache-Control: no-store` on every JSON error, the
//! `WWW-Authenticate` challenge where the RFCs ask for one, and an HTML page
//! where a browser is talking to Latchkey. A 500 never carries internal
//! detail.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use latchkey_protocol::{ErrorCode, OAuthError};
use serde::Serialize;

use crate::response::{page, render};

/// A refused request, as the caller will see it.
#[derive(Debug)]
pub enum ApiError {
    /// A JSON body (RFC 6749 §5.2), with a Basic challenge when client
    /// authentication failed.
    Json(OAuthError),
    /// A protected resource's refusal (RFC 6750 §3): the challenge carries
    /// the error code; `None` when the request carried no token at all.
    Bearer(Option<OAuthError>),
    /// The HTML error page: a browser is talking to Latchkey and no
    /// redirect to the client is safe.
    Page(OAuthError),
    /// A refusal where DPoP (RFC 9449) is involved, with Latchkey's current
    /// nonce in `DPoP-Nonce`: as JSON at the authorization server, or, at a
    /// protected resource (`challenge`), with a `DPoP` challenge (§7.1).
    Dpop {
        error: OAuthError,
        challenge: bool,
        nonce: String,
    },
}

/// What a handler answers: a response, or a refusal rendered by
/// [`ApiError`].
pub type ApiResult = Result<HttpResponse, ApiError>;

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> ApiError {
        ApiError::Json(e)
    }
}

impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> ApiError {
        match never {}
    }
}

impl ApiError {
    fn oauth(&self) -> Option<&OAuthError> {
        match self {
            ApiError::Json(e)
            | ApiError::Page(e)
            | ApiError::Bearer(Some(e))
            | ApiError::Dpop { error: e, .. } => Some(e),
            ApiError::Bearer(None) => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.oauth() {
            Some(e) => e.fmt(f),
            None => f.write_str("an access token is required"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Json(e) | ApiError::Bearer(Some(e)) => status(e),
            ApiError::Bearer(None) => StatusCode::UNAUTHORIZED,
            ApiError::Page(e) => page_status(e),
            ApiError::Dpop {
                error, challenge, ..
            } => dpop_status(error, *challenge),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Json(e) => json_error(e),
            ApiError::Bearer(e) => bearer_error(e.as_ref()),
            ApiError::Page(e) => error_page(e),
            ApiError::Dpop {
                error,
                challenge,
                nonce,
            } => dpop_error(error, *challenge, nonce),
        }
    }
}

/// A protected resource answers a DPoP refusal with 401 (403 for a scope
/// the token lacks); the authorization server with the code's own status.
fn dpop_status(e: &OAuthError, challenge: bool) -> StatusCode {
    match (challenge, e.code) {
        (true, ErrorCode::InsufficientScope) => StatusCode::FORBIDDEN,
        (true, _) => StatusCode::UNAUTHORIZED,
        (false, _) => status(e),
    }
}

/// RFC 9449 §7.1 and §8–9: the error, a `DPoP` challenge naming the
/// accepted algorithms where a resource refuses, and the nonce to use.
fn dpop_error(e: &OAuthError, challenge: bool, nonce: &str) -> HttpResponse {
    let mut resp = json_error(e);
    *resp.status_mut() = dpop_status(e, challenge);
    let h = resp.headers_mut();
    if challenge {
        let value = format!(
            r#"DPoP error="{}", algs="{}""#,
            e.code.as_str(),
            latchkey_core::support::dpop::PROOF_ALGS
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    if let Ok(v) = header::HeaderValue::from_str(nonce) {
        h.insert(header::HeaderName::from_static("dpop-nonce"), v);
    }
    resp
}

// Only the OpenAPI document's description of an `OAuthError` on the wire
// (the doc comment below becomes the schema's description).
/// An error answer (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// e.g. `invalid_client_metadata`, `invalid_redirect_uri`,
    /// `invalid_token`, `invalid_request`, `not_found`.
    pub error: String,
    pub error_description: Option<String>,
}

fn status(e: &OAuthError) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// A JSON error response (RFC 6749 §5.2 shape).
fn json_error(e: &OAuthError) -> HttpResponse {
    let mut resp = HttpResponse::build(status(e));
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if e.code == ErrorCode::InvalidClient {
        resp.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="latchkey""#));
    }
    resp.json(e)
}

/// An error from a protected resource (RFC 6750 §3): the challenge carries
/// the error code; a request with no token at all gets a bare challenge.
fn bearer_error(e: Option<&OAuthError>) -> HttpResponse {
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

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    code: &'a str,
    description: &'a str,
}

/// A page says 400 where JSON would say 401: a 401 must carry a
/// challenge, and a browser has none to answer.
fn page_status(e: &OAuthError) -> StatusCode {
    match status(e) {
        StatusCode::UNAUTHORIZED => StatusCode::BAD_REQUEST,
        other => other,
    }
}

/// The error page shown when no redirect to the client is safe.
fn error_page(e: &OAuthError) -> HttpResponse {
    render(
        page(page_status(e)),
        &ErrorPage {
            code: e.code.as_str(),
            description: e.description.as_deref().unwrap_or(""),
        },
    )
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
        ApiError::Page(e)
    } else {
        ApiError::Json(e)
    }
    .error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(resp: &HttpResponse, name: header::HeaderName) -> Option<&str> {
        resp.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn each_kind_of_refusal_gets_its_status_and_challenge() {
        let json = ApiError::Json(OAuthError::bare(ErrorCode::InvalidClient)).error_response();
        assert_eq!(json.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&json, header::WWW_AUTHENTICATE),
            Some(r#"Basic realm="latchkey""#)
        );
        assert_eq!(header(&json, header::CACHE_CONTROL), Some("no-store"));

        let bare = ApiError::Bearer(None).error_response();
        assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&bare, header::WWW_AUTHENTICATE),
            Some(r#"Bearer realm="latchkey""#)
        );

        let scope = ApiError::Bearer(Some(OAuthError::bare(ErrorCode::InsufficientScope)));
        assert_eq!(scope.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(
            header(&scope.error_response(), header::WWW_AUTHENTICATE),
            Some(r#"Bearer realm="latchkey", error="insufficient_scope", scope="openid""#)
        );

        let page = ApiError::Page(OAuthError::bare(ErrorCode::InvalidToken));
        let resp = page.error_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(page.status_code(), resp.status());
        assert!(header(&resp, header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
        assert_eq!(header(&resp, header::WWW_AUTHENTICATE), None);
    }

    #[test]
    fn a_server_error_says_nothing_more() {
        let e = ApiError::from(OAuthError::bare(ErrorCode::ServerError));
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "server_error");
    }
}
