//! `/admin/console/audit`: the audit log, newest first, filtered by user,
//! client, event kind, the operator who acted and time range (UTC).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::admin::console::AUDIT_PAGE;
use latchkey_core::admin::AuditQuery;
use latchkey_core::Latchkey;
use latchkey_domain::AuditEvent;
use latchkey_protocol::Params;

use super::{explain, field, internal, when, ConsoleResult, Operator};

struct Row {
    at: String,
    kind: &'static str,
    user: String,
    client: String,
    ip: String,
    detail: String,
    /// The operator who acted, if one did.
    actor: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    message: Option<&'a str>,
    user: String,
    client: String,
    kind: String,
    actor: String,
    since: String,
    until: String,
    kinds: &'static [&'static str],
    rows: Vec<Row>,
    limit: u64,
    /// Whether the page holds as many records as a search returns.
    full: bool,
}

/// A `datetime-local` value (`2026-12-03T19:35`, seconds optional), read
/// as UTC.
fn parse_time(name: &str, value: &str) -> Result<i64, String> {
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(value, f).ok())
    .map(|t| t.and_utc().timestamp())
    .ok_or_else(|| format!("{name}: expected a date and time such as 2026-12-03T19:35"))
}

/// The search the query asks for; a wrong time is a message.
fn query(q: &Params) -> Result<AuditQuery<'_>, String> {
    Ok(AuditQuery {
        user: field(q, "user"),
        client: field(q, "client"),
        kind: field(q, "kind"),
        actor: field(q, "actor"),
        since: field(q, "since")
            .map(|v| parse_time("from", v))
            .transpose()?,
        until: field(q, "until")
            .map(|v| parse_time("until", v))
            .transpose()?,
    })
}

/// `GET /admin/console/audit?user=&client=&kind=&actor=&since=&until=`.
pub async fn search(op: Operator, req: HttpRequest, app: web::Data<Latchkey>) -> ConsoleResult {
    let q = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let text = |n: &str| q.get(n).unwrap_or_default().to_owned();
    let mut page = AuditPage {
        message: None,
        user: text("user"),
        client: text("client"),
        kind: text("kind"),
        actor: text("actor"),
        since: text("since"),
        until: text("until"),
        kinds: AuditEvent::NAMES,
        rows: Vec::new(),
        limit: AUDIT_PAGE,
        full: false,
    };
    let found = match query(&q) {
        Ok(query) => match op.admin(&app).console().search(query).await {
            Ok(records) => Ok(records),
            Err(e) => Err(explain(e)?.1),
        },
        Err(m) => Err(m),
    };
    let records = match found {
        Ok(r) => r,
        Err(m) => {
            return Ok(op.render(
                StatusCode::BAD_REQUEST,
                &AuditPage {
                    message: Some(&m),
                    ..page
                },
            ))
        }
    };
    let names: HashMap<String, String> = op
        .admin(&app)
        .users()
        .list()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|u| (u.id.as_str().to_owned(), u.username))
        .collect();
    page.rows = records
        .into_iter()
        .map(|r| Row {
            at: when(r.at),
            kind: r.kind.as_str(),
            user: r
                .user_id
                .map(|id| names.get(&id).cloned().unwrap_or(id))
                .unwrap_or_default(),
            client: r.client_id.unwrap_or_default(),
            ip: r.ip.unwrap_or_default(),
            detail: r.detail,
            actor: r.actor.unwrap_or_default(),
        })
        .collect();
    page.full = page.rows.len() as u64 >= AUDIT_PAGE;
    Ok(op.render(StatusCode::OK, &page))
}
