//! `GET|POST /userinfo` (OIDC Core §5.3). The access token is accepted in
//! the `Authorization` header only: a token in a URL ends up in logs and
//! referrers, one in a form body invites CSRF (RFC 6750 §2, §5.3).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::userinfo::Presentation;
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::{parse_access_token, TokenScheme};
use latchkey_protocol::{OAuthError, Params};

use crate::dpop;
use crate::error::{ApiError, ApiResult};
use crate::request::{declares, header_str, read_limited, FORM, MAX_FORM_BYTES};

pub async fn userinfo(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    mut payload: web::Payload,
) -> ApiResult {
    let refused = |what: &'static str| {
        ApiError::Bearer(Some(OAuthError::invalid_request(format!(
            "access tokens are accepted only in the Authorization header, not in {what}"
        ))))
    };
    if Params::parse(req.query_string().as_bytes()).is_ok_and(|p| p.contains("access_token"))
        || req.query_string().contains("access_token")
    {
        return Err(refused("the query string"));
    }
    let body = read_limited(&mut payload, MAX_FORM_BYTES)
        .await
        .map_err(|e| ApiError::Bearer(Some(e)))?;
    if !body.is_empty() && (declares(&req, FORM) || body.windows(12).any(|w| w == b"access_token"))
    {
        return Err(refused("the request body"));
    }
    // `Bearer` (RFC 6750) or `DPoP` with a proof (RFC 9449 §7).
    let (scheme, token) = header_str(&req, header::AUTHORIZATION)
        .and_then(|h| h.map(parse_access_token).transpose())
        .map_err(|e| ApiError::Bearer(Some(e)))?
        .ok_or(ApiError::Bearer(None))?;
    let proof = dpop::proof(&req, &app, true)?;
    let in_play = scheme == TokenScheme::Dpop || proof.is_some();
    let presented = Presentation {
        scheme,
        token,
        proof: proof.as_deref(),
        method: req.method().as_str(),
    };
    let claims = app.userinfo().claims(&presented).await.map_err(|e| {
        tracing::info!(reason = %e, "userinfo refused");
        dpop::refusal(&app, e.to_oauth(), in_play || e.is_dpop(), true)
    })?;
    let resp = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims);
    Ok(dpop::with_nonce(&app, resp, proof.is_some()))
}
