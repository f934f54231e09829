//! `private_key_jwt` client authentication (RFC 7523 §3, OIDC Core §9):
//! a JWT the client signs with a key it registered.
//!
//! - The signature is checked first, with the client's registered JWK Set
//!   only (never a key named in the header), by the JOSE adapter. The set
//!   is the inline `jwks`, or the document at `jwks_uri` (fetched by the
//!   binary's [`JwksFetcher`], which connects only where the client's
//!   [`Reach`] allows). What a fetch gave, a set or a failure, is kept for
//!   a minute of the injected clock, so forged assertions cannot make
//!   Latchkey fetch more often than that.
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

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::AuditEvent;
use latchkey_domain::{Client, ClientAuthMethod, Clock, JwksFetcher, Reach};
use latchkey_protocol::client_auth::{assertion_subject, ClientAuthentication};
use latchkey_protocol::{ErrorCode, OAuthError};
use serde_json::Value;

use crate::error::CoreError;
use crate::jwt::{check_claims, ClaimRules};

const MAX_JTI: usize = 256;

/// How long, in seconds of the injected clock, what a client's `jwks_uri`
/// gave is reused: the JWK Set, or the failure to get one. A client that
/// rotates its keys publishes the new one this long before signing with
/// it; a flood of assertions, forged or not, costs one fetch per client
/// per minute.
const JWKS_CACHE_SECS: i64 = 60;

/// One fetch of a client's `jwks_uri` and its outcome.
struct Fetched {
    uri: String,
    reach: Reach,
    at: i64,
    result: Result<Arc<str>, String>,
}

/// Clients' JWK Sets fetched from their `jwks_uri`, by client id.
pub(crate) struct ClientKeys {
    fetcher: Option<Arc<dyn JwksFetcher>>,
    fetched: moka::sync::Cache<String, Arc<Fetched>>,
    /// One fetch at a time per client: concurrent assertions wait for the
    /// fetch in progress and share its outcome.
    in_flight: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
}

impl ClientKeys {
    pub(crate) fn new(fetcher: Option<Arc<dyn JwksFetcher>>) -> ClientKeys {
        ClientKeys {
            fetcher,
            fetched: moka::sync::Cache::builder().max_capacity(10_000).build(),
            in_flight: moka::sync::Cache::builder().max_capacity(10_000).build(),
        }
    }

    /// The outcome of the client's last fetch of `uri`, if it is recent.
    fn recent(&self, client_id: &str, uri: &str, reach: Reach, now: i64) -> Option<Arc<Fetched>> {
        self.fetched
            .get(client_id)
            .filter(|f| f.uri == uri && f.reach == reach && now - f.at < JWKS_CACHE_SECS)
    }

    async fn get(
        &self,
        client_id: &str,
        uri: &str,
        reach: Reach,
        clock: &dyn Clock,
    ) -> Result<Arc<str>, String> {
        if let Some(f) = self.recent(client_id, uri, reach, clock.unix()) {
            return f.result.clone();
        }
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| "no jwks_uri fetcher is configured".to_owned())?;
        let lock = self
            .in_flight
            .get_with(client_id.to_owned(), Default::default);
        let _one_at_a_time = lock.lock().await;
        if let Some(f) = self.recent(client_id, uri, reach, clock.unix()) {
            return f.result.clone();
        }
        let result = fetcher.fetch_jwks(uri, reach).await.map(Arc::from);
        let fetched = Fetched {
            uri: uri.to_owned(),
            reach,
            at: clock.unix(),
            result: result.clone(),
        };
        self.fetched.insert(client_id.to_owned(), Arc::new(fetched));
        result
    }
}

service! {
    /// Who is calling the token, revocation or introspection endpoint.
    pub struct ClientAuthenticator {
        store, clock, settings, caches, secrets, client_keys, key_factory, audit
    }
}

/// The algorithms a signed request object may use (RFC 9101; those FAPI
/// 2.0 allows): `request_object_signing_alg_values_supported`.
pub const REQUEST_OBJECT_ALGS: [SigningAlg; 3] =
    [SigningAlg::PS256, SigningAlg::ES256, SigningAlg::EdDSA];

/// How long a request object may live, in seconds (FAPI 2.0 Message
/// Signing: `exp` at most 60 minutes after `nbf`).
const REQUEST_OBJECT_MAX_LIFETIME: i64 = 3600;

