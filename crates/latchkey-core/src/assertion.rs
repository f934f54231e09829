//! `private_key_jwt` client authentication (RFC 7523 §3, OIDC Core §9):
//! a JWT the client signs with a key it registered.
//!
//! - The signature is checked first, with the client's registered JWK Set
//!   only (never a key named in the header), by the JOSE adapter. The set
//!   is the inline `jwks`, or the document at `jwks_uri` (fetched by the
//!   binary's [`JwksFetcher`], cached for a minute).
//! - `iss` and `sub` must both be the client's id.
//! - `aud` must be exactly Latchkey's issuer identifier: a string, or an
//!   array holding that one value. Not the token endpoint's URL, not a
//!   list naming other servers: an assertion a client made for another
//!   authorization server (or one an attacker got it to sign for an
//!   endpoint URL) cannot be replayed here (CVE-2025-27370/27371).
//! - `exp` is required and at most `registration.assertion_max_lifetime`
//!   seconds away; `nbf` and `iat` may not be in the future.
//! - `jti` is required and single-use per client until the assertion
//!   expires: a database insert against a unique key decides.

use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::{Client, JwksFetcher};
use serde_json::Value;

use crate::jwt::{check_claims, ClaimRules};
use crate::token::TokenError;
use crate::Latchkey;

const MAX_JTI: usize = 256;

/// How long a JWK Set fetched from a `jwks_uri` is reused. A client that
/// rotates its keys publishes the new one this long before signing with
/// it; a flood of assertions costs one fetch per client per minute.
const JWKS_CACHE_TTL: Duration = Duration::from_secs(60);

/// Clients' JWK Sets fetched from their `jwks_uri`, cached by URI.
pub(crate) struct ClientKeys {
    fetcher: Option<Arc<dyn JwksFetcher>>,
    cache: moka::sync::Cache<String, Arc<str>>,
}

impl ClientKeys {
    pub(crate) fn new(fetcher: Option<Arc<dyn JwksFetcher>>) -> ClientKeys {
        ClientKeys {
            fetcher,
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(JWKS_CACHE_TTL)
                .build(),
        }
    }

    async fn get(&self, uri: &str) -> Result<Arc<str>, String> {
        if let Some(jwks) = self.cache.get(uri) {
            return Ok(jwks);
        }
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| "no jwks_uri fetcher is configured".to_owned())?;
        let jwks: Arc<str> = fetcher.fetch_jwks(uri).await?.into();
        self.cache.insert(uri.to_owned(), jwks.clone());
        Ok(jwks)
    }
}

impl Latchkey {
    pub(crate) async fn verify_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<(), TokenError> {
        let refused = TokenError::ClientAuth;
        let registration = self.store.find_registration(&client.id).await?;
        let jwks: Arc<str> = match registration.map(|r| (r.jwks, r.jwks_uri)) {
            Some((Some(jwks), _)) => jwks.into(),
            Some((None, Some(uri))) => self.client_keys.get(&uri).await.map_err(|e| {
                tracing::warn!(client_id = %client.id, uri, error = %e, "cannot fetch the client's jwks_uri");
                refused("the client's jwks_uri could not be fetched")
            })?,
            _ => return Err(refused("the client has no registered keys")),
        };
        let claims = self
            .verify_with_client_jwks(assertion, &jwks, &SigningAlg::ALL)
            .map_err(|e| {
                tracing::info!(client_id = %client.id, error = %e, "client assertion refused");
                refused("assertion signature or header refused")
            })?;
        let now = self.now();
        let skew = self.settings.keys.clock_skew;
        check_claims(
            &claims,
            &ClaimRules {
                issuer: client.id.as_str(),
                audiences: None,
                now,
                skew,
                allow_expired: false,
                require_iat: false,
            },
        )
        .map_err(|e| {
            tracing::info!(client_id = %client.id, error = %e, "client assertion refused");
            refused("assertion claims refused")
        })?;
        if claims.get("sub").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Err(refused("assertion sub is not the client"));
        }
        let issuer = self.settings.issuer.as_str();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == issuer,
            Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(issuer),
            _ => false,
        };
        if !aud_ok {
            return Err(refused(
                "assertion aud is not exactly the issuer identifier",
            ));
        }
        // check_claims required exp and refused it in the past.
        let exp = claims
            .get("exp")
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64)))
            .unwrap_or(i64::MAX);
        if exp > now + self.settings.registration.assertion_max_lifetime + skew {
            return Err(refused("assertion lives too long"));
        }
        let jti = match claims.get("jti") {
            Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI => j,
            _ => return Err(refused("assertion has no usable jti")),
        };
        if !self
            .store
            .record_assertion_jti(&client.id, jti, exp + skew)
            .await?
        {
            self.audit(crate::audit::Event {
                kind: "client_assertion_replay",
                user_id: None,
                client_id: Some(client.id.as_str()),
                ip: None,
                detail: "a client assertion jti was presented again".into(),
            })
            .await;
            return Err(refused("assertion jti already used"));
        }
        Ok(())
    }
}
