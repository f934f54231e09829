//! `GET /jwks`: the published public keys, from memory, with an ETag.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;

pub async fn jwks(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    let (published, max_age) = app.jwks().published();
    let cache = format!("public, max-age={max_age}");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == published.etag || t.trim() == "*")
        });
    if matches {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, published.etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((header::ETAG, published.etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(web::Bytes::copy_from_slice(&published.body))
}
