//! The UserInfo endpoint (OIDC Core §5.3), and the check of Latchkey's own
//! access tokens that it and other resource endpoints share.

use latchkey_domain::UserId;
use latchkey_protocol::claims::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use latchkey_protocol::{ErrorCode, OAuthError, Scope};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::error::CoreError;
use crate::jwt::{check_claims, ClaimRules};
use crate::liveness::revocation_keys;
use crate::Latchkey;

#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("token lacks scope {0}")]
    InsufficientScope(&'static str),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for BearerError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        BearerError::Core(e.into())
    }
}

impl BearerError {
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
            BearerError::Core(e) => e.to_oauth(),
        }
    }
}

impl Latchkey {
    /// Checks one of Latchkey's access tokens: signature by a published key
    /// (with the algorithm rules of RFC 8725), `typ`, issuer, audience,
    /// lifetime, and revocation.
    pub async fn check_access_token(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        // A token verified before skips the signature and claim checks (it
        // cannot have changed: the key is its SHA-256); its lifetime and
        // revocation are checked again on every use. The copies are
        // dropped whenever the published key set changes, so a revoked key's
        // tokens are refused from the next reload on.
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = self.now();
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
        if self.is_revoked(&revocation_keys(&claims)).await? {
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
                audiences: Some(&[self.settings.access_token_audience()]),
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

    /// `GET|POST /userinfo`: the claims of the token's user, by scope.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>, BearerError> {
        let claims = self.check_access_token(token).await?;
        let scope = Scope::parse(&claims.scope).unwrap_or_default();
        if !scope.contains(Scope::OPENID) {
            return Err(BearerError::InsufficientScope("openid"));
        }
        let Some(user) = self.user_copy(&UserId::new(claims.sub.as_str())).await? else {
            return Err(BearerError::Invalid("no such user".into()));
        };
        if user.disabled {
            return Err(BearerError::Invalid("user disabled".into()));
        }
        let mut out = Map::new();
        out.insert("sub".into(), Value::String(user.id.to_string()));
        if scope.contains("profile") {
            out.insert(
                "preferred_username".into(),
                Value::String(user.username.clone()),
            );
            if let Some(name) = &user.name {
                out.insert("name".into(), Value::String(name.clone()));
            }
        }
        if scope.contains("email") {
            if let Some(email) = &user.email {
                out.insert("email".into(), Value::String(email.clone()));
            }
        }
        Ok(out)
    }
}
