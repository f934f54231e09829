//! OAuth 2.0 and OpenID Connect as Latchkey speaks them on the wire: typed
//! values that can only be built valid (client ids, exact redirect URIs,
//! scope sets, state, nonce, PKCE), request parsing with the strict rules
//! Latchkey enforces, response and claim shapes, and the RFC error codes.
//!
//! This crate is pure: no I/O, no clock, no randomness, no HTTP framework,
//! no database. Everything else in Latchkey depends on it; it depends on
//! nothing of Latchkey's.

pub mod authn;
pub mod authorize;
pub mod bearer;
pub mod claims;
pub mod claims_request;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod outbound;
pub mod par;
pub mod params;
pub mod pkce;
pub mod profile;
pub mod registration;
pub mod resource;
pub mod token;
pub mod types;
pub mod user_claims;
pub mod vocabulary;

#[cfg(test)]
mod properties;

pub use error::{ErrorCode, OAuthError};
pub use params::Params;
pub use types::{ClientId, Nonce, RedirectUri, Scope, ScopeToken, State};
pub use vocabulary::{
    ClientAuthMethod, GrantType, Prompt, Requirement, ResponseMode, ResponseType, SigningAlg,
    TokenTypeHint, UnknownName,
};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// base64url (no padding) of SHA-256: how PKCE challenges, `at_hash` halves
/// and stored token hashes are written.
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}

/// OIDC Core §3.1.3.6 `at_hash`: the left half of the hash of the access
/// token, for SHA-256 based algorithms (RS256, PS256, ES256). EdDSA with
/// Ed25519 also uses SHA-512 per OIDC errata; callers pass the algorithm.
pub fn left_half_hash(token: &str, alg: SigningAlg) -> String {
    use sha2::Sha512;
    if alg == SigningAlg::EdDSA {
        let digest = Sha512::digest(token.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..32])
    } else {
        let digest = Sha256::digest(token.as_bytes());
        URL_SAFE_NO_PAD.encode(&digest[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core A.3 example access token and its at_hash.
        assert_eq!(
            left_half_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                SigningAlg::RS256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn sha256_b64url_is_rfc7636_s256() {
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
