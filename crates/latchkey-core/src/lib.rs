//! Latchkey's use cases: what each endpoint does (authorize, token,
//! userinfo, discovery, ...), written over the storage ports and the token
//! signer of `latchkey-domain`. The modules mirror `latchkey-http`:
//!
//! - [`oauth2`]: `/authorize`, `/token` (one file per grant), `/revoke`,
//!   `/introspect`, `/register` and client authentication;
//! - [`oidc`]: discovery, `/jwks`, `/userinfo`, `/logout` (end session);
//! - [`account`]: sign-in and the user's own sessions;
//! - [`admin`]: what operators do (CLI and admin API), one file per resource;
//! - [`support`]: what the endpoints share (settings, errors, audit, CSRF,
//!   hashing, throttling, signing keys, revocations, token liveness).
//!
//! This crate knows nothing of HTTP or SQL: it takes parsed requests and
//! returns typed outcomes, and it reads time and randomness only through the
//! injected [`Clock`] and [`Random`]. It must not depend on actix-web,
//! sea-orm, redis or josekit.

pub mod account;
pub mod admin;
pub mod oauth2;
pub mod oidc;
#[cfg(test)]
mod properties;
pub mod support;

pub use account::{login, sessions};
pub use oauth2::{authorize, introspect, registration, revoke, token};
pub use oidc::{discovery, end_session, userinfo};
pub use support::{
    audit, cors, csrf, error, health, housekeeping, jwt, keyring, keys, liveness, passwords,
    revocations, secrets, settings, throttle,
};

use std::sync::Arc;

use latchkey_domain::keys::KeyFactory;
use latchkey_domain::{Clock, Random, RevocationCache, Store};

pub use error::CoreError;
pub use keyring::KeyRing;
pub use settings::Settings;
pub use support::caches::Caches;

/// Everything a request handler needs, built once at start.
pub struct Latchkey {
    pub store: Arc<dyn Store>,
    pub keys: KeyRing,
    /// Rotation and reloading of `keys` (see [`keys`]).
    pub key_service: keys::KeyService,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub settings: Settings,
    pub secrets: secrets::SecretHasher,
    pub csrf: csrf::CsrfGuard,
    pub passwords: passwords::PasswordHasher,
    pub throttle: throttle::LoginThrottle,
    pub discovery: discovery::Discovery,
    pub revocations: revocations::RevocationMirror,
    pub caches: Caches,
    pub revocation_cache: Option<Arc<dyn RevocationCache>>,
    /// Client keys fetched from `jwks_uri` (`private_key_jwt`).
    pub(crate) client_keys: oauth2::client_auth::ClientKeys,
}

/// The pieces [`Latchkey::new`] is assembled from.
pub struct Parts {
    pub store: Arc<dyn Store>,
    /// The signer to start with; `Latchkey::tick_keys` replaces it.
    pub keys: KeyRing,
    /// Generates, seals and opens signing keys (the JOSE adapter).
    pub key_factory: Arc<dyn KeyFactory>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub settings: Settings,
    /// Key for the keyed hash of client secrets.
    pub secret_pepper: [u8; 32],
    /// Key binding CSRF tokens to a browser.
    pub csrf_key: [u8; 32],
    /// The shared revocation cache (Redis), if configured.
    pub revocation_cache: Option<Arc<dyn RevocationCache>>,
    /// Fetches clients' JWK Sets from their `jwks_uri`; without one, only
    /// inline `jwks` work.
    pub jwks_fetcher: Option<Arc<dyn latchkey_domain::JwksFetcher>>,
    /// Where sign-in attempts are counted when several instances must
    /// agree (Redis or the database); none counts in memory.
    pub attempt_counter: Option<Arc<dyn latchkey_domain::AttemptCounter>>,
}

impl Latchkey {
    pub fn new(parts: Parts) -> Latchkey {
        let discovery = discovery::Discovery::build(&parts.settings);
        Latchkey {
            passwords: passwords::PasswordHasher::new(parts.settings.passwords.clone()),
            throttle: throttle::LoginThrottle::new(
                parts.settings.throttle.clone(),
                parts.attempt_counter,
            ),
            secrets: secrets::SecretHasher::new(parts.secret_pepper),
            csrf: csrf::CsrfGuard::new(parts.csrf_key),
            store: parts.store,
            keys: parts.keys,
            key_service: keys::KeyService::new(parts.key_factory),
            clock: parts.clock.clone(),
            random: parts.random,
            settings: parts.settings,
            discovery,
            revocations: revocations::RevocationMirror::new(),
            caches: Caches::new(parts.clock.clone()),
            revocation_cache: parts.revocation_cache,
            client_keys: oauth2::client_auth::ClientKeys::new(parts.jwks_fetcher),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// A client, from the one-second copy when there is one (see
    /// [`Caches`]).
    pub(crate) async fn client_copy(
        &self,
        id: &latchkey_protocol::ClientId,
    ) -> Result<Option<Arc<latchkey_domain::Client>>, CoreError> {
        if let Some(c) = self.caches.clients.get(id.as_str()) {
            return Ok(Some(c));
        }
        let Some(c) = self.store.find_client(id).await? else {
            return Ok(None);
        };
        let c = Arc::new(c);
        self.caches
            .clients
            .insert(id.as_str().to_owned(), c.clone());
        Ok(Some(c))
    }

    /// A user, from the one-second copy when there is one (see [`Caches`]).
    pub(crate) async fn user_copy(
        &self,
        id: &latchkey_domain::UserId,
    ) -> Result<Option<Arc<latchkey_domain::User>>, CoreError> {
        if let Some(u) = self.caches.users.get(id) {
            return Ok(Some(u));
        }
        let Some(u) = self.store.find_user(id).await? else {
            return Ok(None);
        };
        let u = Arc::new(u);
        self.caches.users.insert(id.clone(), u.clone());
        Ok(Some(u))
    }
}
