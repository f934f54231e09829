//! `/account/*`: a signed-in user's own pages: their sessions, with a
//! sign-out button for each, and a password change. Every form carries a
//! CSRF token bound to the browser.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::authorize::SignedIn;
use latchkey_core::sessions::SessionView;
use latchkey_core::Latchkey;

use super::{
    csrf_binding, csrf_ok, csrf_refused, error_page, page, render, session_cookie,
    session_cookie_removal, signed_in,
};
use crate::request::{client_ip, read_form};

const PURPOSE: &str = "account";

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    csrf: &'a str,
    username: &'a str,
    sessions: &'a [SessionView],
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    csrf: &'a str,
    message: Option<&'a str>,
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The signed-in user, or a redirect to the sign-in page.
async fn require_user(req: &HttpRequest, app: &Latchkey) -> Result<SignedIn, HttpResponse> {
    match signed_in(req, app).await? {
        Some(s) => Ok(s),
        None => Err(see_other("/login")),
    }
}

pub async fn sessions(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    let me = match require_user(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let list = match app.list_sessions(&me.user.id, Some(&me.session.id)).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.to_oauth()),
    };
    let (browser, set) = csrf_binding(&req, &app);
    let mut b = page(StatusCode::OK);
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &SessionsPage {
            csrf: &app.csrf.token(&browser, PURPOSE),
            username: &me.user.username,
            sessions: &list,
        },
    )
}

/// `POST /account/sessions/end`: sign one session out.
pub async fn end_session(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    let form = match read_form(&req, payload).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return csrf_refused();
    }
    let me = match require_user(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Some(sid) = form.get("session") else {
        return error_page(&latchkey_protocol::OAuthError::invalid_request(
            "no session given",
        ));
    };
    if let Err(e) = app.end_own_session(&me.user.id, sid).await {
        return error_page(&e.to_oauth());
    }
    if sid == me.session.id {
        let mut resp = see_other("/login");
        let _ = resp.add_cookie(&session_cookie_removal(&app));
        return resp;
    }
    see_other("/account/sessions")
}

fn password_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    message: Option<&str>,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let mut b = page(status);
    if let Some(c) = set {
        b.cookie(c);
    }
    render(
        b,
        &PasswordPage {
            csrf: &app.csrf.token(&browser, PURPOSE),
            message,
        },
    )
}

pub async fn password_form(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    if let Err(resp) = require_user(&req, &app).await {
        return resp;
    }
    password_page(&req, &app, StatusCode::OK, None)
}

pub async fn change_password(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> HttpResponse {
    let form = match read_form(&req, payload).await {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return csrf_refused();
    }
    let me = match require_user(&req, &app).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let current = form.get("current").unwrap_or("").to_owned();
    let new = form.get("new").unwrap_or("").to_owned();
    match app
        .change_own_password(&me, &client_ip(&req), current, new)
        .await
    {
        Ok(cookie) => {
            let mut resp = password_page(
                &req,
                &app,
                StatusCode::OK,
                Some("Password changed. Your other sessions were signed out."),
            );
            if let Err(e) = resp.add_cookie(&session_cookie(&app, cookie)) {
                tracing::error!(error = %e, "could not set the session cookie");
            }
            resp
        }
        Err(latchkey_core::admin::AdminError::Invalid(m)) => {
            password_page(&req, &app, StatusCode::BAD_REQUEST, Some(&m))
        }
        Err(latchkey_core::admin::AdminError::Throttled { wait_secs }) => password_page(
            &req,
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&super::login::too_many_attempts(wait_secs)),
        ),
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            error_page(&latchkey_protocol::OAuthError::bare(
                latchkey_protocol::ErrorCode::ServerError,
            ))
        }
    }
}
