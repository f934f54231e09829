//! The shapes of a successful answer, shared by every endpoint: JSON that
//! no cache keeps, Latchkey's HTML pages with their headers, and the
//! redirect a browser follows.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;
use serde::Serialize;

/// A JSON answer that no cache keeps (it may carry credentials).
pub fn json_no_store<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// `303 See Other` to `to`, not cached.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Forms may post only to Latchkey itself (`form-action 'self'`); a page
/// whose form ends in a redirect to the client also names the client's
/// redirect origin, since browsers apply `form-action` to the redirects
/// that follow a submission. No script runs, except on the pages that
/// offer a passkey (see [`runs_passkeys`]).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

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

/// The path of the script that submits a form_post page.
pub const FORM_POST_SCRIPT: &str = "/assets/form-post.js";

/// The page that posts an authorization answer to the client's redirect
/// URI (OAuth 2.0 Form Post Response Mode): its form may post only there
/// (`target`, the redirect URI's origin), and the only script it may run
/// is Latchkey's own file that submits it.
pub fn form_post_page(target: Option<&str>) -> HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action {}",
                target.unwrap_or("'none'")
            ),
        ));
    b
}

/// `GET /assets/form-post.js`.
pub async fn form_post_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../assets/form-post.js"))
}

/// The path of the script that runs passkey (WebAuthn) ceremonies for
/// the pages: buttons or forms with `data-passkey-options`.
pub const PASSKEYS_SCRIPT: &str = "/assets/passkeys.js";

/// `GET /assets/passkeys.js`.
pub async fn passkeys_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../assets/passkeys.js"))
}

/// Lets the page built in `b` run Latchkey's own script files (and no
/// inline script): the pages whose buttons run a passkey ceremony
/// ([`PASSKEYS_SCRIPT`]). `target` as for [`page_posting_to`].
pub fn runs_passkeys(b: &mut HttpResponseBuilder, target: Option<&str>) {
    let csp = CSP.replacen(
        "default-src 'none';",
        "default-src 'none'; script-src 'self';",
        1,
    );
    let csp = match target {
        Some(t) => format!("{csp} {t}"),
        None => csp,
    };
    b.insert_header((header::CONTENT_SECURITY_POLICY, csp));
}

/// Renders a page template into `builder`; a template that fails is a bare
/// 500.
pub fn render<T: Template>(mut builder: HttpResponseBuilder, t: &T) -> HttpResponse {
    match t.render() {
        Ok(html) => builder.body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
