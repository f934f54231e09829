//! DPoP proofs (RFC 9449) as every endpoint that takes them checks them:
//! the signature with the proof's own key (the JOSE adapter), the claims
//! against the request (protocol `dpop.rs`), Latchkey's nonce, and the
//! `jti` used once across every instance ([`UsedOnce`]: Redis, or the
//! database).
//!
//! Nonces are stateless: an HMAC of the current five-minute window under a
//! key derived from the key-encryption key, so every instance makes and
//! accepts the same ones without sharing anything else. The current and
//! the previous window's nonce are accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use latchkey_domain::Jkt;
use latchkey_protocol::bearer::TokenScheme;
use latchkey_protocol::claims::AccessTokenClaims;
use latchkey_protocol::dpop::{check_proof, ProofTarget};
use latchkey_protocol::{sha256_b64url, ErrorCode, OAuthError, SigningAlg};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::CoreError;
use crate::liveness::BearerError;

/// How long one nonce is current, in seconds.
const NONCE_WINDOW: i64 = 300;

/// The algorithms a proof may be signed with
/// (`dpop_signing_alg_values_supported`): those FAPI 2.0 allows.
pub const PROOF_ALGS: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::PS256, SigningAlg::EdDSA];

/// The key Latchkey's DPoP nonces are made with.
pub struct NonceKey([u8; 32]);

impl NonceKey {
    pub fn new(key: [u8; 32]) -> NonceKey {
        NonceKey(key)
    }

    fn for_window(&self, window: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"dpop-nonce\0");
        mac.update(&window.to_be_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW))
    }

    /// Whether `nonce` is this window's or the previous one's.
    fn accepts(&self, nonce: &str, now: i64) -> bool {
        let window = now.div_euclid(NONCE_WINDOW);
        [window, window - 1]
            .into_iter()
            .any(|w| self.for_window(w).as_bytes().ct_eq(nonce.as_bytes()).into())
    }
}

/// Why a proof was refused. The client sees `invalid_dpop_proof` or
/// `use_dpop_nonce`; the log sees the reason.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("DPoP proof refused: {0}")]
    Invalid(String),
    #[error("DPoP proof without Latchkey's current nonce")]
    NonceNeeded,
    #[error("DPoP proof jti used before")]
    Replayed,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl ProofError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            ProofError::Invalid(_) => {
                OAuthError::new(ErrorCode::InvalidDpopProof, "the DPoP proof is invalid")
            }
            ProofError::Replayed => OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used",
            ),
            ProofError::NonceNeeded => OAuthError::new(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            ),
            ProofError::Core(e) => e.to_oauth(),
        }
    }
}

/// A proof as a request carried it, and what it must be for.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The endpoint's path (`/token`): `htu` must be the issuer's URL of it.
    pub path: &'a str,
    /// The access token presented with it, for `ath`.
    pub access_token: Option<&'a str>,
}

service! {
    /// Checks DPoP proofs and hands out nonces.
    pub struct Proofs { clock, settings, key_factory, used_once, dpop_nonces }
}

