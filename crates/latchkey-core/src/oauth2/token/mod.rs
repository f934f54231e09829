//! The token endpoint (RFC 6749 §3.2): client authentication, then the
//! grant. Every failure has a precise reason for the log and a plain RFC
//! error for the client.
//!
//! One file per grant: `authorization_code.rs`, `refresh_token.rs`,
//! `client_credentials.rs`, `device_code.rs`; client authentication is in
//! [`crate::oauth2::client_auth`].

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;

use latchkey_domain::{Client, FamilyId, GrantType, Jkt, Jti, SessionId};
use latchkey_protocol::claims::{AccessTokenClaims, Confirmation, ACCESS_TOKEN_TYP};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::dpop::TOKEN_TYPE as DPOP_TOKEN_TYPE;
use latchkey_protocol::resource::Resources;
use latchkey_protocol::token::{TokenForm, TokenRequest, TokenResponse};
use latchkey_protocol::user_claims::ClaimNames;
use latchkey_protocol::{ErrorCode, OAuthError, Scope, SigningAlg};

use crate::error::CoreError;
use crate::jwt::to_map;
use crate::oauth2::client_auth::ClientAuthError;
use crate::support::dpop::{Presented, ProofError};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error("invalid grant: {0}")]
    Grant(&'static str),
    #[error("client may not use grant {0}")]
    Unauthorized(GrantType),
    #[error("invalid scope: {0}")]
    Scope(String),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the client's tokens must be DPoP-bound and the request has no proof")]
    ProofRequired,
    /// RFC 8707 §2: a resource the client may not ask for, or one outside
    /// what the grant was for.
    #[error("invalid target: {0}")]
    Target(String),
    #[error(transparent)]
    Request(#[from] OAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for TokenError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        TokenError::Core(e.into())
    }
}

impl From<latchkey_domain::keys::KeyError> for TokenError {
    fn from(e: latchkey_domain::keys::KeyError) -> Self {
        TokenError::Core(e.into())
    }
}

