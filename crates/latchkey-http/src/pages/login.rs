//! `GET|POST /login`: the sign-in page of a pending authorization request.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::login::{LoginAttempt, LoginOutcome, LoginView};
use latchkey_core::Latchkey;

use super::{
    browser_id, csrf_binding, csrf_ok, csrf_refused, error_page, page_posting_to, pending_id,
    render, respond, session_cookie, signed_in,
};
use crate::request::{client_ip, header_str, query, read_form};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    req: &'a str,
    csrf: &'a str,
    username: &'a str,
    client_name: Option<String>,
    message: Option<String>,
}

const PURPOSE: &str = "login";

fn login_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    pending: &str,
    username: &str,
    view: LoginView,
    message: Option<String>,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page_posting_to(status, view.form_target.as_deref());
    let client_name = view.client_name;
    if let Some(c) = set {
        b.cookie(c);
    }
    let csrf = app.csrf.token(&browser, PURPOSE);
    render(
        b,
        &LoginPage {
            req: pending,
            csrf: &csrf,
            username,
            client_name,
            message,
        },
    )
}

/// What a page says to an attempt the throttle refused.
pub(super) fn too_many_attempts(wait_secs: i64) -> String {
    format!("Too many attempts. Try again in {wait_secs} seconds.")
}

/// What the page shows for the pending request `id` (this browser's only).
async fn view_for(
    req: &HttpRequest,
    app: &Latchkey,
    id: Option<&str>,
) -> Result<LoginView, HttpResponse> {
    let Some(id) = id else {
        return Ok(LoginView::default());
    };
    let browser = browser_id(req, app).unwrap_or_default();
    app.login_view(id, &browser).await.map_err(respond)
}

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    let params = match query(&req) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let id = match pending_id(params.get("req")) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let view = match view_for(&req, &app, id).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let hint = view.login_hint.clone().unwrap_or_default();
    login_page(
        &req,
        &app,
        StatusCode::OK,
        id.unwrap_or(""),
        &hint,
        view,
        None,
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
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let username = params.get("username").unwrap_or("").to_owned();
    let password = params.get("password").unwrap_or("").to_owned();
    let previous = match signed_in(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let attempt = LoginAttempt {
        username: username.clone(),
        password,
        ip: client_ip(&req),
        user_agent: header_str(&req, header::USER_AGENT)
            .ok()
            .flatten()
            .map(str::to_owned),
    };
    // The CSRF check passed, so the browser has an id this server issued.
    let browser = browser_id(&req, &app).unwrap_or_default();
    match app.login(id, attempt, previous.as_ref(), &browser).await {
        Ok(LoginOutcome::Refused(outcome)) => respond(outcome),
        Ok(LoginOutcome::SignedIn { cookie, next }) => {
            let mut resp = respond(next);
            if let Err(e) = resp.add_cookie(&session_cookie(&app, cookie)) {
                tracing::error!(error = %e, "could not set the session cookie");
            }
            resp
        }
        Ok(LoginOutcome::Failed) => match view_for(&req, &app, id).await {
            Ok(view) => login_page(
                &req,
                &app,
                StatusCode::UNAUTHORIZED,
                id.unwrap_or(""),
                &username,
                view,
                Some("Wrong username or password.".into()),
            ),
            Err(resp) => resp,
        },
        Ok(LoginOutcome::Throttled { wait_secs }) => match view_for(&req, &app, id).await {
            Ok(view) => login_page(
                &req,
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                id.unwrap_or(""),
                &username,
                view,
                Some(too_many_attempts(wait_secs)),
            ),
            Err(resp) => resp,
        },
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            error_page(&e.to_oauth())
        }
    }
}
