//! `/admin/registration-tokens`: initial access tokens for `POST /register`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_domain::InitialAccessToken;
use serde::{Deserialize, Serialize};

use super::{body, failed, Admin};
use crate::error::ApiResult;
use crate::response::json_no_store;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegistrationToken {
    /// Seconds it stays valid (default 86400).
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// How many clients it may register (default 1).
    #[serde(default)]
    pub uses: Option<i64>,
}

/// A registration token; `token` only in the answer that created it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationTokenInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: i64,
}

fn info(t: InitialAccessToken, token: Option<String>) -> RegistrationTokenInfo {
    RegistrationTokenInfo {
        id: t.id,
        token,
        created_at: t.created_at,
        expires_at: t.expires_at,
        uses_left: t.uses_left,
    }
}

/// List registration tokens (never their values).
#[utoipa::path(get, path = "/admin/registration-tokens", tag = "admin",
    responses((status = 200, body = Vec<RegistrationTokenInfo>), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(admin: Admin, app: web::Data<Latchkey>) -> ApiResult {
    let list = admin
        .on(&app)
        .tokens()
        .list_registration_tokens()
        .await
        .map_err(failed)?;
    Ok(json_no_store(
        StatusCode::OK,
        &list.into_iter().map(|t| info(t, None)).collect::<Vec<_>>(),
    ))
}

/// Create a registration token; its value is shown once.
#[utoipa::path(post, path = "/admin/registration-tokens", tag = "admin",
    request_body(content = NewRegistrationToken, content_type = "application/json"),
    responses((status = 201, body = RegistrationTokenInfo), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let new: NewRegistrationToken = body(&req, payload).await?;
    let t = admin
        .on(&app)
        .tokens()
        .create_registration_token(new.expires_in.unwrap_or(86_400), new.uses.unwrap_or(1))
        .await
        .map_err(failed)?;
    Ok(json_no_store(
        StatusCode::CREATED,
        &info(t.record, Some(t.token)),
    ))
}

/// Delete a registration token.
#[utoipa::path(delete, path = "/admin/registration-tokens/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn delete(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    admin
        .on(&app)
        .tokens()
        .delete_registration_token(&path)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::NoContent().finish())
}
