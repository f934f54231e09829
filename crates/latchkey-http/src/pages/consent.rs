//! `GET|POST /consent`: the user approves or declines a client's request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::Latchkey;
use latchkey_protocol::OAuthError;

use super::{
    browser_id, csrf_binding, csrf_ok, csrf_refused, error_page, page_posting_to, pending_id,
    render, respond, signed_in,
};
use crate::request::{query, read_form};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    req: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: &'a [String],
}

const PURPOSE: &str = "consent";

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    let params = match query(&req) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let id = match pending_id(params.get("req")) {
        Ok(Some(id)) => id,
        Ok(None) => return error_page(&OAuthError::invalid_request("no authorization request")),
        Err(e) => return error_page(&e),
    };
    let session = match signed_in(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let (browser, set) = csrf_binding(&req, &app);
    let view = match app.consent_view(id, session.as_ref(), &browser).await {
        Ok(v) => v,
        Err(outcome) => return respond(outcome),
    };
    let mut b = page_posting_to(StatusCode::OK, view.form_target.as_deref());
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &ConsentPage {
            req: &view.pending_id,
            csrf: &app.csrf.token(&browser, PURPOSE),
            client_name: &view.client_name,
            username: &view.username,
            scopes: &view.scopes,
        },
    )
}

pub async fn submit(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    let params = match read_form(&req, payload).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return csrf_refused();
    }
    let id = match pending_id(params.get("req")) {
        Ok(Some(id)) => id,
        Ok(None) => return error_page(&OAuthError::invalid_request("no authorization request")),
        Err(e) => return error_page(&e),
    };
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return error_page(&OAuthError::invalid_request(
                "decision must be approve or deny",
            ))
        }
    };
    let session = match signed_in(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    // The CSRF check passed, so the browser has an id this server issued.
    let browser = browser_id(&req, &app).unwrap_or_default();
    respond(
        app.decide_consent(id, session.as_ref(), approve, &browser)
            .await,
    )
}
