//! `/admin/console/tokens`: initial access tokens for `POST /register` and
//! tokens for the admin API: list, issue (the value shown once), revoke.
//! Through `latchkey_core::admin::tokens`, as `latchkey token`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::Latchkey;

use super::clients::SecretPage;
use super::{explain, field, internal, notice, when, ConsoleResult, Operator};
use crate::response::see_other;

struct Registration {
    id: String,
    created: String,
    expires: String,
    uses_left: i64,
    usable: bool,
}

struct AdminRow {
    id: String,
    name: String,
    created: String,
    expires: String,
    expired: bool,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    message: Option<&'a str>,
    registration: Vec<Registration>,
    admin: Vec<AdminRow>,
}

async fn tokens_page(
    op: &Operator,
    app: &Latchkey,
    status: StatusCode,
    notice: Option<&str>,
    message: Option<&str>,
) -> ConsoleResult {
    let tokens = op.admin(app).tokens();
    let now = app.clock().unix();
    let registration = tokens
        .list_registration_tokens()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|t| Registration {
            usable: t.usable(now),
            id: t.id,
            created: when(t.created_at),
            expires: when(t.expires_at),
            uses_left: t.uses_left,
        })
        .collect();
    let admin = tokens
        .list_admin_tokens()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|t| AdminRow {
            expired: t.expires_at <= now,
            id: t.id,
            name: t.name,
            created: when(t.created_at),
            expires: when(t.expires_at),
        })
        .collect();
    Ok(op.render(
        status,
        &TokensPage {
            csrf: &op.csrf,
            notice,
            message,
            registration,
            admin,
        },
    ))
}

/// `GET /admin/console/tokens`.
pub async fn list(op: Operator, req: HttpRequest, app: web::Data<Latchkey>) -> ConsoleResult {
    let notice = notice(&req, &[("revoked", "The token was revoked.")]);
    tokens_page(&op, &app, StatusCode::OK, notice, None).await
}

/// A whole number of days or uses from a form field.
fn number(form: &latchkey_protocol::Params, name: &str, default: i64) -> Result<i64, String> {
    match field(form, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| format!("{name} must be a whole number")),
    }
}

/// `POST /admin/console/tokens`: `action` is `registration` (with `days`
/// and `uses`), `admin` (with `name` and `days`), `revoke-registration`
/// or `revoke-admin` (with `id`).
pub async fn act(
    op: Operator,
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ConsoleResult {
    let form = op.form(&req, &app, payload).await?;
    let tokens = op.admin(&app).tokens();
    let (opr, appr) = (&op, &app);
    let bad = move |m: String| async move {
        tokens_page(opr, appr, StatusCode::BAD_REQUEST, None, Some(&m)).await
    };
    let days = match number(&form, "days", 7) {
        Ok(d) => d.saturating_mul(86_400),
        Err(m) => return bad(m).await,
    };
    let (heading, issued) = match form.get("action") {
        Some("registration") => {
            let uses = match number(&form, "uses", 1) {
                Ok(u) => u,
                Err(m) => return bad(m).await,
            };
            (
                "Registration token issued",
                tokens.create_registration_token(days, uses).await.map(|t| {
                    (
                        t.token,
                        vec![
                            ("Token ID", t.record.id),
                            ("Expires", when(t.record.expires_at)),
                            ("Uses", t.record.uses_left.to_string()),
                        ],
                    )
                }),
            )
        }
        Some("admin") => (
            "Admin API token issued",
            tokens
                .create_admin_token(form.get("name").unwrap_or_default(), Some(days))
                .await
                .map(|t| {
                    (
                        t.token,
                        vec![
                            ("Token ID", t.record.id),
                            ("Name", t.record.name),
                            ("Expires", when(t.record.expires_at)),
                        ],
                    )
                }),
        ),
        Some(kind @ ("revoke-registration" | "revoke-admin")) => {
            let id = form.get("id").unwrap_or_default();
            let revoked = if kind == "revoke-admin" {
                tokens.delete_admin_token(id).await
            } else {
                tokens.delete_registration_token(id).await
            };
            return match revoked {
                Ok(()) => Ok(see_other("/admin/console/tokens?done=revoked")),
                Err(e) => {
                    let (status, message) = explain(e)?;
                    tokens_page(&op, &app, status, None, Some(&message)).await
                }
            };
        }
        _ => return bad("Unknown action.".into()).await,
    };
    match issued {
        Ok((token, facts)) => Ok(op.render(
            StatusCode::OK,
            &SecretPage {
                heading,
                what: "token",
                secret: Some(&token),
                facts,
                back: "/admin/console/tokens".into(),
            },
        )),
        Err(e) => {
            let (status, message) = explain(e)?;
            tokens_page(&op, &app, status, None, Some(&message)).await
        }
    }
}
