//! `GET /admin/audit-events`: the audit log for scripts and log pipelines,
//! newest first, filtered as in the console (user, client, event kind, the
//! operator who acted, a time range in Unix seconds).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use latchkey_core::admin::AuditQuery;
use latchkey_core::Latchkey;
use latchkey_domain::AuditRecord;
use latchkey_protocol::{OAuthError, Params};
use serde::Serialize;

use super::{failed, Admin};
use crate::error::{ApiError, ApiResult};
use crate::response::json_no_store;

/// One audit record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// The event kind (`login`, `client_deleted`, ...).
    pub kind: String,
    /// The user the event is about (their `sub`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The operator who acted: `cli`, `console:<username>` or
    /// `api:<admin token id>`; absent when a user, a client or Latchkey
    /// itself did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub detail: String,
}

impl From<AuditRecord> for AuditEventView {
    fn from(r: AuditRecord) -> Self {
        AuditEventView {
            id: r.id,
            at: r.at,
            kind: r.kind.as_str().to_owned(),
            user_id: r.user_id,
            client_id: r.client_id,
            ip: r.ip,
            actor: r.actor,
            detail: r.detail,
        }
    }
}

const NAMES: [&str; 6] = ["user", "client", "kind", "actor", "since", "until"];

fn bad(message: String) -> ApiError {
    ApiError::Json(OAuthError::invalid_request(message))
}

/// Search the audit log (at most 200 records, newest first).
#[utoipa::path(get, path = "/admin/audit-events", tag = "admin",
    params(
        ("user" = Option<String>, Query, description = "a username: events about that user"),
        ("client" = Option<String>, Query, description = "a client id"),
        ("kind" = Option<String>, Query, description = "an event kind, e.g. client_deleted"),
        ("actor" = Option<String>, Query, description = "the operator who acted, exactly as recorded: cli, console:<username>, api:<admin token id>"),
        ("since" = Option<i64>, Query, description = "from this Unix time on (inclusive)"),
        ("until" = Option<i64>, Query, description = "before this Unix time"),
    ),
    responses((status = 200, body = Vec<AuditEventView>), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_token" = [])))]
pub async fn search(admin: Admin, req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let q = Params::parse(req.query_string().as_bytes()).map_err(ApiError::Json)?;
    if let Some((name, _)) = q.iter().find(|(n, _)| !NAMES.contains(n)) {
        return Err(bad(format!(
            "unknown parameter {name:?}: filter by {}",
            NAMES.join(", ")
        )));
    }
    let field = |n: &str| q.get(n).map(str::trim).filter(|v| !v.is_empty());
    let time = |n: &str| {
        field(n)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(format!("{n} must be a Unix time in seconds")))
            })
            .transpose()
    };
    let query = AuditQuery {
        user: field("user"),
        client: field("client"),
        kind: field("kind"),
        actor: field("actor"),
        since: time("since")?,
        until: time("until")?,
    };
    let records = admin
        .on(&app)
        .console()
        .search(query)
        .await
        .map_err(failed)?;
    Ok(json_no_store(
        StatusCode::OK,
        &records
            .into_iter()
            .map(AuditEventView::from)
            .collect::<Vec<_>>(),
    ))
}
