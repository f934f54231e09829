//! `GET|POST /userinfo` (OIDC Core §5.3). The access token is accepted in
//! the `Authorization` header only: a token in a URL ends up in logs and
//! referrers, one in a form body invites CSRF (RFC 6750 §2, §5.3).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::parse_bearer;
use latchkey_protocol::{OAuthError, Params};

use crate::error::bearer_error;
use crate::request::{header_str, is_form, read_limited, MAX_FORM_BYTES};

pub async fn userinfo(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    mut payload: web::Payload,
) -> HttpResponse {
    let refused = |what: &'static str| {
        bearer_error(Some(&OAuthError::invalid_request(format!(
            "access tokens are accepted only in the Authorization header, not in {what}"
        ))))
    };
    if Params::parse(req.query_string().as_bytes()).is_ok_and(|p| p.contains("access_token"))
        || req.query_string().contains("access_token")
    {
        return refused("the query string");
    }
    let body = match read_limited(&mut payload, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(e) => return bearer_error(Some(&e)),
    };
    if !body.is_empty() && (is_form(&req) || body.windows(12).any(|w| w == b"access_token")) {
        return refused("the request body");
    }
    let header = match header_str(&req, header::AUTHORIZATION) {
        Ok(Some(h)) => h,
        Ok(None) => return bearer_error(None),
        Err(e) => return bearer_error(Some(&e)),
    };
    let token = match parse_bearer(header) {
        Ok(t) => t,
        Err(e) => return bearer_error(Some(&e)),
    };
    match app.userinfo(token).await {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Err(e) => {
            tracing::info!(reason = %e, "userinfo refused");
            bearer_error(Some(&e.to_oauth()))
        }
    }
}
