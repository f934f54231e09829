//! The admin API under `/admin`: clients, users, sessions and registration
//! tokens (list, show, create, update, delete), and the audit log (search),
//! over the same service layer
//! as the command line (`latchkey_core::admin`).
//!
//! Every handler takes an [`Admin`] extractor, so a route cannot forget to
//! check the caller: the admin token comes from `Authorization: Bearer`
//! only, never from a cookie, and anything else is a 401 before the handler
//! runs. Request bodies are `application/json` only.

pub mod audit;
pub mod clients;
pub mod sessions;
pub mod tokens;
pub mod users;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use latchkey_core::admin::{Actor, AdminError};
use latchkey_core::Latchkey;
use latchkey_domain::AdminToken;
use latchkey_protocol::{ErrorCode, OAuthError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::request::{bearer, read_json, with_core};

/// An authenticated admin API caller.
pub struct Admin(pub AdminToken);

/// Why a request is not an admin's: a Bearer challenge for a missing,
/// malformed or wrong token, a plain JSON error when the check itself
/// failed.
fn not_admin(e: Option<OAuthError>) -> ApiError {
    match e {
        Some(e) if e.code != ErrorCode::InvalidToken && e.code != ErrorCode::InvalidRequest => {
            ApiError::Json(e)
        }
        other => ApiError::Bearer(other),
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        with_core(req, Admin::check)
    }
}

impl Admin {
    /// The operator's services, acting as this token: the audit log
    /// records `api:<token id>` on everything they change.
    pub fn on<'a>(&'a self, app: &'a Latchkey) -> latchkey_core::admin::Admin<'a> {
        app.admin(Actor::ApiToken { id: &self.0.id })
    }

    async fn check(req: HttpRequest, app: web::Data<Latchkey>) -> Result<Admin, ApiError> {
        let token = match bearer(&req) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(not_admin(None)),
            Err(_) => {
                return Err(not_admin(Some(OAuthError::invalid_request(
                    "malformed Authorization header: use Bearer",
                ))))
            }
        };
        match app.admin_doors().api_token(token).await {
            Ok(Some(t)) => Ok(Admin(t)),
            Ok(None) => {
                tracing::info!("admin API call with a wrong token");
                Err(not_admin(Some(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the admin token is invalid",
                ))))
            }
            Err(e) => Err(not_admin(Some(e.to_oauth()))),
        }
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
            .route(web::patch().to(users::update))
            .route(web::delete().to(users::delete)),
    )
    .service(
        web::resource("/admin/users/{username}/password").route(web::put().to(users::set_password)),
    )
    .service(
        web::resource("/admin/users/{username}/factors")
            .route(web::delete().to(users::reset_factors)),
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
    )
    .service(web::resource("/admin/audit-events").route(web::get().to(audit::search)));
}

/// The answer to a failed admin action.
pub(crate) fn failed(e: AdminError) -> ApiError {
    tracing::info!(reason = %e, "admin request refused");
    ApiError::Json(e.to_oauth())
}

/// Reads a JSON body into `T`: wrong Content-Type, size or shape is
/// `invalid_request`.
pub(crate) async fn body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let bytes = read_json(req, payload).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OAuthError::invalid_request(format!("malformed body: {e}")).into())
}
