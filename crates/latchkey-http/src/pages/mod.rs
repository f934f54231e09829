//! Latchkey's own HTML pages (sign-in, consent, errors) and the browser
//! cookies behind them.
//!
//! Pages forbid framing and caching; every form carries a CSRF token bound
//! to the browser's `latchkey_csrf` cookie. Cookies are HttpOnly,
//! SameSite=Lax, and when the issuer is https they are Secure and carry the
//! `__Host-` prefix (the browser then refuses them from any subdomain or
//! plain-http page, and refuses a `Domain` attribute).

pub mod account;
pub mod consent;
pub mod login;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use latchkey_core::authorize::{AuthorizeOutcome, SignedIn};
use latchkey_core::Latchkey;
use latchkey_protocol::OAuthError;

const SESSION_COOKIE: &str = "latchkey_session";
const CSRF_COOKIE: &str = "latchkey_csrf";

/// The name of a cookie on this server: `__Host-` prefixed under https.
fn cookie_name(app: &Latchkey, base: &'static str) -> &'static str {
    match (app.settings.secure_cookies(), base) {
        (true, SESSION_COOKIE) => "__Host-latchkey_session",
        (true, _) => "__Host-latchkey_csrf",
        (false, _) => base,
    }
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

/// Forms may post only to Latchkey itself (`form-action 'self'`); a page
/// whose form ends in a redirect to the client also names the client's
/// redirect origin, since browsers apply `form-action` to the redirects
/// that follow a submission.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    code: &'a str,
    description: &'a str,
}

/// A response builder for an HTML page with the page headers set.
pub fn page(status: StatusCode) -> HttpResponseBuilder {
    page_posting_to(status, None)
}

/// A page whose form, once Latchkey has answered it, redirects the browser
/// to `target` (a CSP source: the client's redirect origin).
pub fn page_posting_to(status: StatusCode, target: Option<&str>) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    match target {
        Some(t) => b.insert_header((header::CONTENT_SECURITY_POLICY, format!("{CSP} {t}"))),
        None => b.insert_header((header::CONTENT_SECURITY_POLICY, CSP)),
    };
    b
}

pub fn render<T: Template>(mut builder: HttpResponseBuilder, t: &T) -> HttpResponse {
    match t.render() {
        Ok(html) => builder.body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The error page shown when no redirect to the client is safe.
pub fn error_page(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let status = if status == StatusCode::UNAUTHORIZED {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    render(
        page(status),
        &ErrorPage {
            code: e.code.as_str(),
            description: e.description.as_deref().unwrap_or(""),
        },
    )
}

/// Turns an authorization outcome into a response.
pub fn respond(outcome: AuthorizeOutcome) -> HttpResponse {
    let to = match outcome {
        AuthorizeOutcome::Redirect(url) => url,
        AuthorizeOutcome::Login { pending_id } => format!("/login?req={pending_id}"),
        AuthorizeOutcome::Consent { pending_id } => format!("/consent?req={pending_id}"),
        AuthorizeOutcome::ErrorPage(e) => return error_page(&e),
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The pending request a page is for (`req`), checked for shape before any
/// lookup; none means a sign-in for the account pages.
pub(crate) fn pending_id(value: Option<&str>) -> Result<Option<&str>, OAuthError> {
    match value {
        None => Ok(None),
        Some(id)
            if id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(id))
        }
        _ => Err(OAuthError::invalid_request("malformed sign-in request")),
    }
}

/// The signed-in session of this browser, if any; storage trouble becomes
/// an error page.
pub async fn signed_in(
    req: &HttpRequest,
    app: &Latchkey,
) -> Result<Option<SignedIn>, HttpResponse> {
    let cookie = req.cookie(session_cookie_name(app));
    app.current_session(cookie.as_ref().map(|c| c.value()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            error_page(&e.to_oauth())
        })
}

fn cookie(app: &Latchkey, name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.settings.secure_cookies())
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

pub fn session_cookie(app: &Latchkey, value: String) -> Cookie<'static> {
    cookie(
        app,
        session_cookie_name(app),
        value,
        app.settings.tokens.session_ttl,
    )
}

/// The browser's id (its CSRF cookie's value, one the server issued), and a
/// cookie to set when it had none or one the server did not issue.
pub fn csrf_binding(req: &HttpRequest, app: &Latchkey) -> (String, Option<Cookie<'static>>) {
    match browser_id(req, app) {
        Some(value) => (value, None),
        None => {
            let value = app.csrf.issue_browser(&app.random.secret());
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
        .filter(|v| v.len() <= 128 && app.csrf.is_issued(v))
}

/// Whether a form's CSRF token fits this browser and this form.
pub fn csrf_ok(req: &HttpRequest, app: &Latchkey, purpose: &str, presented: Option<&str>) -> bool {
    app.csrf
        .verify(browser_id(req, app).as_deref(), purpose, presented)
}

pub fn csrf_refused() -> HttpResponse {
    let e = OAuthError::new(
        latchkey_protocol::ErrorCode::AccessDenied,
        "the form has expired or did not come from this site; go back, reload the page and try again",
    );
    error_page(&e)
}
