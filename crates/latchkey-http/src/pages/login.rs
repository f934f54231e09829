//! `GET|POST /login`: the sign-in page of a pending authorization request.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use latchkey_core::login::{LoginAttempt, LoginOutcome, LoginView};
use latchkey_core::Latchkey;

use super::{pending_id, too_many_attempts};
use crate::browser::{
    browser_id, csrf_binding, csrf_ok, csrf_refused, respond, session_cookie, signed_in,
};
use crate::error::{ApiError, ApiResult};
use crate::request::{client_ip, header_str, query, read_form};
use crate::response::{page_posting_to, render, see_other};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    req: &'a str,
    csrf: &'a str,
    username: &'a str,
    client_name: Option<String>,
    message: Option<String>,
    /// Confirming who is signed in (the security page needs a fresh
    /// sign-in): the session is kept and raised.
    reauth: bool,
    /// The passkey button's challenge and options, when passkeys work here.
    passkey: Option<latchkey_core::login::PasswordlessStart>,
}

const PURPOSE: &str = "login";

#[allow(clippy::too_many_arguments)]
async fn login_page(
    req: &HttpRequest,
    app: &Latchkey,
    status: StatusCode,
    pending: &str,
    username: &str,
    view: LoginView,
    message: Option<String>,
    reauth: bool,
) -> HttpResponse {
    let (browser, set) = csrf_binding(req, app);
    let target = view.form_target;
    let mut b = page_posting_to(status, target.as_deref());
    let client_name = view.client_name;
    if let Some(c) = set {
        b.cookie(c);
    }
    let csrf = app.csrf().token(&browser, PURPOSE);
    // On re-authentication a passkey of the same user raises the session.
    let raise = if reauth {
        signed_in(req, app)
            .await
            .ok()
            .flatten()
            .map(|me| me.session.id)
    } else {
        None
    };
    let pending = (!pending.is_empty()).then_some(pending);
    let passkey = match app
        .login()
        .start_passwordless(pending, &browser, raise)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "no passkey sign-in could be prepared");
            None
        }
    };
    if passkey.is_some() {
        crate::response::runs_passkeys(&mut b, target.as_deref());
    }
    render(
        b,
        &LoginPage {
            req: pending.unwrap_or(""),
            csrf: &csrf,
            username,
            client_name,
            message,
            reauth,
            passkey,
        },
    )
}

/// Where a finished sign-in goes: its cookie set (when a session was
/// opened), then on to `next`.
pub(crate) fn signed_in_response(
    req: &HttpRequest,
    app: &Latchkey,
    cookie: Option<String>,
    next: latchkey_core::authorize::AuthorizeOutcome,
) -> HttpResponse {
    let mut resp = crate::browser::respond_after_sign_in(req, app, next);
    if let Some(cookie) = cookie {
        if let Err(e) = resp.add_cookie(&session_cookie(app, cookie)) {
            tracing::error!(error = %e, "could not set the session cookie");
        }
    }
    resp
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
    app.login().view(id, &browser).await.map_err(respond)
}

