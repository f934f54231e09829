//! `GET|POST /consent`: the user approves or declines a client's request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use latchkey_core::oauth2::authorize::ConsentClaim;
use latchkey_core::Latchkey;
use latchkey_protocol::OAuthError;

use super::pending_id;
use crate::browser::{browser_id, csrf_binding, csrf_ok, csrf_refused, respond, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::request::{query, read_form};
use crate::response::{page_posting_to, render};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    req: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: &'a [String],
    claims: &'a [ConsentClaim],
}

const PURPOSE: &str = "consent";

/// The pending request a consent page or answer is for: it must name one.
fn required_pending_id(value: Option<&str>) -> Result<&str, ApiError> {
    pending_id(value)
        .map_err(ApiError::Page)?
        .ok_or_else(|| ApiError::Page(OAuthError::invalid_request("no authorization request")))
}

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    let id = required_pending_id(params.get("req"))?;
    let session = signed_in(&req, &app).await?;
    let (browser, set) = csrf_binding(&req, &app);
    let view = match app
        .authorize()
        .consent_view(id, session.as_ref(), &browser)
        .await
    {
        Ok(v) => v,
        Err(outcome) => return Ok(respond(outcome)),
    };
    let mut b = page_posting_to(StatusCode::OK, view.form_target.as_deref());
    if let Some(c) = set {
        b.cookie(c);
    }
    Ok(render(
        b,
        &ConsentPage {
            req: &view.pending_id,
            csrf: &app.csrf().token(&browser, PURPOSE),
            client_name: &view.client_name,
            username: &view.username,
            scopes: &view.scopes,
            claims: &view.claims,
        },
    ))
}

pub async fn submit(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return Err(csrf_refused());
    }
    let id = required_pending_id(params.get("req"))?;
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Err(ApiError::Page(OAuthError::invalid_request(
                "decision must be approve or deny",
            )))
        }
    };
    let session = signed_in(&req, &app).await?;
    // The CSRF check passed, so the browser has an id this server issued.
    let browser = browser_id(&req, &app).unwrap_or_default();
    Ok(respond(
        app.authorize()
            .decide_consent(id, session.as_ref(), approve, &browser)
            .await,
    ))
}