impl Proofs<'_> {
    /// The nonce to send in `DPoP-Nonce` now.
    pub fn nonce(&self) -> String {
        self.dpop_nonces.current(self.clock.unix())
    }

    /// Checks a proof and records its `jti`; returns its key's thumbprint.
    pub async fn check(&self, p: &Presented<'_>) -> Result<Jkt, ProofError> {
        if p.proof.len() > 8192 {
            return Err(ProofError::Invalid("the proof is too long".into()));
        }
        let (claims, jkt) = self
            .key_factory
            .verify_dpop_proof(p.proof, &PROOF_ALGS)
            .map_err(|e| ProofError::Invalid(e.to_string()))?;
        let now = self.clock.unix();
        let skew = self.settings.keys.clock_skew;
        let url = self.settings.endpoint(p.path);
        let checked = check_proof(
            &claims,
            &ProofTarget {
                method: p.method,
                url: &url,
                access_token: p.access_token,
                now,
                skew,
            },
        )
        .map_err(|e| {
            ProofError::Invalid(e.description.map(|d| d.into_owned()).unwrap_or_default())
        })?;
        match &checked.nonce {
            Some(n) if self.dpop_nonces.accepts(n, now) => {}
            // A nonce of another server, or an old one: ask for the current.
            Some(_) => return Err(ProofError::NonceNeeded),
            None if self.settings.dpop.require_nonce => return Err(ProofError::NonceNeeded),
            None => {}
        }
        let key = format!(
            "dpop:{}",
            sha256_b64url(format!("{}\0{}", jkt.as_str(), checked.jti).as_bytes())
        );
        let first = self
            .used_once
            .first_use(&key, checked.remember_until(skew), now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot record a DPoP proof's jti");
                ProofError::Core(CoreError::Store(latchkey_domain::StoreError::Unavailable(
                    "the DPoP replay store".into(),
                )))
            })?;
        if !first {
            return Err(ProofError::Replayed);
        }
        Ok(jkt)
    }
}

/// An access token as a protected resource received it.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    pub scheme: TokenScheme,
    pub token: &'a str,
    /// The `DPoP` header's value.
    pub proof: Option<&'a str>,
    /// The HTTP method, upper case.
    pub method: &'a str,
}

impl Proofs<'_> {
    /// RFC 9449 §7: a token bound to a key is accepted only under the
    /// `DPoP` scheme with a proof of that key for this request (and this
    /// token, `ath`); an unbound token only as `Bearer`.
    pub async fn holder(
        &self,
        claims: &AccessTokenClaims,
        p: &Presentation<'_>,
        path: &str,
    ) -> Result<(), BearerError> {
        let bound =
            match (&claims.cnf, p.scheme) {
                (None, TokenScheme::Bearer) => return Ok(()),
                (None, TokenScheme::Dpop) => {
                    return Err(BearerError::Scheme("the access token is not DPoP-bound"))
                }
                (Some(_), TokenScheme::Bearer) => return Err(BearerError::Scheme(
                    "a DPoP-bound access token must be presented with the DPoP scheme and a proof",
                )),
                (Some(cnf), TokenScheme::Dpop) => cnf,
            };
        let proof = p
            .proof
            .ok_or_else(|| ProofError::Invalid("a DPoP-bound token came without a proof".into()))?;
        let jkt = self
            .check(&Presented {
                proof,
                method: p.method,
                path,
                access_token: Some(p.token),
            })
            .await?;
        if jkt.as_str() != bound.jkt {
            return Err(ProofError::Invalid("the proof's key is not the token's".into()).into());
        }
        Ok(())
    }
}

service! {
    /// The one check of an access token presented to one of Latchkey's
    /// protected resources (`/userinfo`, `/api/sessions`): live, for
    /// Latchkey's audience, and, when bound to a DPoP key, presented with
    /// a proof of it (RFC 9449 §7). There is no other way for a resource
    /// to accept a token.
    pub struct ProtectedResource { liveness, proofs }
}

impl ProtectedResource<'_> {
    /// The token's claims, if it may be used for this request at `path`.
    pub async fn token(
        &self,
        presented: &Presentation<'_>,
        path: &str,
    ) -> Result<AccessTokenClaims, BearerError> {
        let claims = self.liveness.access_token(presented.token).await?;
        self.proofs.holder(&claims, presented, path).await?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_hold_for_their_window_and_the_next() {
        let key = NonceKey::new([7; 32]);
        let n = key.current(1_000);
        assert!(key.accepts(&n, 1_000));
        assert!(key.accepts(&n, 1_000 + NONCE_WINDOW));
        assert!(!key.accepts(&n, 1_000 + 2 * NONCE_WINDOW));
        assert!(!key.accepts("made-up", 1_000));
        assert!(!NonceKey::new([8; 32]).accepts(&n, 1_000));
        assert_ne!(key.current(1_000), key.current(1_000 + NONCE_WINDOW));
    }
}
