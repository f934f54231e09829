//! `GET /.well-known/openid-configuration` and
//! `/.well-known/oauth-authorization-server`: bytes computed at start.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use latchkey_core::Latchkey;

pub async fn openid_configuration(app: web::Data<Latchkey>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(web::Bytes::copy_from_slice(&app.discovery().body))
}
