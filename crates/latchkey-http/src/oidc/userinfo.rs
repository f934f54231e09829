//! `GET|POST /userinfo` (OIDC Core §5.3). The access token is accepted in
//! the `Authorization` header only: a token in a URL ends up in logs and
//! referrers, one in a form body invites CSRF (RFC 6750 §2, §5.3).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::{OAuthError, Params};

use crate::dpop;
use crate::error::{ApiError, ApiResult};
use crate::request::{declares, read_limited, FORM, MAX_FORM_BYTES};

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
    let (token, had_proof) = dpop::protected(&req, &app).await?;
    let claims = app.userinfo().claims(&token).await.map_err(|e| {
        tracing::info!(reason = %e, "userinfo refused");
        ApiError::Bearer(Some(e.to_oauth()))
    })?;
    let resp = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims);
    Ok(dpop::with_nonce(&app, resp, had_proof))
}
