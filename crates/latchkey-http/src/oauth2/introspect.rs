//! `POST /introspect` (RFC 7662).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use latchkey_core::Latchkey;

use crate::client_auth::{ClientAuthenticated, TokenReference};
use crate::error::ApiResult;

pub async fn introspect(
    client: ClientAuthenticated<TokenReference>,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let TokenReference {
        token,
        token_type_hint,
    } = &client.request;
    let answer = app
        .introspect()
        .handle(&client.credentials, token, token_type_hint.as_deref())
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "introspection refused");
            e.to_oauth()
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
