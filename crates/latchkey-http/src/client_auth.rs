//! The request of a client calling `/token`, `/revoke` or `/introspect`
//! for itself: a form body carrying the endpoint's parameters, and the
//! client's credentials in the `Authorization` header or the form (RFC 6749
//! §2.3). Each of these handlers takes a [`ClientAuthenticated`], so none
//! can read the body or the credentials its own way.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::token::TokenForm;
use latchkey_protocol::{OAuthError, Params};

use crate::error::ApiError;
use crate::request::{header_str, read_form};

/// An endpoint's request, parsed from its form parameters.
pub trait FromParams: Sized {
    fn from_params(params: &Params) -> Result<Self, OAuthError>;
}

/// A pushed authorization request: the whole form, checked by the use case.
impl FromParams for Params {
    fn from_params(params: &Params) -> Result<Params, OAuthError> {
        Ok(params.clone())
    }
}

impl FromParams for TokenForm {
    fn from_params(params: &Params) -> Result<TokenForm, OAuthError> {
        TokenForm::parse(params)
    }
}

/// The token a client revokes (RFC 7009 §2.1) or asks about (RFC 7662
/// §2.1), with the client's hint of its type.
#[derive(Debug)]
pub struct TokenReference {
    pub token: String,
    pub token_type_hint: Option<String>,
}

impl FromParams for TokenReference {
    fn from_params(params: &Params) -> Result<TokenReference, OAuthError> {
        Ok(TokenReference {
            token: params.require("token")?.to_owned(),
            token_type_hint: params.get("token_type_hint").map(str::to_owned),
        })
    }
}

/// A client's request `T` with the credentials it presented. The form is
/// read under the limits of `request` and the client is named for its
/// CORS answer (`cors::name_client`) before `T` is parsed, so even a
/// malformed request's error can be read by the client's own app. The
/// credentials are checked by the use case that receives them; anything
/// unreadable is a JSON error (RFC 6749 §5.2) before the handler runs.
pub struct ClientAuthenticated<T> {
    pub credentials: ClientAuthentication,
    pub request: T,
}

impl<T: FromParams + 'static> FromRequest for ClientAuthenticated<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let params = read_form(&req, payload).await?;
            let credentials =
                ClientAuthentication::parse(header_str(&req, header::AUTHORIZATION)?, &params)?;
            crate::cors::name_client(&req, credentials.client_id());
            if let Some(id) = credentials.client_id() {
                crate::observe::name_client(id.as_str());
            }
            let request = T::from_params(&params)?;
            Ok(ClientAuthenticated {
                credentials,
                request,
            })
        })
    }
}
