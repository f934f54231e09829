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

use latchkey_domain::{Client, FamilyId, GrantType, Jti, SessionId};
use latchkey_protocol::claims::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::token::{TokenRequest, TokenResponse};
use latchkey_protocol::user_claims::ClaimNames;
use latchkey_protocol::{ErrorCode, OAuthError, Scope, SigningAlg};

use crate::error::CoreError;
use crate::jwt::to_map;
use crate::oauth2::client_auth::ClientAuthError;

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
            TokenError::Request(e) => e.clone(),
            TokenError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /token` (RFC 6749 §3.2): client authentication, then the grant.
    pub struct TokenEndpoint { store, clock, random, settings, keys, audit, revocations, directory, clients, liveness }
}

impl TokenEndpoint<'_> {
    /// `POST /token`.
    pub async fn exchange(
        &self,
        auth: &ClientAuthentication,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        let client = self.clients.authenticate(auth).await?;
        match request {
            TokenRequest::ClientCredentials { scope } => self.client_credentials(&client, scope),
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem(&client, &code, &redirect_uri, code_verifier.as_ref())
                    .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => self.refresh(&client, &refresh_token, scope).await,
            TokenRequest::DeviceCode { device_code } => {
                self.poll_device(&client, &device_code).await
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
            aud: self.settings.access_token_audience().to_owned(),
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
        };
        let signed = self
            .keys
            .current()
            .sign(ACCESS_TOKEN_TYP, &to_map(&claims)?)?;
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
}
