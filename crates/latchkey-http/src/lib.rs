//! Latchkey's HTTP layer: actix-web routes over `latchkey-core`.
//!
//! Handlers here only translate: they read the request (strictly: exact
//! Content-Type, size limits, parameters parsed once), call the core, and
//! turn its outcome into a response. Every endpoint lives in a file named
//! after it: `oauth2/{authorize,token}.rs`, `oidc/{discovery,jwks,userinfo}.rs`,
//! `pages/{login,consent}.rs`. This crate must not touch storage or keys
//! directly.

pub mod error;
pub mod oauth2;
pub mod oidc;
pub mod pages;
mod request;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

pub use latchkey_core::Latchkey;

/// Mounts every Latchkey route. Used by the server binary and by the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/openid-configuration")
            .route(web::get().to(oidc::discovery::openid_configuration)),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(web::get().to(oidc::discovery::openid_configuration)),
    )
    .service(web::resource("/jwks").route(web::get().to(oidc::jwks::jwks)))
    .service(
        web::resource("/authorize")
            .route(web::get().to(oauth2::authorize::get))
            .route(web::post().to(oauth2::authorize::post)),
    )
    .service(web::resource("/token").route(web::post().to(oauth2::token::token)))
    .service(
        web::resource("/userinfo")
            .route(web::get().to(oidc::userinfo::userinfo))
            .route(web::post().to(oidc::userinfo::userinfo)),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(pages::login::show))
            .route(web::post().to(pages::login::submit)),
    )
    .service(
        web::resource("/consent")
            .route(web::get().to(pages::consent::show))
            .route(web::post().to(pages::consent::submit)),
    )
    .service(web::resource("/healthz").route(web::get().to(health)))
    .default_service(web::to(error::not_found));
}

/// Headers every response carries.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

async fn health() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}
