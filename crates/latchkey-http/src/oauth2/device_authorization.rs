//! `POST /device_authorization` (RFC 8628 §3.1): a device asks for a
//! device code and a user code, authenticated like `/token` (a public
//! client sends its `client_id` only).

use actix_web::http::StatusCode;
use actix_web::web;
use latchkey_core::Latchkey;
use latchkey_protocol::device::DeviceAuthorizationRequest;
use latchkey_protocol::{OAuthError, Params};
use tracing::Instrument;

use crate::client_auth::{ClientAuthenticated, FromParams};
use crate::error::ApiResult;
use crate::response::json_no_store;

impl FromParams for DeviceAuthorizationRequest {
    fn from_params(params: &Params) -> Result<DeviceAuthorizationRequest, OAuthError> {
        DeviceAuthorizationRequest::parse(params)
    }
}

pub async fn device_authorization(
    client: ClientAuthenticated<DeviceAuthorizationRequest>,
    app: web::Data<Latchkey>,
) -> ApiResult {
    let ClientAuthenticated {
        credentials,
        request,
    } = client;
    // The client is a field of the request's span.
    let span = tracing::info_span!("oauth2.device_authorization");
    match app
        .device_authorization()
        .start(&credentials, request)
        .instrument(span.clone())
        .await
    {
        Ok(resp) => Ok(json_no_store(StatusCode::OK, &resp)),
        Err(e) => {
            tracing::info!(parent: &span, reason = %e, "device authorization refused");
            Err(e.to_oauth().into())
        }
    }
}
