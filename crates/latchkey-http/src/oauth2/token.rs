//! `POST /token` (RFC 6749 §3.2), with DPoP proofs (RFC 9449 §5).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use latchkey_core::Latchkey;
use latchkey_protocol::token::{TokenForm, TokenRequest};
use latchkey_protocol::{ErrorCode, OAuthError};
use tracing::Instrument;

use crate::client_auth::ClientAuthenticated;
use crate::dpop;
use crate::error::ApiResult;
use crate::response::json_no_store;

pub async fn token(
    client: ClientAuthenticated<TokenForm>,
    req: HttpRequest,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let ClientAuthenticated {
        credentials: auth,
        request: form,
    } = client;
    let proof = dpop::proof(&req, &app, false)?;
    let had_proof = proof.is_some();
    tracing::Span::current().record("grant_type", form.grant.grant_type().as_str());
    // The client and grant type are fields of the request's span.
    let span = tracing::info_span!("oauth2.token", dpop = had_proof);
    // client_credentials reads nothing but cached clients: handing it to
    // another thread would cost more than the grant itself (see
    // `GrantRuntime`). A proof's jti is a write, so a DPoP request goes.
    let runtime = match form.grant {
        TokenRequest::ClientCredentials { .. } if !had_proof => None,
        _ => req.app_data::<web::Data<crate::GrantRuntime>>(),
    };
    let result = match runtime {
        Some(rt) => {
            let app = app.clone();
            let grant = async move { app.token().exchange(&auth, form, proof.as_deref()).await }
                .instrument(span.clone());
            match rt.0.spawn(grant).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(parent: &span, error = %e, "token grant task failed");
                    return Err(OAuthError::bare(ErrorCode::ServerError).into());
                }
            }
        }
        None => {
            app.token()
                .exchange(&auth, form, proof.as_deref())
                .instrument(span.clone())
                .await
        }
    };
    match result {
        Ok(resp) => Ok(dpop::with_nonce(
            &app,
            json_no_store(StatusCode::OK, &resp),
            had_proof,
        )),
        Err(e) => {
            tracing::info!(parent: &span, reason = %e, "token request refused");
            Err(dpop::refusal(&app, e.to_oauth(), had_proof, false))
        }
    }
}
