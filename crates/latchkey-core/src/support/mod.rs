//! What the endpoints share: settings and errors, the audit trail, CSRF
//! tokens, secret and password hashing, the sign-in throttle, signing keys
//! and their rotation, the revocation mirror, the one liveness rule for
//! tokens, the background sweep, and the passkey (WebAuthn) relying party.

pub mod audit;
pub mod caches;
pub mod cors;
pub mod csrf;
pub mod dpop;
pub mod error;
pub mod factors;
pub mod health;
pub mod housekeeping;
pub mod jwt;
pub mod keyring;
pub mod keys;
pub mod liveness;
pub mod metrics;
pub mod passwords;
pub mod revocations;
pub mod secrets;
pub mod settings;
pub mod throttle;
pub mod webauthn;
