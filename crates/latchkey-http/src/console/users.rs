//! `/admin/console/users`: list, create, view, edit claims and groups,
//! change the role, reset the password, disable or enable, reset the
//! second factors, delete, and the user's sessions with a sign-out for
//! each. Through `latchkey_core::admin::users` and `sessions`, as the
//! command line and the admin API.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::admin::UserChanges;
use latchkey_core::Latchkey;
use latchkey_domain::{Role, User};
use serde_json::{Map, Value};

use super::{encode, explain, field, internal, notice, when, ConsoleResult, Operator, Refusal};
use crate::error::ApiError;
use crate::response::see_other;

struct Row {
    username: String,
    name: String,
    role: &'static str,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    users: Vec<Row>,
    /// The create form as posted, when it is shown again.
    posted_username: String,
    posted_name: String,
    posted_email: String,
    posted_groups: String,
    posted_admin: bool,
}

async fn list_page(
    op: &Operator,
    app: &Latchkey,
    status: StatusCode,
    notice: Option<&str>,
    message: Option<&str>,
    posted: Option<&latchkey_protocol::Params>,
) -> ConsoleResult {
    let users = op.admin(app).users().list().await.map_err(internal)?;
    let rows = users
        .iter()
        .map(|u| Row {
            username: u.username.clone(),
            name: u
                .claims
                .name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            role: u.role.as_str(),
            disabled: u.disabled,
            created: when(u.created_at),
        })
        .collect();
    let text = |n: &str| posted.and_then(|p| p.get(n)).unwrap_or_default().to_owned();
    Ok(op.render(
        status,
        &ListPage {
            csrf: &op.csrf,
            notice,
            message,
            users: rows,
            posted_username: text("username"),
            posted_name: text("name"),
            posted_email: text("email"),
            posted_groups: text("groups"),
            posted_admin: posted.and_then(|p| p.get("role")) == Some("admin"),
        },
    ))
}

/// `GET /admin/console/users`.
pub async fn list(op: Operator, req: HttpRequest, app: web::Data<Latchkey>) -> ConsoleResult {
    let notice = notice(&req, &[("deleted", "The user was deleted.")]);
    list_page(&op, &app, StatusCode::OK, notice, None, None).await
}

