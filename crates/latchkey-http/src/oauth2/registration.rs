//! Dynamic client registration: `POST /register` (RFC 7591) and the
//! client configuration endpoint `GET|PUT|DELETE /register/{client_id}`
//! (RFC 7592), plus `POST /register/{client_id}/secret` (secret rotation).
//!
//! Bodies are `application/json` only, and credentials come only from the
//! `Authorization: Bearer` header (an initial access token to register, the
//! registration access token afterwards), never from cookies: no
//! cross-site request can ride on a browser's credentials.

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use latchkey_core::registration::RegistrationError;
use latchkey_core::Latchkey;
use latchkey_protocol::registration::{ClientInformation, ClientMetadata};
use latchkey_protocol::{ErrorCode, OAuthError};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::request::{bearer, required_bearer, JsonBody};
use crate::response::json_no_store;

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

/// A call on the client configuration endpoint (RFC 7592): the client in
/// the path and the registration access token of the `Authorization:
/// Bearer` header, which the core checks against that client. `B` is read
/// from the body first (`()` for none): a body that is not JSON is refused
/// before the token is looked at. No token at all is a bare Bearer
/// challenge before the handler runs.
pub struct RegistrationAccess<B = ()> {
    pub client_id: String,
    pub token: String,
    pub body: B,
}

impl<B> FromRequest for RegistrationAccess<B>
where
    B: FromRequest + 'static,
    ApiError: From<B::Error>,
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        // A route with one segment always yields it.
        let client_id = web::Path::<String>::extract(&req)
            .into_inner()
            .map(web::Path::into_inner)
            .map_err(|_| ApiError::Json(OAuthError::bare(ErrorCode::NotFound)));
        let body = B::from_request(&req, payload);
        Box::pin(async move {
            let client_id = client_id?;
            let body = body.await?;
            let token = required_bearer(&req)?.to_owned();
            Ok(RegistrationAccess {
                client_id,
                token,
                body,
            })
        })
    }
}

/// A refused registration call: a missing or wrong token is a Bearer
/// challenge, anything else a JSON error.
fn refused(e: RegistrationError) -> ApiError {
    tracing::info!(reason = %e, "registration request refused");
    if e.is_unauthorized() {
        ApiError::Bearer(Some(e.to_oauth()))
    } else {
        ApiError::Json(e.to_oauth())
    }
}

/// A client's registration as RFC 7592 answers it, or why not.
fn information(result: Result<ClientInformation, RegistrationError>) -> ApiResult {
    Ok(json_no_store(StatusCode::OK, &result.map_err(refused)?))
}

fn registration_uri(app: &Latchkey, client_id: &str) -> String {
    app.settings().endpoint(&format!("/register/{client_id}"))
}

/// Register a client (RFC 7591 §3.1).
#[utoipa::path(
    post,
    path = "/register",
    tag = "registration",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; the secret and registration access token are shown once", body = ClientInformation),
        (status = 400, description = "`invalid_redirect_uri`, `invalid_client_metadata` or `invalid_request`", body = crate::error::ErrorBody),
        (status = 401, description = "No valid initial access token (registration is closed)", body = crate::error::ErrorBody),
    ),
    security(("initial_access_token" = []), ()),
)]
pub async fn register(body: JsonBody, req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    // The span is attached to the future, not entered across its awaits
    // (an entered span would tag whatever else the thread runs meanwhile).
    use tracing::Instrument;
    async move {
        let token = bearer(&req).map_err(|e| ApiError::Bearer(Some(e)))?;
        let metadata = ClientMetadata::from_json(&body.0)?;
        let info = app
            .registration()
            .register_client(token, &metadata, |id| registration_uri(&app, id.as_str()))
            .await
            .map_err(refused)?;
        Ok(json_no_store(StatusCode::CREATED, &info))
    }
    .instrument(tracing::info_span!("oauth2.register"))
    .await
}

/// Read a client's registration (RFC 7592 §2.1). The answer carries a new
/// registration access token; the presented one stops working.
#[utoipa::path(
    get,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    responses(
        (status = 200, description = "The registration, with a new `registration_access_token` that replaces the presented one", body = ClientInformation),
        (status = 401, description = "Wrong, rotated-away or missing registration access token, or unknown client", body = crate::error::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn read(access: RegistrationAccess, app: web::Data<Latchkey>) -> ApiResult {
    let uri = registration_uri(&app, &access.client_id);
    information(
        app.registration()
            .read_registration(&access.client_id, &access.token, uri)
            .await,
    )
}

/// Replace a client's metadata (RFC 7592 §2.2). The body must carry the
/// `client_id`; omitted members return to their defaults. An accepted
/// update answers with a new registration access token; a refused one
/// changes nothing, the token included.
#[utoipa::path(
    put,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated, with a new `registration_access_token` that replaces the presented one", body = ClientInformation),
        (status = 400, description = "Refused metadata or request; nothing changed, the presented token still works", body = crate::error::ErrorBody),
        (status = 401, description = "Wrong, rotated-away or missing registration access token, or unknown client", body = crate::error::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn update(access: RegistrationAccess<JsonBody>, app: web::Data<Latchkey>) -> ApiResult {
    let RegistrationAccess {
        client_id,
        token,
        body: JsonBody(body),
    } = &access;
    let metadata = ClientMetadata::from_json(body)?;
    // ClientMetadata::from_json accepted the body, so it is a JSON object.
    let raw: Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| -> Result<Option<String>, OAuthError> {
        match raw.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(OAuthError::invalid_request(format!(
                "{name} must be a string"
            ))),
        }
    };
    let (body_id, body_secret) = (field("client_id")?, field("client_secret")?);
    information(
        app.registration()
            .update_registration(
                client_id,
                token,
                body_id.as_deref(),
                body_secret.as_deref(),
                &metadata,
                registration_uri(&app, client_id),
            )
            .await,
    )
}

/// Delete a client (RFC 7592 §2.3); every token it holds stops working.
#[utoipa::path(
    delete,
    path = "/register/{client_id}",
    tag = "registration",
    params(("client_id" = String, Path, description = "The client")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Wrong, rotated-away or missing registration access token, or unknown client", body = crate::error::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn delete(access: RegistrationAccess, app: web::Data<Latchkey>) -> ApiResult {
    app.registration()
        .delete_registration(&access.client_id, &access.token)
        .await
        .map_err(refused)?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
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
        (status = 400, description = "The client has no secret", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
    ),
    security(("registration_access_token" = [])),
)]
pub async fn rotate_secret(access: RegistrationAccess, app: web::Data<Latchkey>) -> ApiResult {
    let uri = registration_uri(&app, &access.client_id);
    information(
        app.registration()
            .rotate_registered_secret(&access.client_id, &access.token, uri)
            .await,
    )
}
