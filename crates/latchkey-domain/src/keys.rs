//! Signing keys: the lifecycle record kept in storage and the signer port the
//! core uses. The JOSE work itself lives in `latchkey-keys`.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::ids::Kid;

pub use latchkey_protocol::SigningAlg;

/// Where a signing key is in its life.
///
/// `Next` keys are published in the JWKS before they sign, so relying parties
/// have them cached by the time they see the first token; `Retired` keys stay
/// published until every token they signed has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    Next,
    Current,
    Retired,
    Removed,
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
            KeyState::Removed => "removed",
            KeyState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "next" => KeyState::Next,
            "current" => KeyState::Current,
            "retired" => KeyState::Retired,
            "removed" => KeyState::Removed,
            "revoked" => KeyState::Revoked,
            _ => return None,
        })
    }

    /// Whether a key in this state appears in the published JWKS.
    pub fn is_published(self) -> bool {
        matches!(self, KeyState::Next | KeyState::Current | KeyState::Retired)
    }
}

/// A signing key as stored: the private half is only ever kept encrypted
/// under the key-encryption key (AES-256-GCM, the `kid` as associated data).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: Kid,
    pub alg: SigningAlg,
    pub state: KeyState,
    /// Nonce-prefixed AES-256-GCM ciphertext of the private key (PKCS#8 PEM).
    pub encrypted_private_key: Vec<u8>,
    /// The public JWK as JSON text (kid, kty, alg, use and key members only).
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds from which the key may sign.
    pub activates_at: i64,
    pub retired_at: Option<i64>,
    pub removed_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("encrypted_private_key", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .field("removed_at", &self.removed_at)
            .finish()
    }
}

/// A compact JWS and what signed it.
#[derive(Debug, Clone)]
pub struct SignedJwt {
    pub token: String,
    pub alg: SigningAlg,
    pub kid: Kid,
}

/// The JWKS document, serialised once when the key set changes and served
/// from memory.
#[derive(Debug, Clone)]
pub struct PublishedJwks {
    pub body: Arc<[u8]>,
    /// Strong entity tag (quoted), derived from the body.
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no key is available for signing")]
    NoSigningKey,
    #[error("the token is not a well-formed JWS: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmRefused(String),
    #[error("unknown key id {0:?}")]
    UnknownKid(String),
    #[error("token type {found:?} where {expected:?} was required")]
    WrongType {
        expected: String,
        found: Option<String>,
    },
    #[error("signature verification failed")]
    BadSignature,
    #[error("key material error: {0}")]
    Crypto(String),
}

/// Signs and verifies Latchkey's own JWTs with the published key set.
///
/// Implementations hold every key in memory; no method does I/O.
pub trait TokenSigner: Send + Sync {
    /// Signs `claims` with the current key of the default algorithm (the
    /// first enabled one); `typ` goes in the JOSE header (`at+jwt`, `JWT`,
    /// `logout+jwt`).
    fn sign(&self, typ: &str, claims: &Map<String, Value>) -> Result<SignedJwt, KeyError>;

    /// Signs with the current key of `alg` (a client's
    /// `id_token_signed_response_alg`). `AlgorithmRefused` if `alg` is not
    /// enabled, `NoSigningKey` if it has no current key.
    fn sign_with(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<SignedJwt, KeyError>;

    /// Verifies a compact JWS signed by one of Latchkey's published keys and
    /// returns its claims. Only the signature, the header's `alg` (against the
    /// key's own algorithm), `kid` and `typ` are checked here; time, issuer
    /// and audience rules belong to the caller.
    fn verify(
        &self,
        token: &str,
        expected_typ: Option<&str>,
    ) -> Result<Map<String, Value>, KeyError>;

    /// The JWS algorithm of the current signing key.
    fn signing_alg(&self) -> &'static str;

    /// Every algorithm a published key uses.
    fn published_algs(&self) -> Vec<&'static str>;

    fn jwks(&self) -> PublishedJwks;
}

/// What the key service needs from the JOSE adapter, so the core never
/// touches key material or a JOSE library itself.
pub trait KeyFactory: Send + Sync {
    /// Generates a key pair for `alg` and returns it as a `Next` record with
    /// its private half sealed under the key-encryption key.
    ///
    /// CPU-bound (RSA takes 100 ms or more): async callers run it on a
    /// blocking thread.
    fn generate(
        &self,
        alg: SigningAlg,
        kid: &Kid,
        now: i64,
        activates_at: i64,
    ) -> Result<SigningKeyRecord, KeyError>;

    /// Builds the in-memory signer over `records` (unpublished ones are
    /// ignored). `enabled` is in preference order: the first algorithm that
    /// has a current key signs by default, and only enabled algorithms sign.
    /// Fails if a published record does not open with the key-encryption key.
    fn signer(
        &self,
        records: &[SigningKeyRecord],
        enabled: &[SigningAlg],
    ) -> Result<Arc<dyn TokenSigner>, KeyError>;

    /// Verifies a JWS signed by someone else (a client's `private_key_jwt`
    /// assertion) against that party's JWK Set, with the same rules as for
    /// Latchkey's own tokens: the header `alg` must be in `allowed` and be
    /// the algorithm of the chosen key, `none` and HS* are never accepted,
    /// an unknown `kid` is refused, and `jku`/`x5u`/`jwk`/`x5c` headers are
    /// never followed. Returns the claims; time, issuer and audience checks
    /// belong to the caller.
    fn verify_with_jwks(
        &self,
        token: &str,
        jwks_json: &str,
        allowed: &[SigningAlg],
    ) -> Result<Map<String, Value>, KeyError>;

    /// Verifies a DPoP proof (RFC 9449 §4.3) with the public key in its
    /// own header: `typ` must be `dpop+jwt`, `alg` in `allowed`, the key
    /// public and of the algorithm's type. Returns the claims and the
    /// key's thumbprint; the claims' rules belong to the caller.
    fn verify_dpop_proof(
        &self,
        proof: &str,
        allowed: &[SigningAlg],
    ) -> Result<(Map<String, Value>, crate::Jkt), KeyError>;
}
