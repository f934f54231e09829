//! The browser in front of Latchkey's pages: its session cookie, the CSRF
//! binding every form carries, and where an authorization step sends it
//! next. Used by the pages and by the endpoints a browser visits
//! (`/authorize`, `/logout`).
//!
//! Every form carries a CSRF token bound to the browser's `latchkey_csrf`
//! cookie. Cookies are HttpOnly, SameSite=Lax, and when the issuer is https
//! they are Secure and carry the `__Host-` prefix (the browser then refuses
//! them from any subdomain or plain-http page, and refuses a `Domain`
//! attribute).

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use latchkey_core::authorize::{AuthorizeOutcome, FormPost, SignedIn};
use latchkey_core::Latchkey;
use latchkey_protocol::{ErrorCode, OAuthError};

use crate::error::ApiError;
use crate::response::{form_post_page, render, see_other, FORM_POST_SCRIPT};

const SESSION_COOKIE: &str = "latchkey_session";
const CSRF_COOKIE: &str = "latchkey_csrf";
const RETURN_COOKIE: &str = "latchkey_return";

/// The name of a cookie on this server: `__Host-` prefixed under https.
fn cookie_name(app: &Latchkey, base: &'static str) -> &'static str {
    match (app.settings().secure_cookies(), base) {
        (true, SESSION_COOKIE) => "__Host-latchkey_session",
        (true, RETURN_COOKIE) => "__Host-latchkey_return",
        (true, _) => "__Host-latchkey_csrf",
        (false, _) => base,
    }
}

/// The one page a sign-in for Latchkey itself may return to, besides
/// the account pages: the operator console. A fixed path, never taken
/// from the request, so the return cannot lead anywhere else.
pub const CONSOLE_HOME: &str = "/admin";

/// A cookie asking the next sign-in of this browser to return to the
/// console (for ten minutes).
pub fn return_to_console(app: &Latchkey) -> Cookie<'static> {
    cookie(
        app,
        cookie_name(app, RETURN_COOKIE),
        CONSOLE_HOME.to_owned(),
        600,
    )
}

/// Where a finished sign-in for Latchkey itself goes instead of the
/// account pages: the console, when the browser asked for it and the
/// sign-in would otherwise land on `/account/sessions` (a sign-in) or
/// `/account/security` (a confirmation that raised the session); and the
/// cookie that forgets the request (whenever the browser had one).
fn return_after_sign_in(
    req: &HttpRequest,
    app: &Latchkey,
    next: &AuthorizeOutcome,
) -> (Option<&'static str>, Option<Cookie<'static>>) {
    let Some(asked) = req.cookie(cookie_name(app, RETURN_COOKIE)) else {
        return (None, None);
    };
    let mut gone = cookie(app, cookie_name(app, RETURN_COOKIE), String::new(), 0);
    gone.set_max_age(time::Duration::ZERO);
    let to = (asked.value() == CONSOLE_HOME
        && matches!(next, AuthorizeOutcome::Redirect(to)
            if to == "/account/sessions" || to == "/account/security"))
    .then_some(CONSOLE_HOME);
    (to, Some(gone))
}

/// Turns a finished sign-in's outcome into a response, returning to the
/// console when the browser came from there (see [`return_to_console`]).
pub fn respond_after_sign_in(
    req: &HttpRequest,
    app: &Latchkey,
    next: AuthorizeOutcome,
) -> HttpResponse {
    let (to, forget) = return_after_sign_in(req, app, &next);
    let mut resp = match to {
        Some(to) => see_other(to),
        None => respond(next),
    };
    if let Some(c) = forget {
        let _ = resp.add_cookie(&c);
    }
    resp
}

pub fn session_cookie_name(app: &Latchkey) -> &'static str {
    cookie_name(app, SESSION_COOKIE)
}

/// A cookie that deletes the browser's session cookie.
pub fn session_cookie_removal(app: &Latchkey) -> Cookie<'static> {
    let mut gone = cookie(app, session_cookie_name(app), String::new(), 0);
    gone.set_max_age(time::Duration::ZERO);
    gone
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: &'a [(&'static str, String)],
    script: &'static str,
}

/// Turns an authorization outcome into a response.
pub fn respond(outcome: AuthorizeOutcome) -> HttpResponse {
    let to = match outcome {
        AuthorizeOutcome::Redirect(url) => url,
        AuthorizeOutcome::FormPost(FormPost {
            action,
            fields,
            form_target,
        }) => {
            return render(
                form_post_page(form_target.as_deref()),
                &FormPostPage {
                    action: &action,
                    fields: &fields,
                    script: FORM_POST_SCRIPT,
                },
            )
        }
        AuthorizeOutcome::Login { pending_id } => format!("/login?req={pending_id}"),
        AuthorizeOutcome::Consent { pending_id } => format!("/consent?req={pending_id}"),
        AuthorizeOutcome::SecondFactor { challenge } => format!("/login/factor?c={challenge}"),
        AuthorizeOutcome::ErrorPage(e) => return ApiError::Page(e).error_response(),
    };
    see_other(&to)
}

/// The signed-in session of this browser, if any; storage trouble becomes
/// an error page.
pub async fn signed_in(req: &HttpRequest, app: &Latchkey) -> Result<Option<SignedIn>, ApiError> {
    let cookie = req.cookie(session_cookie_name(app));
    app.authorize()
        .current_session(cookie.as_ref().map(|c| c.value()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            ApiError::Page(e.to_oauth())
        })
}

fn cookie(app: &Latchkey, name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.settings().secure_cookies())
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

pub fn session_cookie(app: &Latchkey, value: String) -> Cookie<'static> {
    cookie(
        app,
        session_cookie_name(app),
        value,
        app.settings().tokens.session_ttl,
    )
}

/// The browser's id (its CSRF cookie's value, one the server issued), and a
/// cookie to set when it had none or one the server did not issue.
pub fn csrf_binding(req: &HttpRequest, app: &Latchkey) -> (String, Option<Cookie<'static>>) {
    match browser_id(req, app) {
        Some(value) => (value, None),
        None => {
            let value = app.csrf().issue_browser(&app.random().secret());
            (
                value.clone(),
                Some(cookie(app, cookie_name(app, CSRF_COOKIE), value, 24 * 3600)),
            )
        }
    }
}

/// The browser's id, if its CSRF cookie is one this server issued.
pub fn browser_id(req: &HttpRequest, app: &Latchkey) -> Option<String> {
    req.cookie(cookie_name(app, CSRF_COOKIE))
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() <= 128 && app.csrf().is_issued(v))
}

/// Whether a form's CSRF token fits this browser and this form.
pub fn csrf_ok(req: &HttpRequest, app: &Latchkey, purpose: &str, presented: Option<&str>) -> bool {
    app.csrf()
        .verify(browser_id(req, app).as_deref(), purpose, presented)
}

/// A form whose CSRF token does not fit.
pub fn csrf_refused() -> ApiError {
    ApiError::Page(OAuthError::new(
        ErrorCode::AccessDenied,
        "the form has expired or did not come from this site; go back, reload the page and try again",
    ))
}