impl TokenError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            TokenError::ClientAuth(e) => e.to_oauth(),
            TokenError::Grant(_) => OAuthError::new(
                ErrorCode::InvalidGrant,
                "the grant is invalid, expired, already used or was issued to another client",
            ),
            TokenError::Unauthorized(g) => OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {g} grant"),
            ),
            TokenError::Scope(s) => OAuthError::new(ErrorCode::InvalidScope, s.clone()),
            TokenError::Proof(e) => e.to_oauth(),
            TokenError::Target(why) => OAuthError::new(ErrorCode::InvalidTarget, why.clone()),
            TokenError::ProofRequired => OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's access tokens must be DPoP-bound: send a DPoP proof",
            ),
            TokenError::Request(e) => e.clone(),
            TokenError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /token` (RFC 6749 §3.2): client authentication, then the grant.
    pub struct TokenEndpoint { store, clock, random, settings, keys, audit, revocations, directory, clients, liveness, proofs, metrics }
}

impl TokenEndpoint<'_> {
    /// `POST /token`. `proof` is the request's `DPoP` header (RFC 9449):
    /// with one, the access token is bound to its key.
    pub async fn exchange(
        &self,
        auth: &ClientAuthentication,
        form: TokenForm,
        proof: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let grant = form.grant.grant_type();
        let mut signed_by = None;
        let result = self.grant(auth, form, proof, &mut signed_by).await;
        match (&result, signed_by) {
            (Ok(_), Some(alg)) => self.metrics.token_issued(grant, alg),
            (Ok(_), None) => {}
            (Err(e), _) => self.metrics.token_error(Some(grant), e.to_oauth().code),
        }
        result
    }

    /// The grant, once the client is authenticated; `signed_by` learns the
    /// algorithm its access token is signed with.
    async fn grant(
        &self,
        auth: &ClientAuthentication,
        form: TokenForm,
        proof: Option<&str>,
        signed_by: &mut Option<&'static str>,
    ) -> Result<TokenResponse, TokenError> {
        let TokenForm {
            grant: request,
            resources,
        } = form;
        let client = self.clients.authenticate(auth).await?;
        *signed_by = Some(match self.settings.fapi2_alg(&client) {
            Some(alg) => alg.as_str(),
            None => self.keys.current().signing_alg(),
        });
        let jkt = match proof {
            Some(proof) => Some(
                self.proofs
                    .check(&Presented {
                        proof,
                        method: "POST",
                        path: "/token",
                        access_token: None,
                    })
                    .await?,
            ),
            // RFC 9449 §5.2, and FAPI 2.0 §5.3.2.1: sender-constrained.
            None if client.dpop_bound || self.settings.fapi2(&client) => {
                return Err(TokenError::ProofRequired)
            }
            None => None,
        };
        let jkt = jkt.as_ref();
        // Whatever else the grant allows, no token is for a resource this
        // client may not ask for.
        if let Some(r) = self.settings.resource_refused(&client, &resources) {
            return Err(TokenError::Target(format!(
                "resource not allowed for this client: {r}"
            )));
        }
        let asked = Asked {
            jkt,
            resources: &resources,
        };
        match request {
            TokenRequest::ClientCredentials { scope } => {
                self.client_credentials(&client, scope, asked)
            }
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem(&client, &code, &redirect_uri, code_verifier.as_ref(), asked)
                    .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => self.refresh(&client, &refresh_token, scope, asked).await,
            TokenRequest::DeviceCode { device_code } => {
                self.poll_device(&client, &device_code, asked).await
            }
        }
    }

    pub(super) fn mint_access_token(
        &self,
        sub: &str,
        client: &Client,
        scope: &Scope,
        jti: &Jti,
        now: i64,
        grant: Grant<'_>,
    ) -> Result<(String, SigningAlg), CoreError> {
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: sub.to_owned(),
            aud: grant
                .resources
                .map_or_else(Resources::default, Clone::clone)
                .audience(self.settings.access_token_audience()),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            jti: jti.to_string(),
            iat: now,
            exp: now + self.settings.tokens.access_token_ttl,
            auth_time: grant.auth_time,
            sid: grant.sid.map(SessionId::to_string),
            fid: grant.fid.map(FamilyId::to_string),
            ucl: grant
                .userinfo_claims
                .filter(|c| !c.is_empty())
                .map(ToString::to_string),
            cnf: grant.jkt.map(|j| Confirmation {
                jkt: j.as_str().to_owned(),
            }),
        };
        let claims = to_map(&claims)?;
        let signed = match self.settings.fapi2_alg(client) {
            Some(alg) => self
                .keys
                .current()
                .sign_with(alg, ACCESS_TOKEN_TYP, &claims)?,
            None => self.keys.current().sign(ACCESS_TOKEN_TYP, &claims)?,
        };
        Ok((signed.token, signed.alg))
    }
}

/// What ties an access token to a user's sign-in, for revocation, and the
/// claims the sign-in's request named.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Grant<'a> {
    auth_time: Option<i64>,
    sid: Option<&'a SessionId>,
    fid: Option<&'a FamilyId>,
    /// The claims a `claims` request asked UserInfo for (`ucl`).
    userinfo_claims: Option<&'a ClaimNames>,
    /// The DPoP key the access token is bound to.
    jkt: Option<&'a Jkt>,
    /// The resources the access token is for (its `aud`); none: Latchkey's
    /// own audience.
    resources: Option<&'a Resources>,
}

/// What every token request may ask beside its grant: a DPoP key proved
/// (RFC 9449) and resources named (RFC 8707).
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked<'a> {
    jkt: Option<&'a Jkt>,
    resources: &'a Resources,
}

impl<'a> Asked<'a> {
    /// The resources a grant that was for `granted` may give: those asked
    /// for, within `granted` when it names any; else all of `granted`.
    fn within(&self, granted: &'a Resources) -> Result<&'a Resources, TokenError> {
        if self.resources.is_empty() {
            return Ok(granted);
        }
        if !granted.is_empty() {
            if let Some(r) = self.resources.first_outside(granted) {
                return Err(TokenError::Target(format!(
                    "resource outside what the grant was for: {r}"
                )));
            }
        }
        Ok(self.resources)
    }
}

impl Grant<'_> {
    /// The response's `token_type`: `DPoP` for a bound token.
    fn token_type(&self) -> &'static str {
        match self.jkt {
            Some(_) => DPOP_TOKEN_TYPE,
            None => "Bearer",
        }
    }
}
