//! The `refresh_token` grant (RFC 6749 §6): rotation within a family, one
//! winner per generation, reuse detection that revokes the family, and
//! the optional recovery of a lost response.

use latchkey_domain::{AuditEvent, Jti, RevokeReason};
use latchkey_domain::{
    Client, GrantType, RefreshFamily, RefreshPresentation, RefreshToken, RevocationKey, Teardown,
};
use latchkey_protocol::token::{Opaque, TokenResponse};
use latchkey_protocol::Scope;

use super::TokenEndpoint;
use super::{Grant, TokenError};
use crate::error::CoreError;
use crate::secrets::token_hash;
use crate::support::metrics::RefreshResult;

impl TokenEndpoint<'_> {
    /// The refresh grant (RFC 6749 §6) with rotation, reuse detection and,
    /// when configured, recovery of a lost response.
    pub(super) async fn refresh(
        &self,
        client: &Client,
        presented: &Opaque,
        requested: Option<Scope>,
        asked: super::Asked<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let jkt = asked.jkt;
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(TokenError::Unauthorized(GrantType::RefreshToken));
        }
        let now = self.clock.unix();
        let Some((token, family)) = self
            .store
            .find_refresh_token(&token_hash(presented.expose()))
            .await?
        else {
            return Err(TokenError::Grant("unknown refresh token"));
        };
        if family.client_id != client.id {
            // Not this client's: say nothing, change nothing.
            return Err(TokenError::Grant("refresh token of another client"));
        }
        // A refresh token bound to a DPoP key (a public client's) is used
        // only with a proof of that key; a stolen one without it changes
        // nothing and is no reuse.
        if family.dpop_jkt.is_some() && family.dpop_jkt.as_ref() != jkt {
            return Err(TokenError::Grant(
                "refresh token bound to another DPoP key, or presented without a proof",
            ));
        }
        if let Some(why) = self.liveness.family(&family, now).await? {
            tracing::info!(family = %family.id, why, "refresh refused");
            return Err(TokenError::Grant("refresh family is no longer usable"));
        }
        // What the family was granted, less whatever the client may no
        // longer ask for: narrowing a client's scope takes effect at its
        // next refresh, not when its families expire.
        // The resources: within the family's, each still allowed (a
        // resource taken from the client refuses its next refresh).
        let resources = asked.within(&family.resources)?;
        if let Some(r) = self.settings.resource_refused(client, resources) {
            return Err(TokenError::Target(format!(
                "resource no longer allowed for this client: {r}"
            )));
        }
        let granted = family.scope.intersection(&client.scope);
        let scope = match requested {
            Some(s) if !s.is_subset(&granted) => {
                return Err(TokenError::Scope(
                    "a refresh may narrow the scope, never widen it".into(),
                ))
            }
            Some(s) => s,
            None => granted,
        };
        // The token this request consumes: the presented one, or, for a
        // recovery, its unused successor (which is revoked instead).
        let newest = if token.generation == family.generation {
            None
        } else {
            self.store
                .find_family_token(&family.id, family.generation)
                .await?
        };
        let successor_used = newest.as_ref().is_none_or(|n| n.used_at.is_some());
        let mut presentation = token.presentation(
            &family,
            successor_used,
            now,
            self.settings.refresh.recovery_window,
        );
        if presentation == RefreshPresentation::Retry
            && self
                .revocations
                .is_revoked(&[RevocationKey::Token(token.access_token_jti.clone()).to_key()])
                .await?
        {
            // Its access token was revoked by an earlier recovery: this
            // token was superseded, not lost. Retrying it is a replay.
            presentation = RefreshPresentation::Reuse;
        }
        let consumed = match presentation {
            RefreshPresentation::Current => token.clone(),
            RefreshPresentation::Retry => match newest {
                Some(n) => n,
                None => return Err(TokenError::Grant("refresh token already used")),
            },
            RefreshPresentation::Reuse => {
                return Err(self.refresh_reused(&family, token.generation, now).await?)
            }
        };
        // The one-second copy is enough: disabling or deleting a user also
        // revokes its families, which the rotation itself checks.
        let user = match self.directory.user(&family.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        let jti = Jti::generate(self.random);
        let new_token = self.random.secret();
        let next = RefreshToken {
            token_hash: token_hash(&new_token),
            family_id: family.id.clone(),
            generation: family.generation + 1,
            created_at: now,
            used_at: None,
            access_token_jti: jti.clone(),
            access_token_expires_at: now + self.settings.tokens.access_token_ttl,
        };
        // The family's state is checked in the same transaction: a revoke
        // that answered first leaves this with nothing to rotate.
        if !self
            .store
            .rotate_refresh(&family.id, family.generation, &consumed.token_hash, &next)
            .await?
        {
            // Another request consumed the same token first: concurrent
            // presentations of one token are reuse too (docs/tokens.md), so
            // the outcome of a race never depends on its timing.
            return Err(self.refresh_reused(&family, token.generation, now).await?);
        }
        if consumed.token_hash != token.token_hash {
            // Recovery: the successor never reached the client; its access
            // token must not stay live either.
            self.revocations
                .revoke_jti(
                    &consumed.access_token_jti,
                    consumed.access_token_expires_at,
                    RevokeReason::RefreshRecovery,
                )
                .await?;
            self.metrics.refresh(RefreshResult::Recovered);
        } else {
            self.metrics.refresh(RefreshResult::Rotated);
        }
        // The claims the login asked UserInfo for, less those of a scope
        // the client may no longer ask for (as with the scope above).
        let userinfo_claims = family.claims.userinfo.within(&client.scope);
        let grant = Grant {
            auth_time: Some(family.auth_time),
            sid: Some(&family.session_id),
            fid: Some(&family.id),
            userinfo_claims: Some(&userinfo_claims),
            jkt,
            resources: Some(resources),
        };
        let (access_token, _) =
            self.mint_access_token(user.id.as_str(), client, &scope, &jti, now, grant)?;
        Ok(TokenResponse {
            access_token,
            token_type: grant.token_type(),
            expires_in: self.settings.tokens.access_token_ttl as u64,
            refresh_token: Some(new_token),
            id_token: None,
            scope: scope.to_string(),
        })
    }

    /// A refresh token presented again: the whole family dies, the tokens
    /// of whoever used it first included (RFC 9700 §4.14.2).
    async fn refresh_reused(
        &self,
        family: &RefreshFamily,
        generation: i64,
        now: i64,
    ) -> Result<TokenError, CoreError> {
        self.revocations
            .teardown(Teardown {
                families: vec![family.id.clone()],
                ..Teardown::new(now, RevokeReason::RefreshTokenReuse)
            })
            .await?;
        self.audit
            .record(crate::audit::Event {
                kind: AuditEvent::RefreshReuse,
                user_id: Some(&family.user_id),
                client_id: Some(family.client_id.as_str()),
                ip: None,
                detail: format!(
                    "family {} revoked: generation {generation} presented again",
                    family.id
                ),
            })
            .await;
        Ok(TokenError::Grant("refresh token already used"))
    }
}
