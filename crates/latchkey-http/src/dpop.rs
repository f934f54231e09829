//! DPoP (RFC 9449) at the HTTP edge: the `DPoP` header read once, and
//! Latchkey's nonce handed out in `DPoP-Nonce` wherever proofs are taken.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::{ErrorCode, OAuthError};

use crate::error::ApiError;
use crate::request::header_str;

pub const DPOP: HeaderName = HeaderName::from_static("dpop");
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The request's proof: at most one `DPoP` header (RFC 9449 §4.3).
pub fn proof(
    req: &HttpRequest,
    app: &Latchkey,
    challenge: bool,
) -> Result<Option<String>, ApiError> {
    header_str(req, DPOP)
        .map(|p| p.map(str::to_owned))
        .map_err(|_| ApiError::Dpop {
            error: OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "a request carries at most one DPoP header, in ASCII",
            ),
            challenge,
            nonce: app.proofs().nonce(),
        })
}

/// A refusal: with the nonce (and, at a resource, the DPoP challenge)
/// when DPoP is in play, the plain error otherwise.
pub fn refusal(app: &Latchkey, error: OAuthError, in_play: bool, challenge: bool) -> ApiError {
    let about_dpop = matches!(
        error.code,
        ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
    );
    if in_play || about_dpop {
        ApiError::Dpop {
            error,
            challenge,
            nonce: app.proofs().nonce(),
        }
    } else if challenge {
        ApiError::Bearer(Some(error))
    } else {
        ApiError::Json(error)
    }
}

/// Adds the current nonce to an answer to a request that carried a proof,
/// so the client's next proof has it before it is asked for.
pub fn with_nonce(app: &Latchkey, mut resp: HttpResponse, had_proof: bool) -> HttpResponse {
    if had_proof {
        if let Ok(v) = HeaderValue::from_str(&app.proofs().nonce()) {
            resp.headers_mut().insert(DPOP_NONCE, v);
        }
    }
    resp
}
