//! The pushed authorization request endpoint (RFC 9126): a client posts
//! its authorization request, authenticated as at `/token`, and gets back a
//! `request_uri` that its browser carries to `/authorize` instead of the
//! request. The request is checked now, with the rules of `/authorize`,
//! and its errors come back as JSON. A signed request object (RFC 9101) is
//! accepted here, and only here. A DPoP proof sent with the push binds the
//! code to come to its key (RFC 9449 §10.1).

use latchkey_domain::PushedRequest;
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::par::{
    pushed_params, request_object_params, Pushed, PushedResponse, RequestUri, REQUEST_URI_TTL,
};
use latchkey_protocol::{ErrorCode, OAuthError, Params};

use crate::error::CoreError;
use crate::oauth2::client_auth::{ClientAuthError, RequestObjectError};
use crate::secrets::token_hash;
use crate::support::dpop::{Presented, ProofError};

/// Why a push was refused; the client sees the RFC error, the log the
/// reason.
#[derive(Debug, thiserror::Error)]
pub enum ParError {
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error(transparent)]
    RequestObject(#[from] RequestObjectError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Request(#[from] OAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for ParError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        ParError::Core(e.into())
    }
}

impl ParError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            ParError::ClientAuth(e) => e.to_oauth(),
            ParError::RequestObject(e) => e.to_oauth(),
            ParError::Proof(e) => e.to_oauth(),
            ParError::Request(e) => e.clone(),
            ParError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /par` (RFC 9126).
    pub struct PushedAuthorizationEndpoint { store, clock, random, clients, authorize, proofs }
}

impl PushedAuthorizationEndpoint<'_> {
    /// `POST /par`. `proof` is the request's `DPoP` header, if any.
    pub async fn push(
        &self,
        auth: &ClientAuthentication,
        form: &Params,
        proof: Option<&str>,
    ) -> Result<PushedResponse, ParError> {
        let client = self.clients.authenticate(auth).await?;
        let params = match pushed_params(form, &client.id)? {
            Pushed::Params(p) => p,
            Pushed::Signed(object) => {
                let claims = self.clients.verify_request_object(&client, &object).await?;
                request_object_params(&claims, &client.id)?
            }
        };
        let params = match proof {
            None => params,
            Some(proof) => {
                let jkt = self
                    .proofs
                    .check(&Presented {
                        proof,
                        method: "POST",
                        path: "/par",
                        access_token: None,
                    })
                    .await?;
                match params.get("dpop_jkt") {
                    Some(named) if named != jkt.as_str() => {
                        return Err(ParError::Request(OAuthError::new(
                            ErrorCode::InvalidDpopProof,
                            "dpop_jkt is not the key of the DPoP proof",
                        )))
                    }
                    Some(_) => params,
                    None => Params::from_pairs(params.iter().chain([("dpop_jkt", jkt.as_str())]))?,
                }
            }
        };
        // Every rule of /authorize, now, with the answer as JSON.
        self.authorize
            .examine(&params, true)
            .await
            .map_err(|r| ParError::Request(r.into_error()))?;
        let reference = self.random.secret();
        let now = self.clock.unix();
        self.store
            .insert_pushed(&PushedRequest {
                request_hash: token_hash(&reference),
                client_id: client.id.clone(),
                query: params.to_query(),
                created_at: now,
                expires_at: now + REQUEST_URI_TTL,
            })
            .await?;
        Ok(PushedResponse {
            request_uri: RequestUri::new(&reference).as_str().to_owned(),
            expires_in: REQUEST_URI_TTL,
        })
    }
}
