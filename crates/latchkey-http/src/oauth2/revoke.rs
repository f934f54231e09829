//! `POST /revoke` (RFC 7009).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use latchkey_core::Latchkey;

use crate::client_auth::{ClientAuthenticated, TokenReference};
use crate::error::ApiResult;

pub async fn revoke(
    client: ClientAuthenticated<TokenReference>,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let TokenReference {
        token,
        token_type_hint,
    } = &client.request;
    app.revoke()
        .handle(&client.credentials, token, token_type_hint.as_deref())
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "revocation refused");
            e.to_oauth()
        })?;
    // RFC 7009 §2.2: 200 whether or not the token was known.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
