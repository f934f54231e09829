//! `/admin/users`: accounts. Passwords are set, never shown; deleting a
//! user or setting their password ends their sessions and refresh families.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::admin::UserChanges;
use latchkey_core::Latchkey;
use latchkey_domain::User;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{body, failed, Admin};
use crate::error::ApiResult;
use crate::response::json_no_store;

/// A user as the admin API shows it (never the password hash): the
/// account, then its standard claims (OIDC Core §5.1) that have a value,
/// and its groups.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The stable `sub`.
    pub id: String,
    pub username: String,
    pub disabled: bool,
    /// `user` or `admin` (the console's role; set from the command line).
    pub role: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    /// When the claims last changed (the `updated_at` claim).
    pub updated_at: i64,
    pub groups: Vec<String>,
    /// `name`, `given_name`, `email`, `email_verified`, `address`, ...
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub claims: Map<String, Value>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            claims: u.claims.to_json(),
            groups: u.groups.names().map(str::to_owned).collect(),
            id: u.id.into_string(),
            username: u.username,
            disabled: u.disabled,
            role: u.role.as_str().to_owned(),
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
            updated_at: u.updated_at,
        }
    }
}

/// A new user: the username and password, then any standard claim
/// (`"name"`, `"email"`, `"email_verified"`, `"address"`: {...}, ...) and
/// `"groups"` (an array of names). An unknown member is refused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub claims: Map<String, Value>,
}

/// Changes to a user: each standard claim named is set (`null` clears it),
/// `"groups"` replaces the groups; what is not named stays as it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserUpdate {
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub claims: Map<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// List users.
#[utoipa::path(get, path = "/admin/users", tag = "admin",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(admin: Admin, app: web::Data<Latchkey>) -> ApiResult {
    let users = admin.on(&app).users().list().await.map_err(failed)?;
    Ok(json_no_store(
        StatusCode::OK,
        &users.into_iter().map(UserView::from).collect::<Vec<_>>(),
    ))
}

/// Create a user.
#[utoipa::path(post, path = "/admin/users", tag = "admin",
    request_body(content = NewUser, content_type = "application/json"),
    responses((status = 201, body = UserView), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let new: NewUser = body(&req, payload).await?;
    let u = admin
        .on(&app)
        .users()
        .create(
            &new.username,
            new.password,
            UserChanges {
                claims: new.claims,
                groups: new.groups,
            },
        )
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::CREATED, &UserView::from(u)))
}

/// Show a user.
#[utoipa::path(get, path = "/admin/users/{username}", tag = "admin",
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn show(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    let u = admin.on(&app).users().show(&path).await.map_err(failed)?;
    Ok(json_no_store(StatusCode::OK, &UserView::from(u)))
}

/// Change a user's claims or groups.
#[utoipa::path(patch, path = "/admin/users/{username}", tag = "admin",
    params(("username" = String, Path)),
    request_body(content = UserUpdate, content_type = "application/json"),
    responses((status = 200, body = UserView), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let changes: UserUpdate = body(&req, payload).await?;
    let u = admin
        .on(&app)
        .users()
        .update(
            &path,
            UserChanges {
                claims: changes.claims,
                groups: changes.groups,
            },
        )
        .await
        .map_err(failed)?;
    Ok(json_no_store(StatusCode::OK, &UserView::from(u)))
}

/// Set a user's password; every session of the user ends.
#[utoipa::path(put, path = "/admin/users/{username}/password", tag = "admin",
    params(("username" = String, Path)),
    request_body(content = NewPassword, content_type = "application/json"),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn set_password(
    admin: Admin,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let new: NewPassword = body(&req, payload).await?;
    admin
        .on(&app)
        .users()
        .set_password(&path, new.password)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove every second factor of a user (authenticator app, recovery
/// codes, passkeys); their sessions end. Answers how many were removed.
#[utoipa::path(delete, path = "/admin/users/{username}/factors", tag = "admin",
    params(("username" = String, Path)),
    responses((status = 200, description = "`{\"removed\": n}`"), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn reset_factors(
    admin: Admin,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> ApiResult {
    let removed = admin
        .on(&app)
        .users()
        .reset_factors(&path)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "removed": removed })))
}

/// Delete a user; their sessions end and their tokens stop working.
#[utoipa::path(delete, path = "/admin/users/{username}", tag = "admin",
    params(("username" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn delete(admin: Admin, app: web::Data<Latchkey>, path: web::Path<String>) -> ApiResult {
    admin.on(&app).users().delete(&path).await.map_err(failed)?;
    Ok(HttpResponse::NoContent().finish())
}
