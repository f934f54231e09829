//! Token revocation (RFC 7009): refresh tokens (the whole family) and
//! access tokens (by `jti`). The hint is honoured for the order of lookups,
//! never trusted; a token of another client is left alone; an unknown token
//! is answered like a revoked one.

use latchkey_domain::{AuditEvent, Jti, RevokeReason};
use latchkey_domain::{Client, Teardown};
use latchkey_protocol::claims::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::OAuthError;
use latchkey_protocol::TokenTypeHint;
use serde_json::Value;

use crate::audit::Event;
use crate::error::CoreError;
use crate::oauth2::client_auth::ClientAuthError;
use crate::secrets::token_hash;

/// Why a revocation request was refused (RFC 7009 §2.2.1). A token that is
/// unknown, malformed or another client's is not an error: the answer is
/// 200 either way.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for RevokeError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        RevokeError::Core(e.into())
    }
}

impl RevokeError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            RevokeError::ClientAuth(e) => e.to_oauth(),
            RevokeError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /revoke` (RFC 7009).
    pub struct RevokeEndpoint { store, clock, keys, settings, audit, revocations, clients }
}

impl RevokeEndpoint<'_> {
    /// `POST /revoke`.
    pub async fn handle(
        &self,
        auth: &ClientAuthentication,
        token: &str,
        hint: Option<&str>,
    ) -> Result<(), RevokeError> {
        let client = self.clients.authenticate(auth).await?;
        if token.len() > 8192 {
            return Ok(());
        }
        let access_first = TokenTypeHint::from_param(hint) == Some(TokenTypeHint::AccessToken);
        if access_first {
            if self.revoke_access_token(&client, token).await? {
                return Ok(());
            }
            self.revoke_refresh_token(&client, token).await?;
        } else if !self.revoke_refresh_token(&client, token).await? {
            self.revoke_access_token(&client, token).await?;
        }
        Ok(())
    }

    /// True when the token was a refresh token (whether or not it was this
    /// client's).
    async fn revoke_refresh_token(
        &self,
        client: &Client,
        token: &str,
    ) -> Result<bool, RevokeError> {
        let Some((_, family)) = self.store.find_refresh_token(&token_hash(token)).await? else {
            return Ok(false);
        };
        if family.client_id != client.id {
            tracing::info!(client = %client.id, "refused to revoke another client's refresh token");
            return Ok(true);
        }
        self.revocations
            .teardown(Teardown {
                families: vec![family.id.clone()],
                ..Teardown::new(self.clock.unix(), RevokeReason::RevokedByClient)
            })
            .await?;
        self.audit
            .record(Event {
                kind: AuditEvent::RefreshRevoked,
                user_id: Some(&family.user_id),
                client_id: Some(client.id.as_str()),
                ip: None,
                detail: format!("family {}", family.id),
            })
            .await;
        Ok(true)
    }

    /// True when the token was one of Latchkey's access tokens.
    async fn revoke_access_token(&self, client: &Client, token: &str) -> Result<bool, RevokeError> {
        let Ok(claims) = self.keys.current().verify(token, Some(ACCESS_TOKEN_TYP)) else {
            return Ok(false);
        };
        let Ok(claims) = serde_json::from_value::<AccessTokenClaims>(Value::Object(claims)) else {
            return Ok(false);
        };
        if claims.iss != self.settings.issuer {
            return Ok(false);
        }
        if claims.client_id != client.id.as_str() {
            tracing::info!(client = %client.id, "refused to revoke another client's access token");
            return Ok(true);
        }
        self.revocations
            .revoke_jti(
                &Jti::new(claims.jti.as_str()),
                claims.exp,
                RevokeReason::RevokedByClient,
            )
            .await?;
        Ok(true)
    }
}
