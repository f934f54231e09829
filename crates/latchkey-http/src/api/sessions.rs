//! `GET /api/sessions`, `DELETE /api/sessions/{id}`: the token's user's
//! sessions. The token needs the `sessions` scope.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use latchkey_core::Latchkey;
use latchkey_domain::{SessionId, UserId};
use latchkey_protocol::claims::AccessTokenClaims;
use latchkey_protocol::{ErrorCode, OAuthError, Scope};

use crate::error::{ApiError, ApiResult};
use crate::request::with_core;

pub const SESSIONS_SCOPE: &str = "sessions";

/// The user behind the request's access token, which must carry the
/// `sessions` scope and a session: anything less is a Bearer challenge
/// before the handler runs.
pub struct SessionsOwner(pub AccessTokenClaims);

impl FromRequest for SessionsOwner {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<SessionsOwner, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        with_core(req, SessionsOwner::check)
    }
}

impl SessionsOwner {
    async fn check(req: HttpRequest, app: web::Data<Latchkey>) -> Result<SessionsOwner, ApiError> {
        // `Bearer`, or `DPoP` with a proof of a bound token's key.
        let (claims, _) = crate::dpop::protected(&req, &app).await?;
        // Signed by Latchkey, so it parses; one that does not is refused.
        let scope = Scope::parse(&claims.scope).map_err(|_| {
            ApiError::Bearer(Some(OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )))
        })?;
        if !scope.contains(SESSIONS_SCOPE) || claims.sid.is_none() {
            return Err(ApiError::Bearer(Some(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the token needs the `sessions` scope and a user",
            ))));
        }
        Ok(SessionsOwner(claims))
    }
}

pub async fn list(SessionsOwner(claims): SessionsOwner, app: web::Data<Latchkey>) -> ApiResult {
    let list = app
        .sessions()
        .list_sessions(
            &UserId::new(claims.sub.as_str()),
            claims.sid.clone().map(SessionId::new).as_ref(),
        )
        .await
        .map_err(|e| e.to_oauth())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}

pub async fn delete(
    SessionsOwner(claims): SessionsOwner,
    app: web::Data<Latchkey>,
    path: web::Path<String>,
) -> ApiResult {
    let ended = app
        .sessions()
        .end_own_session(
            &UserId::new(claims.sub.as_str()),
            &SessionId::new(path.into_inner()),
        )
        .await
        .map_err(|e| e.to_oauth())?;
    if !ended {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such active session").into());
    }
    Ok(HttpResponse::NoContent().finish())
}
