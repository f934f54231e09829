//! `POST /par` (RFC 9126): a client pushes its authorization request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use latchkey_core::Latchkey;
use latchkey_protocol::Params;

use crate::client_auth::ClientAuthenticated;
use crate::dpop;
use crate::error::ApiResult;
use crate::response::json_no_store;

pub async fn push(
    client: ClientAuthenticated<Params>,
    req: HttpRequest,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let proof = dpop::proof(&req, &app, false)?;
    let had_proof = proof.is_some();
    match app
        .par()
        .push(&client.credentials, &client.request, proof.as_deref())
        .await
    {
        // RFC 9126 §2.2: 201 Created.
        Ok(pushed) => Ok(dpop::with_nonce(
            &app,
            json_no_store(StatusCode::CREATED, &pushed),
            had_proof,
        )),
        Err(e) => {
            tracing::info!(reason = %e, "pushed authorization request refused");
            Err(dpop::refusal(&app, e.to_oauth(), had_proof, false))
        }
    }
}