pub async fn show(req: HttpRequest, app: web::Data<Latchkey>) -> ApiResult {
    let params = query(&req).map_err(ApiError::Page)?;
    let id = pending_id(params.get("req")).map_err(ApiError::Page)?;
    let view = match view_for(&req, &app, id).await {
        Ok(v) => v,
        Err(resp) => return Ok(resp),
    };
    // `?reauth=1` on the account pages: the signed-in user confirms who
    // they are; the username is theirs.
    let reauth = id.is_none() && params.get("reauth") == Some("1");
    let hint = if reauth {
        match signed_in(&req, &app).await? {
            Some(me) => me.user.username,
            None => return Ok(see_other("/login")),
        }
    } else {
        view.login_hint.clone().unwrap_or_default()
    };
    Ok(login_page(
        &req,
        &app,
        StatusCode::OK,
        id.unwrap_or(""),
        &hint,
        view,
        None,
        reauth,
    )
    .await)
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
    let id = pending_id(params.get("req")).map_err(ApiError::Page)?;
    let username = params.get("username").unwrap_or("").to_owned();
    let reauth = id.is_none() && params.get("reauth") == Some("1");
    let password = params.get("password").unwrap_or("").to_owned();
    let previous = signed_in(&req, &app).await?;
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
    let outcome = app
        .login()
        .submit(id, attempt, previous.as_ref(), &browser, reauth)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "sign-in failed");
            ApiError::Page(e.to_oauth())
        })?;
    let (status, message) = match outcome {
        LoginOutcome::Refused(outcome) => return Ok(respond(outcome)),
        LoginOutcome::SignedIn { cookie, next } => {
            return Ok(signed_in_response(&req, &app, cookie, next))
        }
        LoginOutcome::SecondFactor { challenge } => {
            return Ok(see_other(&format!("/login/factor?c={challenge}")))
        }
        LoginOutcome::Enrolled { .. } => {
            tracing::error!("a password sign-in cannot enrol a factor");
            return Err(ApiError::Page(latchkey_protocol::OAuthError::bare(
                latchkey_protocol::ErrorCode::ServerError,
            )));
        }
        LoginOutcome::Failed => (
            StatusCode::UNAUTHORIZED,
            "Wrong username or password.".to_owned(),
        ),
        LoginOutcome::Throttled { wait_secs } => {
            (StatusCode::TOO_MANY_REQUESTS, too_many_attempts(wait_secs))
        }
    };
    Ok(match view_for(&req, &app, id).await {
        Ok(view) => {
            login_page(
                &req,
                &app,
                status,
                id.unwrap_or(""),
                &username,
                view,
                Some(message),
                reauth,
            )
            .await
        }
        Err(resp) => resp,
    })
}

/// `POST /login/passkey`: the answer of the sign-in page's passkey button.
pub async fn passkey(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    payload: web::Payload,
) -> ApiResult {
    let params = read_form(&req, payload).await.map_err(ApiError::Page)?;
    if !csrf_ok(&req, &app, PURPOSE, params.get("csrf")) {
        return Err(csrf_refused());
    }
    let id = pending_id(params.get("req")).map_err(ApiError::Page)?;
    let reauth = id.is_none() && params.get("reauth") == Some("1");
    let previous = signed_in(&req, &app).await?;
    let browser = browser_id(&req, &app).unwrap_or_default();
    let ip = client_ip(&req);
    let user_agent = header_str(&req, header::USER_AGENT).ok().flatten();
    let outcome = app
        .login()
        .submit_passwordless(
            params.get("c").unwrap_or(""),
            params.get("credential").unwrap_or(""),
            previous.as_ref(),
            &browser,
            &ip,
            user_agent,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "passkey sign-in failed");
            ApiError::Page(e.to_oauth())
        })?;
    let (status, message) = match outcome {
        LoginOutcome::Refused(outcome) => return Ok(respond(outcome)),
        LoginOutcome::SignedIn { cookie, next } => {
            return Ok(signed_in_response(&req, &app, cookie, next))
        }
        LoginOutcome::SecondFactor { challenge } => {
            return Ok(see_other(&format!("/login/factor?c={challenge}")))
        }
        LoginOutcome::Enrolled { .. } | LoginOutcome::Failed => (
            StatusCode::UNAUTHORIZED,
            "That passkey could not sign you in.".to_owned(),
        ),
        LoginOutcome::Throttled { wait_secs } => {
            (StatusCode::TOO_MANY_REQUESTS, too_many_attempts(wait_secs))
        }
    };
    Ok(match view_for(&req, &app, id).await {
        Ok(view) => {
            login_page(
                &req,
                &app,
                status,
                id.unwrap_or(""),
                "",
                view,
                Some(message),
                reauth,
            )
            .await
        }
        Err(resp) => resp,
    })
}
