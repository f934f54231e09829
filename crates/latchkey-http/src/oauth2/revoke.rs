//! `POST /revoke` (RFC 7009).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;

use crate::client_auth::{ClientAuthenticated, TokenReference};
use crate::dpop;
use crate::error::ApiResult;

pub async fn revoke(
    client: ClientAuthenticated<TokenReference>,
    req: HttpRequest,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let TokenReference {
        token,
        token_type_hint,
    } = &client.request;
    let proof = dpop::proof(&req, &app, false)?;
    app.revoke()
        .handle(
            &client.credentials,
            token,
            token_type_hint.as_deref(),
            proof.as_deref(),
        )
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "revocation refused");
            dpop::refusal(&app, e.to_oauth(), proof.is_some(), false)
        })?;
    // RFC 7009 §2.2: 200 whether or not the token was known.
    let resp = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    Ok(dpop::with_nonce(&app, resp, proof.is_some()))
}
