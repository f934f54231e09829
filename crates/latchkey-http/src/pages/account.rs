//! `/account/*`: a signed-in user's own pages: their sessions, with a
//! sign-out button for each, and a password change. Every form carries a
//! CSRF token bound to the browser.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::admin::AdminError;
use latchkey_core::sessions::SessionView;
use latchkey_core::Latchkey;
use latchkey_domain::SessionId;
use latchkey_protocol::{ErrorCode, OAuthError};

use super::too_many_attempts;
use crate::browser::{
    csrf_binding, csrf_ok, csrf_refused, session_cookie, session_cookie_removal, signed_in,
};
use crate::error::{ApiError, ApiResult};
use crate::request::{client_ip, read_form};
use crate::response::{page, render, see_other};

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

pub async fn sessions(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    let list = app
        .sessions()
        .list_sessions(&me.user.id, Some(&me.session.id))
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    let (browser, set) = csrf_binding(&req, &app);
    let mut b = page(StatusCode::OK);
    if let Some(c) = set {
        b.cookie(c);
    }
    Ok(render(
        b,
        &SessionsPage {
            csrf: &app.csrf().token(&browser, PURPOSE),
            username: &me.user.username,
            sessions: &list,
        },
    ))
}

/// `POST /account/sessions/end`: sign one session out.
pub async fn end_session(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return Err(csrf_refused());
    }
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    let Some(sid) = form.get("session") else {
        return Err(ApiError::Page(OAuthError::invalid_request(
            "no session given",
        )));
    };
    let sid = SessionId::new(sid);
    app.sessions()
        .end_own_session(&me.user.id, &sid)
        .await
        .map_err(|e| ApiError::Page(e.to_oauth()))?;
    if sid == me.session.id {
        let mut resp = see_other("/login");
        let _ = resp.add_cookie(&session_cookie_removal(&app));
        return Ok(resp);
    }
    Ok(see_other("/account/sessions"))
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
            csrf: &app.csrf().token(&browser, PURPOSE),
            message,
        },
    )
}

pub async fn password_form(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    if signed_in(&req, &app).await?.is_none() {
        return Ok(see_other("/login"));
    }
    Ok(password_page(&req, &app, StatusCode::OK, None))
}

pub async fn change_password(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let form = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, form.get("csrf")) {
        return Err(csrf_refused());
    }
    let Some(me) = signed_in(&req, &app).await? else {
        return Ok(see_other("/login"));
    };
    let current = form.get("current").unwrap_or("").to_owned();
    let new = form.get("new").unwrap_or("").to_owned();
    let changed = app
        .password_change()
        .change_own_password(&me, &client_ip(&req), current, new)
        .await;
    let (status, message) = match changed {
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
            return Ok(resp);
        }
        Err(AdminError::Invalid(m)) => (StatusCode::BAD_REQUEST, m),
        Err(AdminError::Throttled { wait_secs }) => {
            (StatusCode::TOO_MANY_REQUESTS, too_many_attempts(wait_secs))
        }
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            return Err(ApiError::Page(OAuthError::bare(ErrorCode::ServerError)));
        }
    };
    Ok(password_page(&req, &app, status, Some(&message)))
}
