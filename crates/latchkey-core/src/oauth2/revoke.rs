//! Token revocation (RFC 7009): refresh tokens (the whole family) and
//! access tokens (by `jti`). The hint is honoured for the order of lookups,
//! never trusted; a token of another client is left alone; an unknown token
//! is answered like a revoked one. A public client proves nothing with its
//! `client_id`: a token of its that is bound to a DPoP key is revoked only
//! with a proof of that key, so a thief holding the token alone cannot end
//! the user's grant.

use latchkey_domain::{AuditEvent, Jkt, Jti, RevokeReason};
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
use crate::support::dpop::{Presented, ProofError, Proofs};

/// Why a revocation request was refused (RFC 7009 §2.2.1). A token that is
/// unknown, malformed or another client's is not an error: the answer is
/// 200 either way.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error(transparent)]
    Proof(#[from] ProofError),
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
            RevokeError::Proof(e) => e.to_oauth(),
            RevokeError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /revoke` (RFC 7009).
    pub struct RevokeEndpoint { store, clock, keys, settings, audit, revocations, clients, proofs }
}

impl RevokeEndpoint<'_> {
    /// `POST /revoke`. `proof` is the request's `DPoP` header.
    pub async fn handle(
        &self,
        auth: &ClientAuthentication,
        token: &str,
        hint: Option<&str>,
        proof: Option<&str>,
    ) -> Result<(), RevokeError> {
        let client = self.clients.authenticate(auth).await?;
        let holder = Holder {
            proofs: self.proofs,
            proof,
        };
        if token.len() > 8192 {
            return Ok(());
        }
        let access_first = TokenTypeHint::from_param(hint) == Some(TokenTypeHint::AccessToken);
        if access_first {
            if self.revoke_access_token(&client, token, &holder).await? {
                return Ok(());
            }
            self.revoke_refresh_token(&client, token, &holder).await?;
        } else if !self.revoke_refresh_token(&client, token, &holder).await? {
            self.revoke_access_token(&client, token, &holder).await?;
        }
        Ok(())
    }

    /// True when the token was a refresh token (whether or not it was this
    /// client's).
    async fn revoke_refresh_token(
        &self,
        client: &Client,
        token: &str,
        holder: &Holder<'_>,
    ) -> Result<bool, RevokeError> {
        let Some((_, family)) = self.store.find_refresh_token(&token_hash(token)).await? else {
            return Ok(false);
        };
        if family.client_id != client.id {
            tracing::info!(client = %client.id, "refused to revoke another client's refresh token");
            return Ok(true);
        }
        holder
            .proves(client, family.dpop_jkt.as_ref().map(Jkt::as_str))
            .await?;
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
    async fn revoke_access_token(
        &self,
        client: &Client,
        token: &str,
        holder: &Holder<'_>,
    ) -> Result<bool, RevokeError> {
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
        holder
            .proves(client, claims.cnf.as_ref().map(|c| c.jkt.as_str()))
            .await?;
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

/// The DPoP proof a revocation request carried, if any.
struct Holder<'a> {
    proofs: Proofs<'a>,
    proof: Option<&'a str>,
}

impl Holder<'_> {
    /// A public client revoking a token bound to `bound` must prove the
    /// key; a confidential client's credentials are proof enough.
    async fn proves(&self, client: &Client, bound: Option<&str>) -> Result<(), ProofError> {
        let Some(bound) = bound.filter(|_| client.is_public()) else {
            return Ok(());
        };
        let proof = self.proof.ok_or_else(|| {
            ProofError::Invalid("a token bound to a DPoP key is revoked with a proof of it".into())
        })?;
        let jkt = self
            .proofs
            .check(&Presented {
                proof,
                method: "POST",
                path: "/revoke",
                access_token: None,
            })
            .await?;
        if jkt.as_str() != bound {
            return Err(ProofError::Invalid(
                "the proof's key is not the token's".into(),
            ));
        }
        Ok(())
    }
}
