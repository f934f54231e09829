//! `POST /token` (RFC 6749 §3.2).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::token::TokenRequest;
use latchkey_protocol::OAuthError;

use crate::error::json_error;
use crate::request::{header_str, read_form};

pub async fn token(
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
    let grant = TokenRequest::parse(&params)?;
    let _span = tracing::info_span!("oauth2.token", grant = grant.grant_type(), client_id = ?auth.client_id()).entered();
    match app.token(&auth, grant).await {
        Ok(resp) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(resp)),
        Err(e) => {
            tracing::info!(reason = %e, "token request refused");
            Err(e.to_oauth())
        }
    }
}
