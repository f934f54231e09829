//! DPoP (RFC 9449) at the HTTP edge: the `DPoP` header read once, and
//! Latchkey's nonce handed out in `DPoP-Nonce` wherever proofs are taken.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use latchkey_core::support::dpop::Presentation;
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::{parse_access_token, TokenScheme};
use latchkey_protocol::claims::AccessTokenClaims;
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

/// Checks the access token a protected resource is shown: `Bearer` or
/// `DPoP` in the `Authorization` header (never elsewhere), with the
/// request's proof. Every protected resource goes through here, so a token
/// bound to a key is nowhere accepted without a proof of it. Returns its
/// claims, and whether DPoP was in play (for the answer's nonce).
pub async fn protected(
    req: &HttpRequest,
    app: &Latchkey,
) -> Result<(AccessTokenClaims, bool), ApiError> {
    let (scheme, token) = header_str(req, header::AUTHORIZATION)
        .and_then(|h| h.map(parse_access_token).transpose())
        .map_err(|e| ApiError::Bearer(Some(e)))?
        .ok_or(ApiError::Bearer(None))?;
    let proof = proof(req, app, true)?;
    let in_play = scheme == TokenScheme::Dpop || proof.is_some();
    let presented = Presentation {
        scheme,
        token,
        proof: proof.as_deref(),
        method: req.method().as_str(),
    };
    let claims = app
        .protected_resource()
        .token(&presented, req.path())
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, path = req.path(), "access token refused");
            refusal(app, e.to_oauth(), in_play || e.is_dpop(), true)
        })?;
    Ok((claims, proof.is_some()))
}
