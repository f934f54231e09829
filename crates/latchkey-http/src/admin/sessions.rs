//! `/admin/users/{username}/sessions`, `/admin/sessions/{id}`: browser
//! sessions, and ending one (its refresh families die, its clients get a
//! back-channel logout).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use latchkey_core::sessions::SessionView;
use latchkey_core::Latchkey;
use latchkey_domain::SessionId;
use serde::Serialize;

use super::{failed, Admin};
use crate::error::ApiResult;
use crate::response::json_no_store;

/// One active session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Names of the applications that signed in through it.
    pub clients: Vec<String>,
}

impl From<SessionView> for SessionInfo {
    fn from(s: SessionView) -> Self {
        SessionInfo {
            id: s.id.into_string(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            user_agent: s.user_agent,
            ip: s.ip,
            clients: s.clients,
        }
    }
}

/// A user's active sessions, newest first.
#[utoipa::path(get, path = "/admin/users/{username}/sessions", tag = "admin",
    params(("username" = String, Path)),
    responses((status = 200, body = Vec<SessionInfo>), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    let list = admin
        .on(&app)
        .sessions()
        .list(&path)
        .await
        .map_err(failed)?;
    Ok(json_no_store(
        StatusCode::OK,
        &list.into_iter().map(SessionInfo::from).collect::<Vec<_>>(),
    ))
}

/// End a session.
#[utoipa::path(delete, path = "/admin/sessions/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn delete(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    admin
        .on(&app)
        .sessions()
        .end(&SessionId::new(path.into_inner()))
        .await
        .map_err(failed)?;
    Ok(HttpResponse::NoContent().finish())
}
