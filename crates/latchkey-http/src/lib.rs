//! Latchkey's HTTP layer: actix-web routes over `latchkey-core`.
//!
//! Handlers here only translate: they read the request (strictly: exact
//! Content-Type, size limits, parameters parsed once), call the core, and
//! turn its outcome into a response. Every endpoint lives in a file named
//! after it: `oauth2/{authorize,token,revoke,introspect,registration,device_authorization}.rs`,
//! `oidc/{discovery,jwks,userinfo,end_session}.rs`, `pages/{login,consent,account,device}.rs`,
//! `api/sessions.rs`, the admin API in `admin/`, and `/openapi.json` in
//! `openapi.rs`. What they share sits beside them, never in another
//! endpoint's file: `request.rs` reads requests, `response.rs` shapes
//! answers, `error.rs` holds [`error::ApiError`], the one way a refusal is
//! answered, and `browser.rs` the cookies and CSRF binding of the pages.
//! Who may call a handler is the type of one of its arguments, an
//! extractor that reads the caller's credentials before the handler runs:
//! [`client_auth::ClientAuthenticated`] (token, revoke, introspect) and
//! [`oauth2::registration::RegistrationAccess`] hand them to the core use
//! case that checks them; [`admin::Admin`] and
//! [`api::sessions::SessionsOwner`] check them themselves. This crate must
//! not touch storage or keys directly.

pub mod admin;
pub mod api;
mod browser;
pub mod client_auth;
pub mod console;
pub mod cors;
mod dpop;
pub mod error;
pub mod oauth2;
pub mod observe;
pub mod oidc;
pub mod openapi;
pub mod pages;
mod request;
mod response;

use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::web;

pub use latchkey_core::Latchkey;
pub use request::{JsonBody, TrustedProxies};

/// The multi-threaded runtime the server was built on, where the token
/// endpoint runs the grants that read or write storage (client_credentials,
/// which needs neither, stays on the connection's loop). actix-web serves
/// each connection on a single-threaded loop, and an RS256 signature holds
/// that loop for about 0.3 ms: every database reply (and every connection
/// the pool takes back) of the other requests on the loop waits behind it. On the work-stealing
/// runtime another thread picks them up, and parsing, signing and database
/// I/O overlap. A grant that has started also finishes if the client goes
/// away meanwhile, rather than being dropped between two statements (a
/// lost response to a refresh is what `refresh.recovery_window` is for).
/// Without it (a test mounting the routes alone) the grant runs on the
/// calling loop.
#[derive(Clone)]
pub struct GrantRuntime(pub tokio::runtime::Handle);

