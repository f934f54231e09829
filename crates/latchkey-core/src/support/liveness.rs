//! One rule for whether a token is still live, shared by every endpoint
//! that accepts one: the refresh grant, introspection and userinfo. A token
//! dies with whatever it hangs from: itself, its refresh family, its
//! browser session and its client. Each check below is written once, so
//! the endpoints cannot disagree about the same token.

use latchkey_domain::{FamilyId, Jti, RefreshFamily, RevocationKey, SessionId};
use latchkey_protocol::claims::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use latchkey_protocol::{ErrorCode, OAuthError};
use serde_json::Value;
use sha2::Digest;

use crate::error::CoreError;
use crate::jwt::{check_claims, ClaimRules};

/// Why an access token was refused where it is presented as a Bearer
/// token (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("token lacks scope {0}")]
    InsufficientScope(&'static str),
    /// A DPoP-bound token presented as Bearer, or an unbound one as DPoP.
    #[error("token presented with the wrong scheme: {0}")]
    Scheme(&'static str),
    /// The proof that must come with a DPoP-bound token is missing,
    /// refused, or made with another key.
    #[error(transparent)]
    Proof(#[from] crate::support::dpop::ProofError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for BearerError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        BearerError::Core(e.into())
    }
}

impl BearerError {
    /// Whether the refusal is about DPoP (its challenge is `DPoP`).
    pub fn is_dpop(&self) -> bool {
        matches!(self, BearerError::Scheme(_) | BearerError::Proof(_))
    }

    pub fn to_oauth(&self) -> OAuthError {
        match self {
            BearerError::Invalid(_) => OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            ),
            BearerError::InsufficientScope(s) => OAuthError::new(
                ErrorCode::InsufficientScope,
                format!("the token lacks the `{s}` scope"),
            ),
            BearerError::Scheme(why) => OAuthError::new(ErrorCode::InvalidToken, *why),
            BearerError::Proof(e) => e.to_oauth(),
            BearerError::Core(e) => e.to_oauth(),
        }
    }
}

/// Everything whose revocation refuses this access token: itself, its
/// refresh family, its browser session and its client.
pub fn revocation_keys(claims: &AccessTokenClaims) -> Vec<String> {
    let mut keys = vec![RevocationKey::Token(Jti::new(claims.jti.as_str())).to_key()];
    if let Some(f) = &claims.fid {
        keys.push(RevocationKey::Family(FamilyId::new(f.as_str())).to_key());
    }
    if let Some(s) = &claims.sid {
        keys.push(RevocationKey::Session(SessionId::new(s.as_str())).to_key());
    }
    // A deleted client's tokens die with it.
    keys.push(RevocationKey::Client(claims.client_id.clone()).to_key());
    keys
}

/// Everything whose revocation ends a refresh family: itself, the browser
/// session it was issued in, and its client.
pub fn family_revocation_keys(family: &RefreshFamily) -> [String; 3] {
    [
        RevocationKey::Family(family.id.clone()).to_key(),
        RevocationKey::Session(family.session_id.clone()).to_key(),
        RevocationKey::Client(family.client_id.to_string()).to_key(),
    ]
}

service! {
    /// Whether a token is still live.
    pub struct Liveness { clock, settings, keys, caches, revocations }
}

impl Liveness<'_> {
    /// Checks one of Latchkey's access tokens: signature by a published key
    /// (with the algorithm rules of RFC 8725), `typ`, issuer, audience,
    /// lifetime, and revocation.
    /// Only a token for Latchkey's own audience is accepted: one a client
    /// asked for another resource (RFC 8707) is refused here.
    pub async fn access_token(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        let claims = self.access_token_of_any_audience(token).await?;
        if !claims.aud.contains(self.settings.access_token_audience()) {
            return Err(BearerError::Invalid(
                "the token is for another audience".into(),
            ));
        }
        Ok(claims)
    }

    /// [`Liveness::access_token`] for a token of any audience (for
    /// introspection, which answers resource servers).
    pub async fn access_token_of_any_audience(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims, BearerError> {
        // A token verified before skips the signature and claim checks (it
        // cannot have changed: the key is its SHA-256); its lifetime and
        // revocation are checked again on every use. The copies are
        // dropped whenever the published key set changes, so a revoked key's
        // tokens are refused from the next reload on.
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = self.clock.unix();
        let claims = match self.caches.verified.get(&digest) {
            Some(c) => {
                if now >= c.exp + self.settings.keys.clock_skew {
                    return Err(BearerError::Invalid("expired".into()));
                }
                c
            }
            None => {
                let c = std::sync::Arc::new(self.verify_access_token(token, now)?);
                self.caches.verified.insert(digest, c.clone());
                c
            }
        };
        if self
            .revocations
            .is_revoked(&revocation_keys(&claims))
            .await?
        {
            return Err(BearerError::Invalid("revoked".into()));
        }
        Ok((*claims).clone())
    }

    /// Signature (RFC 8725 algorithm rules, `typ`), then issuer, audience
    /// and lifetime with the one configured clock skew.
    fn verify_access_token(&self, token: &str, now: i64) -> Result<AccessTokenClaims, BearerError> {
        let claims = self
            .keys
            .current()
            .verify(token, Some(ACCESS_TOKEN_TYP))
            .map_err(|e| BearerError::Invalid(e.to_string()))?;
        check_claims(
            &claims,
            &ClaimRules {
                issuer: &self.settings.issuer,
                // The audience is the caller's check: introspection takes
                // tokens for any resource, UserInfo only Latchkey's own.
                audiences: None,
                now,
                skew: self.settings.keys.clock_skew,
                allow_expired: false,
                require_iat: true,
            },
        )
        .map_err(|e| BearerError::Invalid(e.to_string()))?;
        serde_json::from_value(Value::Object(claims))
            .map_err(|e| BearerError::Invalid(format!("claims: {e}")))
    }

    /// Why a refresh family can no longer be used at `now`, if it cannot:
    /// its own state and lifetimes first, then every revocation that
    /// reaches it.
    pub(crate) async fn family(
        &self,
        family: &RefreshFamily,
        now: i64,
    ) -> Result<Option<&'static str>, CoreError> {
        if let Some(why) = family.unusable(now, self.settings.refresh.idle_timeout) {
            return Ok(Some(why));
        }
        if self
            .revocations
            .is_revoked(&family_revocation_keys(family))
            .await?
        {
            return Ok(Some("family, session or client revoked"));
        }
        Ok(None)
    }
}