impl ClientAuthenticator<'_> {
    /// The client's registered JWK Set: inline, or fetched from its
    /// `jwks_uri` (cached a minute).
    async fn registered_jwks(&self, client: &Client) -> Result<Arc<str>, ClientAuthError> {
        let refused = ClientAuthError::Refused;
        let registration = self.store.find_registration(&client.id).await?;
        let reach = self.settings.reach_of(registration.as_ref());
        match registration.map(|r| (r.jwks, r.jwks_uri)) {
            Some((Some(jwks), _)) => Ok(jwks.into()),
            Some((None, Some(uri))) => self
                .client_keys
                .get(client.id.as_str(), &uri, reach, self.clock)
                .await
                .map_err(|e| {
                tracing::warn!(client_id = %client.id, uri, error = %e, "cannot fetch the client's jwks_uri");
                refused("the client's jwks_uri could not be fetched")
            }),
            _ => Err(refused("the client has no registered keys")),
        }
    }

    /// Verifies a signed request object (RFC 9101) a client pushed: signed
    /// with one of its registered keys by PS256, ES256 or EdDSA; `iss` the
    /// client; `aud` Latchkey's issuer; `exp` present and at most an hour
    /// away; `nbf` and `iat`, if present, not in the future. Returns its
    /// claims (`client_id` and the request are checked by the caller).
    pub async fn verify_request_object(
        &self,
        client: &Client,
        object: &str,
    ) -> Result<serde_json::Map<String, Value>, RequestObjectError> {
        let jwks = self.registered_jwks(client).await.map_err(|e| match e {
            ClientAuthError::Refused(why) => RequestObjectError::Refused(why.into()),
            ClientAuthError::Core(e) => RequestObjectError::Core(e),
        })?;
        let claims = self
            .key_factory
            .verify_with_jwks(object, &jwks, &REQUEST_OBJECT_ALGS)
            .map_err(|e| RequestObjectError::Refused(e.to_string()))?;
        let now = self.clock.unix();
        let skew = self.settings.keys.clock_skew;
        let issuer = self.settings.issuer.as_str();
        check_claims(
            &claims,
            &ClaimRules {
                issuer: client.id.as_str(),
                audiences: Some(&[issuer]),
                now,
                skew,
                allow_expired: false,
                require_iat: false,
            },
        )
        .map_err(|e| RequestObjectError::Refused(e.to_string()))?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if exp > now + REQUEST_OBJECT_MAX_LIFETIME + skew {
            return Err(RequestObjectError::Refused(
                "the request object lives longer than an hour".into(),
            ));
        }
        Ok(claims)
    }

    async fn verify_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<(), ClientAuthError> {
        let refused = ClientAuthError::Refused;
        let jwks = self.registered_jwks(client).await?;
        // FAPI 2.0 §5.4: PS256, ES256 or EdDSA; RS256 is not among them.
        let algs: &[SigningAlg] = match self.settings.fapi2(client) {
            true => &REQUEST_OBJECT_ALGS,
            false => &SigningAlg::ALL,
        };
        let claims = self
            .key_factory
            .verify_with_jwks(assertion, &jwks, algs)
            .map_err(|e| {
                tracing::info!(client_id = %client.id, error = %e, "client assertion refused");
                refused("assertion signature or header refused")
            })?;
        let now = self.clock.unix();
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
            self.audit
                .record(crate::audit::Event::about_client(
                    AuditEvent::ClientAssertionReplay,
                    client.id.as_str(),
                    "a client assertion jti was presented again",
                ))
                .await;
            return Err(refused("assertion jti already used"));
        }
        Ok(())
    }
}

/// Why a request object was refused. The client sees
/// `invalid_request_object`; the log sees the reason.
#[derive(Debug, thiserror::Error)]
pub enum RequestObjectError {
    #[error("request object refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl RequestObjectError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            RequestObjectError::Refused(_) => OAuthError::new(
                ErrorCode::InvalidRequestObject,
                "the request object's signature, issuer, audience or lifetime is refused",
            ),
            RequestObjectError::Core(e) => e.to_oauth(),
        }
    }
}

/// Why a client could not be authenticated at the token, revocation or
/// introspection endpoint. The client sees only `invalid_client`; the log
/// sees the reason.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("client authentication failed: {0}")]
    Refused(&'static str),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for ClientAuthError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        ClientAuthError::Core(e.into())
    }
}

impl ClientAuthError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            ClientAuthError::Refused(_) => {
                OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
            }
            ClientAuthError::Core(e) => e.to_oauth(),
        }
    }
}

