//! `POST /introspect` (RFC 7662).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::OAuthError;

use crate::error::json_error;
use crate::request::{header_str, read_form};

pub async fn introspect(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    match handle(&req, &app, payload).await {
        Ok(resp) => resp,
        Err(e) => json_error(&e),
    }
}

async fn handle(
    req: &HttpRequest,
    app: &Latchkey,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(req, payload).await?;
    let auth = ClientAuthentication::parse(header_str(req, header::AUTHORIZATION)?, &params)?;
    let token = params.require("token")?;
    let answer = app
        .introspect(&auth, token, params.get("token_type_hint"))
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "introspection refused");
            e.to_oauth()
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
