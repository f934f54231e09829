//! `GET /api/sessions`, `DELETE /api/sessions/{id}`: the token's user's
//! sessions. The token needs the `sessions` scope.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use latchkey_core::Latchkey;
use latchkey_protocol::bearer::parse_bearer;
use latchkey_protocol::claims::AccessTokenClaims;
use latchkey_protocol::{ErrorCode, OAuthError, Scope};

use crate::error::{bearer_error, json_error};
use crate::request::header_str;

pub const SESSIONS_SCOPE: &str = "sessions";

/// The user behind the request's access token, if it may manage sessions.
async fn authorize(req: &HttpRequest, app: &Latchkey) -> Result<AccessTokenClaims, HttpResponse> {
    let header = match header_str(req, header::AUTHORIZATION) {
        Ok(Some(h)) => h,
        Ok(None) => return Err(bearer_error(None)),
        Err(e) => return Err(bearer_error(Some(&e))),
    };
    let token = parse_bearer(header).map_err(|e| bearer_error(Some(&e)))?;
    let claims = app
        .check_access_token(token)
        .await
        .map_err(|e| bearer_error(Some(&e.to_oauth())))?;
    let scope = Scope::parse(&claims.scope).unwrap_or_default();
    if !scope.contains(SESSIONS_SCOPE) || claims.sid.is_none() {
        return Err(bearer_error(Some(&OAuthError::new(
            ErrorCode::InsufficientScope,
            "the token needs the `sessions` scope and a user",
        ))));
    }
    Ok(claims)
}

pub async fn list(req: HttpRequest, app: web::Data<Latchkey>) -> HttpResponse {
    let claims = match authorize(&req, &app).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match app.list_sessions(&claims.sub, claims.sid.as_deref()).await {
        Ok(list) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(list),
        Err(e) => json_error(&e.to_oauth()),
    }
}

pub async fn delete(
    req: HttpRequest,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> HttpResponse {
    let claims = match authorize(&req, &app).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match app.end_own_session(&claims.sub, &path).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => json_error(&OAuthError::new(
            ErrorCode::NotFound,
            "no such active session",
        )),
        Err(e) => json_error(&e.to_oauth()),
    }
}