impl ClientAuthenticator<'_> {
    /// Authenticates the client of a token, revocation or introspection
    /// request. Costs one lookup and one HMAC.
    pub async fn authenticate(
        &self,
        auth: &ClientAuthentication,
    ) -> Result<Client, ClientAuthError> {
        // An assertion may name its client only in its own `sub` (RFC 7523
        // §3); it is read unverified here, to know whose keys verify it.
        let subject = match auth {
            ClientAuthentication::JwtAssertion {
                client_id: None,
                assertion,
            } => assertion_subject(assertion),
            _ => None,
        };
        let Some(id) = auth.client_id().or(subject.as_ref()) else {
            return Err(ClientAuthError::Refused("no client_id"));
        };
        // The hot path: a client read in the last second authenticates
        // without a database round trip. A failure against the cached copy
        // (a secret rotated a moment ago) is retried against the database.
        // Assertions are never tried twice, their jti being single-use.
        if let Some(cached) = self.caches.clients.get(id.as_str()) {
            if cached.auth_method != ClientAuthMethod::PrivateKeyJwt {
                match self.authenticate_as(&cached, auth).await {
                    Ok(()) => return Ok((*cached).clone()),
                    Err(ClientAuthError::Refused(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let client = self
            .store
            .find_client(id)
            .await?
            .ok_or(ClientAuthError::Refused("unknown client"))?;
        self.caches
            .clients
            .insert(id.as_str().to_owned(), std::sync::Arc::new(client.clone()));
        self.authenticate_as(&client, auth).await?;
        Ok(client)
    }

    /// Checks `auth` against one stored client.
    async fn authenticate_as(
        &self,
        client: &Client,
        auth: &ClientAuthentication,
    ) -> Result<(), ClientAuthError> {
        // FAPI 2.0 §5.3.2.1: private_key_jwt (mutual TLS is not offered).
        if self.settings.fapi2(client) && client.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(ClientAuthError::Refused(
                "the FAPI 2.0 profile authenticates with private_key_jwt only",
            ));
        }
        let now = self.clock.unix();
        let secret = match (auth, client.auth_method) {
            (ClientAuthentication::Basic { secret, .. }, ClientAuthMethod::ClientSecretBasic)
            | (ClientAuthentication::Post { secret, .. }, ClientAuthMethod::ClientSecretPost) => {
                secret
            }
            (ClientAuthentication::None { .. }, ClientAuthMethod::None) => return Ok(()),
            (
                ClientAuthentication::JwtAssertion { assertion, .. },
                ClientAuthMethod::PrivateKeyJwt,
            ) => {
                self.verify_client_assertion(client, assertion).await?;
                return Ok(());
            }
            _ => {
                return Err(ClientAuthError::Refused(
                    "authentication method does not match the registration",
                ))
            }
        };
        let current = client
            .secret_hash
            .as_deref()
            .filter(|_| client.secret_expires_at.is_none_or(|t| now < t))
            .is_some_and(|h| self.secrets.verify(secret.expose(), h));
        let previous = client
            .previous_secret_hash
            .as_deref()
            .filter(|_| client.previous_secret_expires_at.is_some_and(|t| now < t))
            .is_some_and(|h| self.secrets.verify(secret.expose(), h));
        if current || previous {
            Ok(())
        } else {
            Err(ClientAuthError::Refused("wrong or expired secret"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use latchkey_domain::MockClock;

    use super::*;

    /// Counts fetches; answers with a failure for URIs ending in `/down`.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl JwksFetcher for Counting {
        async fn fetch_jwks(&self, uri: &str, _reach: Reach) -> Result<String, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if uri.ends_with("/down") {
                Err("answered 503".into())
            } else {
                Ok(r#"{"keys":[]}"#.into())
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_costs_one_fetch_per_client_per_minute_even_when_it_fails() {
        let fetcher = Arc::new(Counting::default());
        let keys = Arc::new(ClientKeys::new(Some(fetcher.clone())));
        #[allow(clippy::disallowed_methods)]
        let clock = Arc::new(MockClock::new(chrono::Utc::now()));
        let fetches = || fetcher.0.load(Ordering::SeqCst);
        for uri in [
            "https://keys.example.com/down",
            "https://keys.example.com/jwks",
        ] {
            let before = fetches();
            let burst: Vec<_> = (0..20)
                .map(|_| {
                    let (keys, clock) = (keys.clone(), clock.clone());
                    tokio::spawn(async move {
                        keys.get("c1", uri, Reach::PublicOnly, clock.as_ref()).await
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for task in burst {
                outcomes.push(task.await.unwrap());
            }
            assert!(
                outcomes.windows(2).all(|w| w[0] == w[1]),
                "one shared outcome"
            );
            assert_eq!(fetches() - before, 1, "{uri}: one fetch for the burst");
            clock.advance(Duration::from_secs(59));
            let _ = keys.get("c1", uri, Reach::PublicOnly, clock.as_ref()).await;
            assert_eq!(fetches() - before, 1, "{uri}: still cached");
            clock.advance(Duration::from_secs(1));
            let _ = keys.get("c1", uri, Reach::PublicOnly, clock.as_ref()).await;
            assert_eq!(fetches() - before, 2, "{uri}: fetched again after a minute");
        }
        // Another client, another URI or another reach is a fetch of its own.
        let before = fetches();
        let jwks = "https://keys.example.com/jwks";
        let _ = keys
            .get("c2", jwks, Reach::PublicOnly, clock.as_ref())
            .await;
        let _ = keys
            .get(
                "c1",
                "https://other.example.com/jwks",
                Reach::PublicOnly,
                clock.as_ref(),
            )
            .await;
        let _ = keys.get("c1", jwks, Reach::Anywhere, clock.as_ref()).await;
        assert_eq!(fetches() - before, 3);
    }
}
