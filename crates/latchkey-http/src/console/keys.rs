//! `/admin/console/keys`: the signing keys with their state, a scheduled
//! rotation now, and the emergency revocation of a leaked key. Through
//! the same services as `latchkey keys`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::Latchkey;
use latchkey_domain::Kid;

use super::{explain, internal, notice, when, ConsoleResult, Operator};
use crate::response::see_other;

struct Row {
    kid: String,
    alg: &'static str,
    state: &'static str,
    created: String,
    activates: String,
    retired: String,
    /// Whether it is still published (and so may be revoked).
    revocable: bool,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    keys: Vec<Row>,
}

async fn keys_page(
    op: &Operator,
    app: &Latchkey,
    status: StatusCode,
    notice: Option<&str>,
    message: Option<&str>,
) -> ConsoleResult {
    let keys = app.signing_keys().list().await.map_err(internal)?;
    let rows = keys
        .iter()
        .map(|k| Row {
            kid: k.kid.to_string(),
            alg: k.alg.as_str(),
            state: k.state.as_str(),
            created: when(k.created_at),
            activates: when(k.activates_at),
            retired: k.retired_at.map(when).unwrap_or_default(),
            revocable: k.state.is_published(),
        })
        .collect();
    Ok(op.render(
        status,
        &KeysPage {
            csrf: &op.csrf,
            notice,
            message,
            keys: rows,
        },
    ))
}

/// `GET /admin/console/keys`.
pub async fn list(op: Operator, req: HttpRequest, app: web::Data<Latchkey>) -> ConsoleResult {
    let notice = notice(
        &req,
        &[
            ("rotated", "The keys were rotated."),
            (
                "unchanged",
                "Nothing to rotate: the keys are as the schedule wants them.",
            ),
            (
                "revoked",
                "The key was revoked: every token it signed is refused from now on.",
            ),
        ],
    );
    keys_page(&op, &app, StatusCode::OK, notice, None).await
}

/// `POST /admin/console/keys`: `action=rotate`, or `action=revoke` with
/// `kid`.
pub async fn act(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    match form.get("action") {
        Some("rotate") => {
            let report = op.admin(&app).keys().rotate().await.map_err(internal)?;
            Ok(see_other(if report.changed() {
                "/admin/console/keys?done=rotated"
            } else {
                "/admin/console/keys?done=unchanged"
            }))
        }
        Some("revoke") => {
            let kid = form.get("kid").unwrap_or_default();
            match op.admin(&app).keys().revoke(&Kid::new(kid)).await {
                Ok(_) => Ok(see_other("/admin/console/keys?done=revoked")),
                Err(e) => {
                    let (status, message) = explain(e)?;
                    keys_page(&op, &app, status, None, Some(&message)).await
                }
            }
        }
        _ => {
            keys_page(
                &op,
                &app,
                StatusCode::BAD_REQUEST,
                None,
                Some("Unknown action."),
            )
            .await
        }
    }
}
