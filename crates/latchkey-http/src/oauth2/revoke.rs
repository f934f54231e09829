//! `POST /revoke` (RFC 7009).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::OAuthError;

use crate::error::json_error;
use crate::request::{header_str, read_form};

pub async fn revoke(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    match handle(&req, &app, payload).await {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => json_error(&e),
    }
}

async fn handle(
    req: &HttpRequest,
    app: &Latchkey,
    payload: web::Payload,
) -> Result<(), OAuthError> {
    let params = read_form(req, payload).await?;
    let auth = ClientAuthentication::parse(header_str(req, header::AUTHORIZATION)?, &params)?;
    crate::cors::name_client(req, auth.client_id());
    let token = params.require("token")?;
    app.revoke(&auth, token, params.get("token_type_hint"))
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "revocation refused");
            e.to_oauth()
        })
}
