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

/// Declares a service: a struct of borrowed dependencies, named from a
/// fixed list, and the `new` that takes them from [`Latchkey`]. The list
/// is the service's whole reach: a service cannot touch what it does not
/// name, and a dependency it names but never uses is a warning.
///
/// ```ignore
/// service! {
///     /// `POST /token`.
///     pub struct TokenEndpoint { store, clock, random, settings, keys }
/// }
/// ```
macro_rules! service {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($dep:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        $vis struct $name<'a> {
            $($dep: service!(@type $dep),)*
        }

        impl<'a> $name<'a> {
            #[allow(dead_code)]
            pub(crate) fn new(app: &'a $crate::Latchkey) -> $name<'a> {
                $name { $($dep: service!(@init app $dep),)* }
            }

            /// The same service, its audit events (and those of the
            /// services it uses) recorded as `actor`'s doing.
            #[allow(dead_code, unused_variables)]
            pub(crate) fn acting_for(self, actor: $crate::audit::Actor<'a>) -> $name<'a> {
                $name { $($dep: service!(@act $dep self.$dep, actor),)* }
            }
        }
    };
    (@act audit $e:expr, $actor:ident) => { $e.by($actor) };
    (@act revocations $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act directory $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act clients $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act liveness $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act sessions $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act authorize $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act registration $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act device $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act users $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act signing_keys $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act proofs $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act resource $e:expr, $actor:ident) => { $e.acting_for($actor) };
    (@act $other:ident $e:expr, $actor:ident) => { $e };
    (@type store) => { &'a dyn latchkey_domain::Store };
    (@type clock) => { &'a dyn latchkey_domain::Clock };
    (@type random) => { &'a dyn latchkey_domain::Random };
    (@type settings) => { &'a $crate::Settings };
    (@type keys) => { &'a $crate::KeyRing };
    (@type key_service) => { &'a $crate::keys::KeyService };
    (@type secrets) => { &'a $crate::secrets::SecretHasher };
    (@type passwords) => { &'a $crate::passwords::PasswordHasher };
    (@type csrf) => { &'a $crate::csrf::CsrfGuard };
    (@type factor_secrets) => { &'a $crate::support::factors::FactorSecrets };
    (@type throttle) => { &'a $crate::throttle::LoginThrottle };
    (@type passkeys) => { Option<&'a $crate::support::webauthn::Passkeys> };
    (@type caches) => { &'a $crate::Caches };
    (@type client_keys) => { &'a $crate::oauth2::client_auth::ClientKeys };
    (@type discovery) => { &'a $crate::discovery::Discovery };
    (@type mirror) => { &'a $crate::revocations::RevocationMirror };
    (@type cache) => { Option<&'a dyn latchkey_domain::RevocationCache> };
    (@type key_factory) => { &'a dyn latchkey_domain::keys::KeyFactory };
    (@type audit) => { $crate::audit::Audit<'a> };
    (@type revocations) => { $crate::revocations::Revocations<'a> };
    (@type directory) => { $crate::support::caches::Directory<'a> };
    (@type clients) => { $crate::oauth2::client_auth::ClientAuthenticator<'a> };
    (@type liveness) => { $crate::liveness::Liveness<'a> };
    (@type sessions) => { $crate::sessions::Sessions<'a> };
    (@type authorize) => { $crate::authorize::AuthorizeEndpoint<'a> };
    (@type registration) => { $crate::registration::RegistrationEndpoint<'a> };
    (@type device) => { $crate::device::DeviceVerification<'a> };
    (@type users) => { $crate::admin::users::AdminUsers<'a> };
    (@type signing_keys) => { $crate::keys::SigningKeys<'a> };
    (@type used_once) => { &'a dyn latchkey_domain::UsedOnce };
    (@type dpop_nonces) => { &'a $crate::support::dpop::NonceKey };
    (@type proofs) => { $crate::support::dpop::Proofs<'a> };
    (@type resource) => { $crate::support::dpop::ProtectedResource<'a> };
    (@type metrics) => { &'a $crate::support::metrics::Metrics };
    (@init $app:ident store) => { &*$app.store };
    (@init $app:ident clock) => { &*$app.clock };
    (@init $app:ident random) => { &*$app.random };
    (@init $app:ident settings) => { &$app.settings };
    (@init $app:ident keys) => { &$app.keys };
    (@init $app:ident key_service) => { &$app.key_service };
    (@init $app:ident secrets) => { &$app.secrets };
    (@init $app:ident passwords) => { &$app.passwords };
    (@init $app:ident csrf) => { &$app.csrf };
    (@init $app:ident factor_secrets) => { &$app.factor_secrets };
    (@init $app:ident throttle) => { &$app.throttle };
    (@init $app:ident passkeys) => { $app.passkeys.as_ref() };
    (@init $app:ident caches) => { &$app.caches };
    (@init $app:ident client_keys) => { &$app.client_keys };
    (@init $app:ident discovery) => { &$app.discovery };
    (@init $app:ident mirror) => { &$app.revocations };
    (@init $app:ident cache) => { $app.revocation_cache.as_deref() };
    (@init $app:ident key_factory) => { $app.key_service.factory() };
    (@init $app:ident audit) => { $crate::audit::Audit::new($app) };
    (@init $app:ident revocations) => { $crate::revocations::Revocations::new($app) };
    (@init $app:ident directory) => { $crate::support::caches::Directory::new($app) };
    (@init $app:ident clients) => { $crate::oauth2::client_auth::ClientAuthenticator::new($app) };
    (@init $app:ident liveness) => { $crate::liveness::Liveness::new($app) };
    (@init $app:ident sessions) => { $crate::sessions::Sessions::new($app) };
    (@init $app:ident authorize) => { $crate::authorize::AuthorizeEndpoint::new($app) };
    (@init $app:ident registration) => { $crate::registration::RegistrationEndpoint::new($app) };
    (@init $app:ident device) => { $crate::device::DeviceVerification::new($app) };
    (@init $app:ident users) => { $crate::admin::users::AdminUsers::new($app) };
    (@init $app:ident signing_keys) => { $crate::keys::SigningKeys::new($app) };
    (@init $app:ident used_once) => { &*$app.used_once };
    (@init $app:ident dpop_nonces) => { &$app.dpop_nonces };
    (@init $app:ident proofs) => { $crate::support::dpop::Proofs::new($app) };
    (@init $app:ident resource) => { $crate::support::dpop::ProtectedResource::new($app) };
    (@init $app:ident metrics) => { &$app.metrics };
}

pub mod account;
pub mod admin;
pub mod oauth2;
pub mod oidc;
#[cfg(test)]
mod properties;
pub mod support;

pub use account::{login, sessions};
pub use oauth2::{authorize, device, introspect, registration, revoke, token};
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

/// Latchkey's state, built once at start. Its fields are private: each
/// endpoint is a service (below) that borrows only what it names.
pub struct Latchkey {
    store: Arc<dyn Store>,
    keys: KeyRing,
    /// Rotation and reloading of `keys` (see [`keys`]).
    key_service: keys::KeyService,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    settings: Settings,
    secrets: secrets::SecretHasher,
    csrf: csrf::CsrfGuard,
    /// Seals authenticator-app secrets.
    factor_secrets: support::factors::FactorSecrets,
    passwords: passwords::PasswordHasher,
    /// The WebAuthn relying party; `None` when the issuer cannot be one
    /// (an IP address, plain http other than localhost): passkeys are then
    /// not offered at all.
    passkeys: Option<support::webauthn::Passkeys>,
    throttle: throttle::LoginThrottle,
    discovery: discovery::Discovery,
    revocations: revocations::RevocationMirror,
    caches: Caches,
    revocation_cache: Option<Arc<dyn RevocationCache>>,
    /// Client keys fetched from `jwks_uri` (`private_key_jwt`).
    client_keys: oauth2::client_auth::ClientKeys,
    /// Where DPoP proof `jti`s are recorded: Redis, or the database.
    used_once: Arc<dyn latchkey_domain::UsedOnce>,
    dpop_nonces: support::dpop::NonceKey,
    /// What operators count ([`support::metrics`]).
    metrics: support::metrics::Metrics,
}

/// The pieces [`Latchkey::new`] is assembled from.
pub struct Parts {
    pub store: Arc<dyn Store>,
    /// The signer to start with; `SigningKeys::tick` replaces it.
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
    /// Key sealing authenticator-app secrets at rest.
    pub factor_key: [u8; 32],
    /// The shared revocation cache (Redis), if configured.
    pub revocation_cache: Option<Arc<dyn RevocationCache>>,
    /// Fetches clients' JWK Sets from their `jwks_uri`; without one, only
    /// inline `jwks` work.
    pub jwks_fetcher: Option<Arc<dyn latchkey_domain::JwksFetcher>>,
    /// Where sign-in attempts are counted when several instances must
    /// agree (Redis or the database); none counts in memory.
    pub attempt_counter: Option<Arc<dyn latchkey_domain::AttemptCounter>>,
    /// Where values used once (DPoP proof `jti`s) are recorded so every
    /// instance sees them: Redis, or the database.
    pub used_once: Arc<dyn latchkey_domain::UsedOnce>,
    /// Key for Latchkey's DPoP nonces (the same on every instance).
    pub dpop_nonce_key: [u8; 32],
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
            factor_secrets: support::factors::FactorSecrets::new(parts.factor_key),
            passkeys: match support::webauthn::Passkeys::new(&parts.settings.issuer, "Latchkey") {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::info!(reason = %e, "passkeys are off");
                    None
                }
            },
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
            used_once: parts.used_once,
            dpop_nonces: support::dpop::NonceKey::new(parts.dpop_nonce_key),
            metrics: {
                let m = support::metrics::Metrics::new();
                m.started(parts.clock.unix());
                m
            },
        }
    }

    // One service per endpoint, named as in `latchkey-http`.

    /// `GET /authorize` and consent ([`oauth2::authorize`]).
    pub fn authorize(&self) -> authorize::AuthorizeEndpoint<'_> {
        authorize::AuthorizeEndpoint::new(self)
    }

    /// `POST /par` ([`oauth2::par`]).
    pub fn par(&self) -> oauth2::par::PushedAuthorizationEndpoint<'_> {
        oauth2::par::PushedAuthorizationEndpoint::new(self)
    }

    /// `POST /token` ([`oauth2::token`], one file per grant).
    pub fn token(&self) -> token::TokenEndpoint<'_> {
        token::TokenEndpoint::new(self)
    }

    /// `POST /device_authorization` ([`oauth2::device`]).
    pub fn device_authorization(&self) -> device::DeviceAuthorizationEndpoint<'_> {
        device::DeviceAuthorizationEndpoint::new(self)
    }

    /// `/device` and `/device/consent` ([`oauth2::device`]).
    pub fn device_verification(&self) -> device::DeviceVerification<'_> {
        device::DeviceVerification::new(self)
    }

    /// `POST /revoke` ([`oauth2::revoke`]).
    pub fn revoke(&self) -> revoke::RevokeEndpoint<'_> {
        revoke::RevokeEndpoint::new(self)
    }

    /// `POST /introspect` ([`oauth2::introspect`]).
    pub fn introspect(&self) -> introspect::IntrospectEndpoint<'_> {
        introspect::IntrospectEndpoint::new(self)
    }

    /// `/register` ([`oauth2::registration`]).
    pub fn registration(&self) -> registration::RegistrationEndpoint<'_> {
        registration::RegistrationEndpoint::new(self)
    }

    /// `/.well-known/openid-configuration` ([`oidc::discovery`]).
    pub fn discovery(&self) -> &discovery::Discovery {
        &self.discovery
    }

    /// `GET /jwks` ([`oidc::jwks`]).
    pub fn jwks(&self) -> oidc::jwks::JwksEndpoint<'_> {
        oidc::jwks::JwksEndpoint::new(self)
    }

    /// `GET|POST /userinfo` ([`oidc::userinfo`]).
    pub fn userinfo(&self) -> userinfo::UserinfoEndpoint<'_> {
        userinfo::UserinfoEndpoint::new(self)
    }

    /// `GET|POST /logout` ([`oidc::end_session`]).
    pub fn end_session(&self) -> end_session::EndSessionEndpoint<'_> {
        end_session::EndSessionEndpoint::new(self)
    }

    /// The back-channel logout outbox ([`oidc::backchannel`]).
    pub fn backchannel(&self) -> oidc::backchannel::Backchannel<'_> {
        oidc::backchannel::Backchannel::new(self)
    }

    /// Signing in ([`account::login`]).
    pub fn login(&self) -> login::Login<'_> {
        login::Login::new(self)
    }

    /// A user's own sessions ([`account::sessions`]).
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions::new(self)
    }

    /// A user's own password ([`account::password`]).
    pub fn password_change(&self) -> account::password::PasswordChange<'_> {
        account::password::PasswordChange::new(self)
    }

    /// A user's own second factors ([`account::factors`]).
    pub fn security(&self) -> account::factors::Security<'_> {
        account::factors::Security::new(self)
    }

    /// A user's own claims ([`account::profile`]).
    pub fn profile(&self) -> account::profile::Profile<'_> {
        account::profile::Profile::new(self)
    }

    /// What an operator does ([`admin`]), as `actor`: the audit log
    /// names them on every event it causes.
    pub fn admin<'a>(&'a self, actor: admin::Actor<'a>) -> admin::Admin<'a> {
        admin::Admin::new(self, actor)
    }

    /// Recognising an operator ([`admin::Doors`]).
    pub fn admin_doors(&self) -> admin::Doors<'_> {
        admin::Doors::new(self)
    }

    // What the endpoints share, for the binary's background tasks and the
    // HTTP layer.

    /// Rotation and reloading of the signing keys ([`support::keys`]).
    pub fn signing_keys(&self) -> keys::SigningKeys<'_> {
        keys::SigningKeys::new(self)
    }

    /// Revocations and their propagation ([`support::revocations`]).
    pub fn revocations(&self) -> revocations::Revocations<'_> {
        revocations::Revocations::new(self)
    }

    /// The periodic sweep ([`support::housekeeping`]).
    pub fn housekeeping(&self) -> housekeeping::Housekeeping<'_> {
        housekeeping::Housekeeping::new(self)
    }

    /// DPoP proofs and nonces ([`support::dpop`]).
    pub fn proofs(&self) -> support::dpop::Proofs<'_> {
        support::dpop::Proofs::new(self)
    }

    /// Readiness ([`support::health`]).
    pub fn health(&self) -> health::Health<'_> {
        health::Health::new(self)
    }

    /// The check every protected resource makes of the access token it
    /// is shown: live, and held by its key if bound ([`support::dpop`]).
    pub fn protected_resource(&self) -> support::dpop::ProtectedResource<'_> {
        support::dpop::ProtectedResource::new(self)
    }

    /// The metrics, for the HTTP layer's request counts and the binary's
    /// background tasks ([`support::metrics`]).
    pub fn metrics(&self) -> &support::metrics::Metrics {
        &self.metrics
    }

    /// `GET /metrics` ([`support::metrics`]).
    pub fn scrape(&self) -> support::metrics::Scrape<'_> {
        support::metrics::Scrape::new(self)
    }

    /// CORS origins ([`support::cors`]).
    pub fn cors(&self) -> cors::Cors<'_> {
        cors::Cors::new(self)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn csrf(&self) -> &csrf::CsrfGuard {
        &self.csrf
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub fn random(&self) -> &dyn Random {
        &*self.random
    }
}
