//! `/admin/clients`: every client, whoever registered it. Metadata follows
//! the same rules as `POST /register` (RFC 7591 client metadata).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::admin::ClientSettings;
use latchkey_core::Latchkey;
use latchkey_protocol::registration::{ClientInformation, ClientMetadata};
use latchkey_protocol::{ErrorCode, OAuthError};
use serde::Serialize;

use super::{failed, Admin};
use crate::error::{ApiError, ApiResult};
use crate::request::read_json;
use crate::response::json_no_store;

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
/// operator may set (`introspect`, `pkce`, `nonce`).
async fn metadata(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(ClientMetadata, ClientSettings), ApiError> {
    let bytes = read_json(req, payload).await?;
    let metadata = ClientMetadata::from_json(&bytes)?;
    let settings = serde_json::from_slice::<ClientSettings>(&bytes).map_err(|e| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            format!("introspect, pkce or nonce: {e}"),
        )
    })?;
    Ok((metadata, settings))
}

/// List clients.
#[utoipa::path(get, path = "/admin/clients", tag = "admin",
    responses((status = 200, body = Vec<ClientInformation>), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(admin: Admin, app: web::Data<Latchkey>) -> ApiResult {
    let list = admin
        .on(&app)
        .clients()
        .list_information()
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::OK, &list))
}

/// Create a client from RFC 7591 metadata; a secret is shown once.
#[utoipa::path(post, path = "/admin/clients", tag = "admin",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 201, body = ClientInformation), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let (m, settings) = metadata(&req, payload).await?;
    let info = admin
        .on(&app)
        .clients()
        .register(&m, &settings)
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::CREATED, &info))
}

/// Show a client.
#[utoipa::path(get, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = ClientInformation), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn show(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    let info = admin
        .on(&app)
        .clients()
        .information(&path)
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::OK, &info))
}

/// Replace a client's metadata (omitted members return to their defaults).
#[utoipa::path(put, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses((status = 200, body = ClientInformation), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let (m, settings) = metadata(&req, payload).await?;
    let info = admin
        .on(&app)
        .clients()
        .replace_metadata(&path, &m, &settings)
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::OK, &info))
}

/// Delete a client; every token it holds stops working.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn delete(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    admin
        .on(&app)
        .clients()
        .delete(&path)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a client's secret; the previous one keeps working for the grace
/// period.
#[utoipa::path(post, path = "/admin/clients/{id}/secret", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = RotatedSecret), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn rotate_secret(
    admin: Admin,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> ApiResult {
    let (c, secret) = admin
        .on(&app)
        .clients()
        .rotate_secret(&path)
        .await
        .map_err(failed)?;
    Ok(json_no_store(
        StatusCode::OK,
        &RotatedSecret {
            client_id: c.id.to_string(),
            client_secret: secret,
            client_secret_expires_at: c.secret_expires_at.unwrap_or(0),
            previous_secret_expires_at: c.previous_secret_expires_at,
        },
    ))
}
