//! `POST /token` (RFC 6749 §3.2).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::token::TokenRequest;
use latchkey_protocol::{ErrorCode, OAuthError};
use tracing::Instrument;

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
    app: &web::Data<Latchkey>,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let params = read_form(req, payload).await?;
    let auth = ClientAuthentication::parse(header_str(req, header::AUTHORIZATION)?, &params)?;
    crate::cors::name_client(req, auth.client_id());
    let grant = TokenRequest::parse(&params)?;
    let span = tracing::info_span!("oauth2.token", grant = %grant.grant_type(), client_id = ?auth.client_id());
    // client_credentials reads nothing but cached clients: handing it to
    // another thread would cost more than the grant itself (see
    // `GrantRuntime`).
    let runtime = match grant {
        TokenRequest::ClientCredentials { .. } => None,
        _ => req.app_data::<web::Data<crate::GrantRuntime>>(),
    };
    let result = match runtime {
        Some(rt) => {
            let app = app.clone();
            let grant = async move { app.token(&auth, grant).await }.instrument(span.clone());
            match rt.0.spawn(grant).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(parent: &span, error = %e, "token grant task failed");
                    return Err(OAuthError::bare(ErrorCode::ServerError));
                }
            }
        }
        None => app.token(&auth, grant).instrument(span.clone()).await,
    };
    let _span = span.entered();
    match result {
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
