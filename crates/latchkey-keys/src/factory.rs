//! The JOSE side of the key service: the domain's `KeyFactory`, so the core
//! can generate keys, build signers and check foreign signatures without
//! touching key material or josekit.

use std::sync::Arc;

use latchkey_domain::keys::{KeyError, KeyFactory, KeyState, SigningKeyRecord, TokenSigner};
use latchkey_domain::{Jkt, Kid};
use serde_json::{Map, Value};

use crate::generate::{seal_new_key, Alg};
use crate::kek::Kek;
use crate::keyset::KeySet;

/// Generates keys sealed under one KEK and opens them again; verifies
/// what clients sign.
#[derive(Debug, Clone)]
pub struct JoseKeyFactory {
    kek: Kek,
    /// DPoP proof keys already imported.
    proof_keys: Arc<crate::dpop::ProofKeys>,
}

impl JoseKeyFactory {
    pub fn new(kek: Kek) -> JoseKeyFactory {
        JoseKeyFactory {
            kek,
            proof_keys: Arc::default(),
        }
    }
}

impl KeyFactory for JoseKeyFactory {
    fn generate(
        &self,
        alg: Alg,
        kid: &Kid,
        now: i64,
        activates_at: i64,
    ) -> Result<SigningKeyRecord, KeyError> {
        seal_new_key(
            &self.kek,
            alg,
            kid.clone(),
            now,
            activates_at,
            KeyState::Next,
        )
    }

    fn signer(
        &self,
        records: &[SigningKeyRecord],
        enabled: &[Alg],
    ) -> Result<Arc<dyn TokenSigner>, KeyError> {
        Ok(Arc::new(KeySet::for_algorithms(
            records, &self.kek, enabled,
        )?))
    }

    fn verify_with_jwks(
        &self,
        token: &str,
        jwks_json: &str,
        allowed: &[Alg],
    ) -> Result<Map<String, Value>, KeyError> {
        crate::foreign::verify_with_jwks(token, jwks_json, allowed)
    }

    fn verify_dpop_proof(
        &self,
        proof: &str,
        allowed: &[Alg],
    ) -> Result<(Map<String, Value>, Jkt), KeyError> {
        crate::dpop::verify_proof_with(proof, allowed, Some(&self.proof_keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_next_and_open_into_a_signer() {
        let factory = JoseKeyFactory::new(Kek::from_bytes([8; 32]));
        let mut next = factory
            .generate(Alg::ES256, &Kid::new("k1"), 10, 700)
            .unwrap();
        assert_eq!(
            (
                next.state,
                next.created_at,
                next.activates_at,
                next.alg.as_str()
            ),
            (KeyState::Next, 10, 700, "ES256")
        );
        // Published but not signing yet.
        let signer = factory
            .signer(std::slice::from_ref(&next), &[Alg::ES256])
            .unwrap();
        assert!(signer.sign("JWT", &Map::new()).is_err());
        assert!(String::from_utf8_lossy(&signer.jwks().body).contains("\"k1\""));
        next.state = KeyState::Current;
        let signer = factory.signer(&[next.clone()], &[Alg::ES256]).unwrap();
        assert_eq!(signer.sign("JWT", &Map::new()).unwrap().kid.as_str(), "k1");

        let other = JoseKeyFactory::new(Kek::from_bytes([9; 32]));
        let Err(err) = other.signer(&[next], &[Alg::ES256]) else {
            panic!("opened with the wrong KEK");
        };
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
