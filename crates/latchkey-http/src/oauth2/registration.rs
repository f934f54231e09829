//! Dynamic client registration: `POST /register` (RFC 7591) and the
//! client configuration endpoint `GET|PUT|DELETE /register/{client_id}`
//! (RFC 7592), plus `POST /register/{client_id}/secret` (secret rotation).
//!
//! Bodies are `application/json` only, and credentials come only from the
//! `Authorization: Bearer` header (an initial access token to register, the
//! registration access token afterwards), never from cookies: no
//! cross-site request can ride on a browser's credentials.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::registration::RegistrationError;
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::parse_bearer;
use latchkey_protocol::registration::{ClientInformation, ClientMetadata};
use latchkey_protocol::OAuthError;
use serde::Serialize;
use serde_json::Value;

use crate::error::{bearer_error, json_error};
use crate::request::{header_str, read_json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/register").route(web::post().to(register)))
        .service(
            web::resource("/register/{client_id}")
                .route(web::get().to(read))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/register/{client_id}/secret").route(web::post().to(rotate_secret)),
        );
}

/// The Bearer token of the request: `Ok(None)` when there is no
/// `Authorization` header, an error when it is malformed or not Bearer.
pub(crate) fn bearer(req: &HttpRequest) -> Result<Option<&str>, OAuthError> {
    match header_str(req, header::AUTHORIZATION)? {
        None => Ok(None),
        Some(h) => parse_bearer(h).map(Some),
    }
}

/// A JSON answer that no cache keeps (it may carry credentials).
pub(crate) fn json_no_store<T: Serialize>(
    status: actix_web::http::StatusCode,
    body: &T,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

fn refused(e: RegistrationError) -> HttpResponse {
    tracing::info!(reason = %e, "registration request refused");
    if e.is_unauthorized() {
        bearer_error(Some(&e.to_oauth()))
    } else {
        json_error(&e.to_oauth())
    }
}

fn registration_uri(app: &Latchkey, client_id: &str) -> String {
    app.settings.endpoint(&format!("/register/{client_id}"))
}

/// The registration access token, required on every RFC 7592 call; the
/// error is `None` when there is none at all.
fn required_bearer(req: &HttpRequest) -> Result<&str, Option<OAuthError>> {
    bearer(req).map_err(Some)?.ok_or(None)
}

/// Register a client (RFC 7591 §3.1).
#[utoipa::path(
    post,
    path = "/register",
    tag = "registration",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; the secret and registration access token are shown once", body = ClientInformation),
        (status = 400, description = "`invalid_redirect_uri`, `invalid_client_metadata` or `invalid_request`", body = crate::openapi::ErrorBody),
        (status = 401, description = "No valid initial access token (registration is closed)", body = crate::openapi::ErrorBody),
    ),
    security(("initial_access_token" = []), ()),
)]
pub async fn register(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    // The span is attached to the future, not entered across its awaits
    // (an entered span would tag whatever else the thread runs meanwhile).
    use tracing::Instrument;
    async move {
        let body = match read_json(&req, payload).await {
            Ok(b) => b,
            Err(e) => return json_error(&e),
        };
        let token = match bearer(&req) {
            Ok(t) => t,
            Err(e) => return bearer_error(Some(&e)),
        };
        let metadata = match ClientMetadata::from_json(&body) {
            Ok(m) => m,
            Err(e) => return json_error(&e),
        };
        match app
            .register_client(token, &metadata, |id| registration_uri(&app, id.as_str()))
            .await
        {
            Ok(info) => json_no_store(actix_web::http::StatusCode::CREATED, &info),
            Err(e) => refused(e),
        }
    }
    .instrument(tracing::info_span!("oauth2.register"))
    .await
}

/// Read a client's registration (RFC 7592 §2.1).
#[utoipa::path(
    get,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    responses(
        (status = 200, body = ClientInformation),
        (status = 401, description = "Wrong registration access token or unknown client", body = crate::openapi::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn read(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> HttpResponse {
    let rat = match required_bearer(&req) {
        Ok(t) => t,
        Err(e) => return bearer_error(e.as_ref()),
    };
    match app
        .read_registration(&path, rat, registration_uri(&app, &path))
        .await
    {
        Ok(info) => json_no_store(actix_web::http::StatusCode::OK, &info),
        Err(e) => refused(e),
    }
}

/// Replace a client's metadata (RFC 7592 §2.2). The body must carry the
/// `client_id`; omitted members return to their defaults.
#[utoipa::path(
    put,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses(
        (status = 200, body = ClientInformation),
        (status = 400, body = crate::openapi::ErrorBody),
        (status = 401, body = crate::openapi::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn update(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let body = match read_json(&req, payload).await {
        Ok(b) => b,
        Err(e) => return json_error(&e),
    };
    let rat = match required_bearer(&req) {
        Ok(t) => t,
        Err(e) => return bearer_error(e.as_ref()),
    };
    let metadata = match ClientMetadata::from_json(&body) {
        Ok(m) => m,
        Err(e) => return json_error(&e),
    };
    // ClientMetadata::from_json accepted the body, so it is a JSON object.
    let raw: Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |name: &str| -> Result<Option<String>, OAuthError> {
        match raw.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(OAuthError::invalid_request(format!(
                "{name} must be a string"
            ))),
        }
    };
    let (body_id, body_secret) = match (field("client_id"), field("client_secret")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return json_error(&e),
    };
    match app
        .update_registration(
            &path,
            rat,
            body_id.as_deref(),
            body_secret.as_deref(),
            &metadata,
            registration_uri(&app, &path),
        )
        .await
    {
        Ok(info) => json_no_store(actix_web::http::StatusCode::OK, &info),
        Err(e) => refused(e),
    }
}

/// Delete a client (RFC 7592 §2.3); every token it holds stops working.
#[utoipa::path(
    delete,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::openapi::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn delete(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> HttpResponse {
    let rat = match required_bearer(&req) {
        Ok(t) => t,
        Err(e) => return bearer_error(e.as_ref()),
    };
    match app.delete_registration(&path, rat).await {
        Ok(()) => HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => refused(e),
    }
}

/// Issue a new client secret; the previous one keeps working for the
/// configured grace period (24 h by default).
#[utoipa::path(
    post,
    path = "/register/{client_id}/secret",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    responses(
        (status = 200, description = "The new secret, shown once", body = ClientInformation),
        (status = 400, description = "The client has no secret", body = crate::openapi::ErrorBody),
        (status = 401, body = crate::openapi::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn rotate_secret(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> HttpResponse {
    let rat = match required_bearer(&req) {
        Ok(t) => t,
        Err(e) => return bearer_error(e.as_ref()),
    };
    match app
        .rotate_registered_secret(&path, rat, registration_uri(&app, &path))
        .await
    {
        Ok(info) => json_no_store(actix_web::http::StatusCode::OK, &info),
        Err(e) => refused(e),
    }
}
