//! Latchkey's own HTML pages (sign-in, consent, errors) and the browser
//! cookies behind them.
//!
//! Pages forbid framing and caching; every form carries a CSRF token bound
//! to the browser's `latchkey_csrf` cookie. Cookies are HttpOnly,
//! SameSite=Lax, and Secure when the issuer is https.

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

pub const SESSION_COOKIE: &str = "latchkey_session";
pub const CSRF_COOKIE: &str = "latchkey_csrf";

const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    code: &'a str,
    description: &'a str,
}

/// A response builder for an HTML page with the page headers set.
pub fn page(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"));
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

/// The signed-in session of this browser, if any; storage trouble becomes
/// an error page.
pub async fn signed_in(
    req: &HttpRequest,
    app: &Latchkey,
) -> Result<Option<SignedIn>, HttpResponse> {
    let cookie = req.cookie(SESSION_COOKIE);
    app.current_session(cookie.as_ref().map(|c| c.value()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            error_page(&e.to_oauth())
        })
}

fn cookie<'c>(app: &Latchkey, name: &'c str, value: String, max_age_secs: i64) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.settings.secure_cookies())
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

pub fn session_cookie(app: &Latchkey, value: String) -> Cookie<'static> {
    cookie(app, SESSION_COOKIE, value, app.settings.session_ttl)
}

/// The browser's CSRF cookie value, and a cookie to set when it had none.
pub fn csrf_binding(req: &HttpRequest, app: &Latchkey) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 && c.value().len() <= 128 => (c.value().to_owned(), None),
        _ => {
            let value = app.random.secret();
            (
                value.clone(),
                Some(cookie(app, CSRF_COOKIE, value, 24 * 3600)),
            )
        }
    }
}

/// Whether a form's CSRF token fits this browser and this form.
pub fn csrf_ok(req: &HttpRequest, app: &Latchkey, purpose: &str, presented: Option<&str>) -> bool {
    let browser = req.cookie(CSRF_COOKIE);
    app.csrf
        .verify(browser.as_ref().map(|c| c.value()), purpose, presented)
}

pub fn csrf_refused() -> HttpResponse {
    let e = OAuthError::new(
        latchkey_protocol::ErrorCode::AccessDenied,
        "the form has expired or did not come from this site; go back, reload the page and try again",
    );
    error_page(&e)
}