/// Mounts every Latchkey route. Used by the server binary and by the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Browser apps may call these from script (see `cors`).
    let preflight = |methods: &'static str| {
        web::method(Method::OPTIONS).to(move |req, app| cors::preflight(req, app, methods))
    };
    cfg.service(
        web::resource("/.well-known/openid-configuration")
            .wrap(from_fn(cors::any_client))
            .route(web::get().to(oidc::discovery::openid_configuration))
            .route(preflight("GET")),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .wrap(from_fn(cors::any_client))
            .route(web::get().to(oidc::discovery::openid_configuration))
            .route(preflight("GET")),
    )
    .service(
        web::resource("/jwks")
            .wrap(from_fn(cors::any_client))
            .route(web::get().to(oidc::jwks::jwks))
            .route(preflight("GET")),
    )
    .service(
        web::resource("/authorize")
            .route(web::get().to(oauth2::authorize::get))
            .route(web::post().to(oauth2::authorize::post)),
    )
    .service(
        web::resource("/token")
            .wrap(from_fn(cors::per_client))
            .route(web::post().to(oauth2::token::token))
            .route(preflight("POST")),
    )
    .service(
        web::resource("/par")
            .wrap(from_fn(cors::per_client))
            .route(web::post().to(oauth2::par::push))
            .route(preflight("POST")),
    )
    .service(
        web::resource("/revoke")
            .wrap(from_fn(cors::per_client))
            .route(web::post().to(oauth2::revoke::revoke))
            .route(preflight("POST")),
    )
    .service(web::resource("/introspect").route(web::post().to(oauth2::introspect::introspect)))
    .service(
        web::resource("/device_authorization")
            .route(web::post().to(oauth2::device_authorization::device_authorization)),
    )
    .service(
        web::resource("/device")
            .route(web::get().to(pages::device::show))
            .route(web::post().to(pages::device::submit)),
    )
    .service(
        web::resource("/device/consent")
            .route(web::get().to(pages::device::consent))
            .route(web::post().to(pages::device::decide)),
    )
    .service(
        web::resource("/logout")
            .route(web::get().to(oidc::end_session::get))
            .route(web::post().to(oidc::end_session::post)),
    )
    .service(web::resource("/logout/confirm").route(web::post().to(oidc::end_session::confirm)))
    .service(web::resource("/account/sessions").route(web::get().to(pages::account::sessions)))
    .service(
        web::resource("/account/sessions/end").route(web::post().to(pages::account::end_session)),
    )
    .service(
        web::resource("/account/sessions/end-others")
            .route(web::post().to(pages::account::end_other_sessions)),
    )
    .service(
        web::resource("/account/password")
            .route(web::get().to(pages::account::password_form))
            .route(web::post().to(pages::account::change_password)),
    )
    .service(
        web::resource("/account/profile")
            .route(web::get().to(pages::account::profile_form))
            .route(web::post().to(pages::account::update_profile)),
    )
    .service(web::resource("/api/sessions").route(web::get().to(api::sessions::list)))
    .service(web::resource("/api/sessions/{id}").route(web::delete().to(api::sessions::delete)))
    .service(
        web::resource("/userinfo")
            .wrap(from_fn(cors::any_client))
            .route(web::get().to(oidc::userinfo::userinfo))
            .route(web::post().to(oidc::userinfo::userinfo))
            .route(preflight("GET, POST")),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(pages::login::show))
            .route(web::post().to(pages::login::submit)),
    )
    .service(web::resource("/login/passkey").route(web::post().to(pages::login::passkey)))
    .service(
        web::resource("/login/factor")
            .route(web::get().to(pages::factor::show))
            .route(web::post().to(pages::factor::submit)),
    )
    .service(web::resource("/account/security").route(web::get().to(pages::security::show)))
    .service(
        web::resource("/account/security/totp").route(web::post().to(pages::security::start_totp)),
    )
    .service(
        web::resource("/account/security/totp/confirm")
            .route(web::post().to(pages::security::confirm_totp)),
    )
    .service(
        web::resource("/account/security/totp/remove")
            .route(web::post().to(pages::security::remove_totp)),
    )
    .service(
        web::resource("/account/security/passkeys/start")
            .route(web::post().to(pages::security::start_passkey)),
    )
    .service(
        web::resource("/account/security/passkeys")
            .route(web::post().to(pages::security::finish_passkey)),
    )
    .service(
        web::resource("/account/security/passkeys/rename")
            .route(web::post().to(pages::security::rename_passkey)),
    )
    .service(
        web::resource("/account/security/passkeys/remove")
            .route(web::post().to(pages::security::remove_passkey)),
    )
    .service(
        web::resource("/account/security/recovery-codes")
            .route(web::post().to(pages::security::recovery_codes)),
    )
    .service(
        web::resource("/consent")
            .route(web::get().to(pages::consent::show))
            .route(web::post().to(pages::consent::submit)),
    )
    .configure(oauth2::registration::routes)
    .configure(admin::routes)
    .configure(console::routes)
    .service(
        web::resource(response::FORM_POST_SCRIPT).route(web::get().to(response::form_post_script)),
    )
    .service(
        web::resource(response::PASSKEYS_SCRIPT).route(web::get().to(response::passkeys_script)),
    )
    .service(web::resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
    .service(web::resource("/healthz").route(web::get().to(health)))
    .service(web::resource("/readyz").route(web::get().to(ready)))
    .default_service(web::to(error::not_found));
}

/// Headers every response carries; with an https issuer also HSTS, so a
/// browser that has seen Latchkey once never sends its cookies or forms
/// over plain http again.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}

/// `GET /readyz`: 200 when the database, the keys and (if configured) the
/// shared cache are usable; 503 otherwise, with which part failed.
async fn ready(app: web::Data<Latchkey>) -> actix_web::HttpResponse {
    let r = app.health().readiness().await;
    let mut resp = if r.ready() {
        actix_web::HttpResponse::Ok()
    } else {
        actix_web::HttpResponse::ServiceUnavailable()
    };
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(r)
}

/// `GET /healthz`: the process is up.
async fn health() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}