/// Group names from a text field: separated by commas or spaces.
fn groups(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /admin/console/users`: a new user with a password, name, e-mail,
/// groups and role.
pub async fn create(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let role = match Role::parse(form.get("role").unwrap_or("user")) {
        Ok(r) => r,
        Err(e) => {
            return list_page(
                &op,
                &app,
                StatusCode::BAD_REQUEST,
                None,
                Some(&e.to_string()),
                Some(&form),
            )
            .await
        }
    };
    let mut claims = Map::new();
    for name in ["name", "email"] {
        if let Some(v) = field(&form, name) {
            claims.insert(name.to_owned(), Value::String(v.to_owned()));
        }
    }
    let changes = UserChanges {
        claims,
        groups: field(&form, "groups").map(groups),
    };
    match op
        .admin(&app)
        .users()
        .create_with_role(&username, password, changes, role)
        .await
    {
        Ok(u) => Ok(see_other(&format!(
            "/admin/console/users/{}?done=created",
            encode(&u.username)
        ))),
        Err(e) => {
            let (status, message) = explain(e)?;
            list_page(&op, &app, status, None, Some(&message), Some(&form)).await
        }
    }
}

struct SessionRow {
    id: String,
    device: String,
    ip: String,
    signed_in: String,
    last_used: String,
    clients: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    username: &'a str,
    path: String,
    facts: Vec<(&'static str, String)>,
    disabled: bool,
    admin: bool,
    /// An admin who cannot open the console until they set up a factor.
    admin_without_factor: bool,
    claims: String,
    groups: String,
    sessions: Vec<SessionRow>,
}

async fn user_page(
    op: &Operator,
    app: &Latchkey,
    status: StatusCode,
    u: &User,
    notice: Option<&str>,
    message: Option<&str>,
    posted: Option<&latchkey_protocol::Params>,
) -> ConsoleResult {
    let sessions = op
        .admin(app)
        .sessions()
        .list(&u.username)
        .await
        .map_err(internal)?;
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            device: s.device.to_string(),
            ip: s.ip.unwrap_or_default(),
            signed_in: when(s.created_at),
            last_used: when(s.last_seen_at),
            clients: s.clients.join(", "),
            current: s.id == op.me.session.id,
        })
        .collect();
    let claims = match posted.and_then(|p| p.get("claims")) {
        Some(text) => text.to_owned(),
        None => {
            serde_json::to_string_pretty(&Value::Object(u.claims.to_json())).unwrap_or_default()
        }
    };
    let enrolled = op.admin(app).users().factors(u).await.map_err(internal)?;
    let mut factors = Vec::new();
    if enrolled.totp {
        factors.push("authenticator app".to_owned());
    }
    match enrolled.passkeys.len() {
        0 => {}
        1 => factors.push("1 passkey".to_owned()),
        n => factors.push(format!("{n} passkeys")),
    }
    if enrolled.recovery_codes > 0 {
        factors.push(format!("{} unused recovery codes", enrolled.recovery_codes));
    }
    let no_factor = !enrolled.has_second_factor();
    let groups = match posted.and_then(|p| p.get("groups")) {
        Some(text) => text.to_owned(),
        None => u.groups.names().collect::<Vec<_>>().join(", "),
    };
    Ok(op.render(
        status,
        &UserPage {
            csrf: &op.csrf,
            notice,
            message,
            username: &u.username,
            path: format!("/admin/console/users/{}", encode(&u.username)),
            facts: vec![
                ("Subject (sub)", u.id.to_string()),
                ("Username", u.username.clone()),
                ("Role", u.role.to_string()),
                (
                    "Status",
                    if u.disabled { "disabled" } else { "active" }.to_owned(),
                ),
                ("Created", when(u.created_at)),
                ("Password changed", when(u.password_changed_at)),
                ("Claims updated", when(u.updated_at)),
                (
                    "Second factors",
                    if factors.is_empty() {
                        "none".to_owned()
                    } else {
                        factors.join(", ")
                    },
                ),
            ],
            admin_without_factor: u.role == Role::Admin && no_factor,
            disabled: u.disabled,
            admin: u.role == Role::Admin,
            claims,
            groups,
            sessions: rows,
        },
    ))
}

/// The user a path names; unknown is a 404 page.
async fn find(admin: latchkey_core::admin::Admin<'_>, username: &str) -> Result<User, Refusal> {
    match admin.users().show(username).await {
        Ok(u) => Ok(u),
        Err(e) => {
            let (_, message) = explain(e)?;
            Err(Refusal::Page(ApiError::Page(
                latchkey_protocol::OAuthError::new(latchkey_protocol::ErrorCode::NotFound, message),
            )))
        }
    }
}

const NOTICES: &[(&str, &str)] = &[
    ("created", "The user was created."),
    ("saved", "The claims and groups were saved."),
    (
        "password",
        "The password was set; every session of the user was ended.",
    ),
    (
        "disabled",
        "The user was disabled; their sessions and tokens were revoked.",
    ),
    ("enabled", "The user was enabled."),
    (
        "factors",
        "Every second factor of the user was removed and their sessions ended.",
    ),
    ("role", "The role was changed."),
    ("signed-out", "The session was signed out."),
];

/// `GET /admin/console/users/{username}`.
pub async fn show(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    username: web::Path<String>,
) -> ConsoleResult {
    let u = find(op.admin(&app), &username).await?;
    user_page(
        &op,
        &app,
        StatusCode::OK,
        &u,
        notice(&req, NOTICES),
        None,
        None,
    )
    .await
}

/// `POST /admin/console/users/{username}`: the claims (a JSON object:
/// a claim left out is cleared) and the groups.
pub async fn update(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    username: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let u = find(op.admin(&app), &username).await?;
    let refused = |status, message: String| {
        let form = &form;
        let app = &app;
        let op = &op;
        let u = &u;
        async move { user_page(op, app, status, u, None, Some(&message), Some(form)).await }
    };
    let text = form.get("claims").unwrap_or_default().trim();
    let posted: Map<String, Value> = if text.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return refused(
                    StatusCode::BAD_REQUEST,
                    "the claims must be a JSON object".into(),
                )
                .await
            }
            Err(e) => {
                return refused(
                    StatusCode::BAD_REQUEST,
                    format!("the claims are not valid JSON: {e}"),
                )
                .await
            }
        }
    };
    let mut claims = posted;
    for name in u.claims.to_json().keys() {
        if !claims.contains_key(name) {
            claims.insert(name.clone(), Value::Null);
        }
    }
    let changes = UserChanges {
        claims,
        groups: Some(groups(form.get("groups").unwrap_or_default())),
    };
    match op.admin(&app).users().update(&u.username, changes).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin/console/users/{}?done=saved",
            encode(&u.username)
        ))),
        Err(e) => {
            let (status, message) = explain(e)?;
            refused(status, message).await
        }
    }
}

/// `POST /admin/console/users/{username}/{action}`: `password`, `disable`,
/// `enable`, `factors` (reset), `role`, `delete`, `end-session`.
pub async fn act(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let (username, action) = path.into_inner();
    let u = find(op.admin(&app), &username).await?;
    let users = op.admin(&app).users();
    let done = match action.as_str() {
        "password" => users
            .set_password(
                &u.username,
                form.get("password").unwrap_or_default().to_owned(),
            )
            .await
            .map(|_| "password"),
        "disable" => users
            .set_disabled(&u.username, true)
            .await
            .map(|_| "disabled"),
        "enable" => users
            .set_disabled(&u.username, false)
            .await
            .map(|_| "enabled"),
        "factors" => users.reset_factors(&u.username).await.map(|_| "factors"),
        "role" => match Role::parse(form.get("role").unwrap_or_default()) {
            Ok(role) => users.set_role(&u.username, role).await.map(|_| "role"),
            Err(e) => Err(latchkey_core::admin::AdminError::Invalid(e.to_string())),
        },
        "delete" => match users.delete(&u.username).await {
            Ok(()) => return Ok(see_other("/admin/console/users?done=deleted")),
            Err(e) => Err(e),
        },
        "end-session" => {
            end_session(op.admin(&app), &u, form.get("session").unwrap_or_default()).await
        }
        _ => {
            return Err(Refusal::Page(ApiError::Page(
                latchkey_protocol::OAuthError::new(
                    latchkey_protocol::ErrorCode::NotFound,
                    "no such action",
                ),
            )))
        }
    };
    match done {
        Ok(done) => Ok(see_other(&format!(
            "/admin/console/users/{}?done={done}",
            encode(&u.username)
        ))),
        Err(e) => {
            let (status, message) = explain(e)?;
            // The user may be gone or changed: show them as they are now.
            let now = find(op.admin(&app), &username).await?;
            user_page(&op, &app, status, &now, None, Some(&message), None).await
        }
    }
}

/// Ends one session of `u` (a session of anyone else is not found here).
async fn end_session(
    admin: latchkey_core::admin::Admin<'_>,
    u: &User,
    session: &str,
) -> Result<&'static str, latchkey_core::admin::AdminError> {
    let listed = admin.sessions().list(&u.username).await?;
    let Some(s) = listed.into_iter().find(|s| s.id.as_str() == session) else {
        return Err(latchkey_core::admin::AdminError::NotFound("session"));
    };
    admin.sessions().end(&s.id).await?;
    Ok("signed-out")
}
