//! The admin API under `/admin`: clients, users, sessions and registration
//! tokens (list, show, create, update, delete), over the same service layer
//! as the command line (`latchkey_core::admin`).
//!
//! Every handler takes an [`Admin`] extractor, so a route cannot forget to
//! check the caller: the admin token comes from `Authorization: Bearer`
//! only, never from a cookie, and anything else is a 401 before the handler
//! runs. Request bodies are `application/json` only.

pub mod clients;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use latchkey_core::admin::AdminError;
use latchkey_core::Latchkey;
use latchkey_domain::AdminToken;
use latchkey_protocol::{ErrorCode, OAuthError};
use serde::de::DeserializeOwned;

use crate::error::{bearer_error, json_error};
use crate::oauth2::registration::bearer;
use crate::request::read_json;

/// An authenticated admin API caller.
pub struct Admin(pub AdminToken);

/// Why a request is not an admin's: answered by `error::bearer_error`.
#[derive(Debug)]
pub struct NotAdmin(Option<OAuthError>);

impl std::fmt::Display for NotAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("admin token required")
    }
}

impl ResponseError for NotAdmin {
    fn error_response(&self) -> HttpResponse {
        match &self.0 {
            Some(e) if e.code != ErrorCode::InvalidToken && e.code != ErrorCode::InvalidRequest => {
                json_error(e)
            }
            other => bearer_error(other.as_ref()),
        }
    }
}

impl FromRequest for Admin {
    type Error = NotAdmin;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, NotAdmin>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(app) = req.app_data::<web::Data<Latchkey>>().cloned() else {
                return Err(NotAdmin(Some(OAuthError::bare(ErrorCode::ServerError))));
            };
            let token = match bearer(&req) {
                Ok(Some(t)) => t.to_owned(),
                Ok(None) => return Err(NotAdmin(None)),
                Err(_) => {
                    return Err(NotAdmin(Some(OAuthError::invalid_request(
                        "malformed Authorization header: use Bearer",
                    ))))
                }
            };
            match app.check_admin_token(&token).await {
                Ok(Some(t)) => Ok(Admin(t)),
                Ok(None) => {
                    tracing::info!("admin API call with a wrong token");
                    Err(NotAdmin(Some(OAuthError::new(
                        ErrorCode::InvalidToken,
                        "the admin token is invalid",
                    ))))
                }
                Err(e) => Err(NotAdmin(Some(e.to_oauth()))),
            }
        })
    }
}

/// Mounts `/admin/...`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/clients")
            .route(web::get().to(clients::list))
            .route(web::post().to(clients::create)),
    )
    .service(
        web::resource("/admin/clients/{id}")
            .route(web::get().to(clients::show))
            .route(web::put().to(clients::update))
            .route(web::delete().to(clients::delete)),
    )
    .service(
        web::resource("/admin/clients/{id}/secret").route(web::post().to(clients::rotate_secret)),
    )
    .service(
        web::resource("/admin/users")
            .route(web::get().to(users::list))
            .route(web::post().to(users::create)),
    )
    .service(
        web::resource("/admin/users/{username}")
            .route(web::get().to(users::show))
            .route(web::delete().to(users::delete)),
    )
    .service(
        web::resource("/admin/users/{username}/password").route(web::put().to(users::set_password)),
    )
    .service(web::resource("/admin/users/{username}/sessions").route(web::get().to(sessions::list)))
    .service(web::resource("/admin/sessions/{id}").route(web::delete().to(sessions::delete)))
    .service(
        web::resource("/admin/registration-tokens")
            .route(web::get().to(tokens::list))
            .route(web::post().to(tokens::create)),
    )
    .service(
        web::resource("/admin/registration-tokens/{id}").route(web::delete().to(tokens::delete)),
    );
}

/// The answer to a failed admin action.
pub(crate) fn failed(e: &AdminError) -> HttpResponse {
    tracing::info!(reason = %e, "admin request refused");
    json_error(&e.to_oauth())
}

/// Reads a JSON body into `T`: wrong Content-Type, size or shape is
/// `invalid_request`.
pub(crate) async fn body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, HttpResponse> {
    let bytes = read_json(req, payload).await.map_err(|e| json_error(&e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| json_error(&OAuthError::invalid_request(format!("malformed body: {e}"))))
}

pub(crate) use crate::oauth2::registration::json_no_store;
