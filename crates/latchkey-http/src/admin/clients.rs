//! `/admin/clients`: every client, whoever registered it. Metadata follows
//! the same rules as `POST /register` (RFC 7591 client metadata).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::admin::ClientSettings;
use latchkey_core::Latchkey;
use latchkey_protocol::registration::{ClientInformation, ClientMetadata};
use latchkey_protocol::{ErrorCode, OAuthError};
use serde::Serialize;

use super::{failed, json_no_store, Admin};
use crate::error::json_error;
use crate::request::read_json;

/// A rotated secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
    /// 0: the secret does not expire.
    pub client_secret_expires_at: i64,
    /// Until when the previous secret keeps working.
    pub previous_secret_expires_at: Option<i64>,
}

/// RFC 7591 metadata, and beside it Latchkey's own settings that only an
/// operator may set (`introspect`).
async fn metadata(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(ClientMetadata, ClientSettings), HttpResponse> {
    let bytes = read_json(req, payload).await.map_err(|e| json_error(&e))?;
    let metadata = ClientMetadata::from_json(&bytes).map_err(|e| json_error(&e))?;
    let settings = serde_json::from_slice::<ClientSettings>(&bytes).map_err(|e| {
        json_error(&OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!("introspect: {e}"),
        ))
    })?;
    Ok((metadata, settings))
}

/// List clients.
#[utoipa::path(get, path = "/admin/clients", tag = "admin",
    responses((status = 200, body = Vec<ClientInformation>), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(_: Admin, app: web::Data<Latchkey>) -> HttpResponse {
    match app.admin_list_clients().await {
        Ok(list) => json_no_store(StatusCode::OK, &list),
        Err(e) => failed(&e),
    }
}

/// Create a client from RFC 7591 metadata; a secret is shown once.
#[utoipa::path(post, path = "/admin/clients", tag = "admin",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 201, body = ClientInformation), (status = 400, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create(
    _: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    let (m, settings) = match metadata(&req, payload).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    match app.admin_create_client(&m, &settings).await {
        Ok(info) => json_no_store(StatusCode::CREATED, &info),
        Err(e) => failed(&e),
    }
}

/// Show a client.
#[utoipa::path(get, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = ClientInformation), (status = 404, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn show(_: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> HttpResponse {
    match app.admin_show_client(&path).await {
        Ok(info) => json_no_store(StatusCode::OK, &info),
        Err(e) => failed(&e),
    }
}

/// Replace a client's metadata (omitted members return to their defaults).
#[utoipa::path(put, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 200, body = ClientInformation), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn update(
    _: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (m, settings) = match metadata(&req, payload).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    match app.admin_update_client(&path, &m, &settings).await {
        Ok(info) => json_no_store(StatusCode::OK, &info),
        Err(e) => failed(&e),
    }
}

/// Delete a client; every token it holds stops working.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn delete(_: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> HttpResponse {
    match app.delete_client(&path).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => failed(&e),
    }
}

/// Rotate a client's secret; the previous one keeps working for the grace
/// period.
#[utoipa::path(post, path = "/admin/clients/{id}/secret", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn rotate_secret(
    _: Admin,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> HttpResponse {
    match app.rotate_client_secret(&path).await {
        Ok((c, secret)) => json_no_store(
            StatusCode::OK,
            &RotatedSecret {
                client_id: c.id.to_string(),
                client_secret: secret,
                client_secret_expires_at: c.secret_expires_at.unwrap_or(0),
                previous_secret_expires_at: c.previous_secret_expires_at,
            },
        ),
        Err(e) => failed(&e),
    }
}
