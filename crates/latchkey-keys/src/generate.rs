//! Signing-key algorithms, key generation, and the josekit plumbing that
//! turns a stored private key into a signer, a public JWK and a verifier.

use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, PS256, RS256};
use josekit::JoseError;
use latchkey_domain::keys::{KeyError, KeyState, SigningKeyRecord};
use latchkey_domain::Kid;
use serde_json::{Map, Value};

use crate::kek::Kek;

const RSA_BITS: u32 = 2048;

/// The JWS algorithms Latchkey signs with (defined in the domain, so the
/// core and the configuration can name them without JOSE).
pub use latchkey_domain::keys::SigningAlg as Alg;

/// The JWK key type and its public members, in publication order.
pub(crate) fn public_members(alg: Alg) -> (&'static str, &'static [&'static str]) {
    match alg {
        Alg::RS256 | Alg::PS256 => ("RSA", &["n", "e"]),
        Alg::ES256 => ("EC", &["crv", "x", "y"]),
        Alg::EdDSA => ("OKP", &["crv", "x"]),
    }
}

/// A freshly generated key pair. `Debug` hides the private key.
pub struct GeneratedKey {
    /// PKCS#8 PEM.
    pub private_pem: Vec<u8>,
    /// The public JWK as JSON text: key members plus `kid`, `alg`, `use`.
    pub public_jwk: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("private_pem", &"<redacted>")
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

pub(crate) fn crypto(context: &str, err: impl std::fmt::Display) -> KeyError {
    KeyError::Crypto(format!("{context}: {err}"))
}

/// Generates a new signing key.
///
/// CPU-bound (RSA takes 100 ms or more): async callers should run it on a
/// blocking thread (`spawn_blocking`), never on the executor.
pub fn generate_signing_key(alg: Alg, kid: &str) -> Result<GeneratedKey, KeyError> {
    let pair: Result<Box<dyn KeyPair>, JoseError> = match alg {
        Alg::RS256 => RS256.generate_key_pair(RSA_BITS).map(|p| Box::new(p) as _),
        Alg::PS256 => PS256.generate_key_pair(RSA_BITS).map(|p| Box::new(p) as _),
        Alg::ES256 => ES256.generate_key_pair().map(|p| Box::new(p) as _),
        Alg::EdDSA => EdDSA
            .generate_key_pair(josekit::jwk::Ed25519)
            .map(|p| Box::new(p) as _),
    };
    let pair = pair.map_err(|e| crypto("generating a key", e))?;
    let public = public_jwk(alg, kid, pair.as_ref())?;
    Ok(GeneratedKey {
        private_pem: pair.to_pem_private_key(),
        public_jwk: Value::Object(public).to_string(),
    })
}

/// Generates a key and seals its private half under the KEK (`kid` as the
/// associated data, so a ciphertext cannot be moved to another record).
///
/// As slow as [`generate_signing_key`]; keep it off the async executor.
pub fn seal_new_key(
    kek: &Kek,
    alg: Alg,
    kid: Kid,
    now: i64,
    activates_at: i64,
    state: KeyState,
) -> Result<SigningKeyRecord, KeyError> {
    let key = generate_signing_key(alg, kid.as_str())?;
    Ok(SigningKeyRecord {
        encrypted_private_key: kek.encrypt(&key.private_pem, kid.as_str().as_bytes()),
        kid,
        alg,
        state,
        public_jwk: key.public_jwk,
        created_at: now,
        activates_at,
        retired_at: None,
        removed_at: None,
    })
}

/// Builds the public JWK by allow-listing members, so no private member can
/// ever slip into the JWKS whatever josekit puts in its JWK.
fn public_jwk(alg: Alg, kid: &str, pair: &dyn KeyPair) -> Result<Map<String, Value>, KeyError> {
    let jwk = pair.to_jwk_public_key();
    let (kty, members) = public_members(alg);
    if jwk.key_type() != kty {
        return Err(KeyError::Crypto(format!(
            "key {kid}: {} key where {kty} was expected",
            jwk.key_type()
        )));
    }
    let mut out = Map::new();
    out.insert("kty".into(), kty.into());
    for &name in members {
        let value = jwk
            .parameter(name)
            .ok_or_else(|| KeyError::Crypto(format!("key {kid}: public JWK lacks {name:?}")))?;
        out.insert(name.into(), value.clone());
    }
    out.insert("kid".into(), kid.into());
    out.insert("alg".into(), alg.as_str().into());
    out.insert("use".into(), "sig".into());
    Ok(out)
}

/// The public JWK derived from a private key, i.e. from material the KEK
/// authenticates.
pub(crate) fn public_jwk_from_pem(
    alg: Alg,
    kid: &str,
    pem: &[u8],
) -> Result<Map<String, Value>, KeyError> {
    let pair: Result<Box<dyn KeyPair>, JoseError> = match alg {
        Alg::RS256 => RS256.key_pair_from_pem(pem).map(|p| Box::new(p) as _),
        Alg::PS256 => PS256.key_pair_from_pem(pem).map(|p| Box::new(p) as _),
        Alg::ES256 => ES256.key_pair_from_pem(pem).map(|p| Box::new(p) as _),
        Alg::EdDSA => EdDSA.key_pair_from_pem(pem).map(|p| Box::new(p) as _),
    };
    let pair = pair.map_err(|e| crypto(&format!("key {kid}: reading the private key"), e))?;
    public_jwk(alg, kid, pair.as_ref())
}

pub(crate) fn signer_from_pem(
    alg: Alg,
    kid: &str,
    pem: &[u8],
) -> Result<Box<dyn JwsSigner>, KeyError> {
    let signer: Result<Box<dyn JwsSigner>, JoseError> = match alg {
        Alg::RS256 => RS256.signer_from_pem(pem).map(|s| Box::new(s) as _),
        Alg::PS256 => PS256.signer_from_pem(pem).map(|s| Box::new(s) as _),
        Alg::ES256 => ES256.signer_from_pem(pem).map(|s| Box::new(s) as _),
        Alg::EdDSA => EdDSA.signer_from_pem(pem).map(|s| Box::new(s) as _),
    };
    signer.map_err(|e| crypto(&format!("key {kid}: building a signer"), e))
}

pub(crate) fn verifier_from_jwk(
    alg: Alg,
    kid: &str,
    jwk: &Map<String, Value>,
) -> Result<Box<dyn JwsVerifier>, KeyError> {
    let context = format!("key {kid}: building a verifier");
    let jwk = Jwk::from_map(jwk.clone()).map_err(|e| crypto(&context, e))?;
    let verifier: Result<Box<dyn JwsVerifier>, JoseError> = match alg {
        Alg::RS256 => RS256.verifier_from_jwk(&jwk).map(|v| Box::new(v) as _),
        Alg::PS256 => PS256.verifier_from_jwk(&jwk).map(|v| Box::new(v) as _),
        Alg::ES256 => ES256.verifier_from_jwk(&jwk).map(|v| Box::new(v) as _),
        Alg::EdDSA => EdDSA.verifier_from_jwk(&jwk).map(|v| Box::new(v) as _),
    };
    verifier.map_err(|e| crypto(&context, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.as_str()), Ok(alg));
        }
        assert!(Alg::parse("none").is_err());
        assert!(Alg::parse("HS256").is_err());
        assert!(Alg::parse("rs256").is_err());
    }

    #[test]
    fn public_jwks_carry_no_private_member() {
        for alg in Alg::ALL {
            let key = generate_signing_key(alg, "k1").unwrap();
            let jwk: Map<String, Value> = serde_json::from_str(&key.public_jwk).unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(!jwk.contains_key(private), "{alg:?} publishes {private}");
            }
            let (kty, members) = public_members(alg);
            let mut expected: Vec<&str> = vec!["kty", "kid", "alg", "use"];
            expected.extend(members);
            expected.sort_unstable();
            let mut found: Vec<&str> = jwk.keys().map(String::as_str).collect();
            found.sort_unstable();
            assert_eq!(found, expected, "{alg:?}");
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert!(key.private_pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
            assert!(!format!("{key:?}").contains("BEGIN"));
            // The private key and the published JWK describe the same key.
            assert_eq!(
                public_jwk_from_pem(alg, "k1", &key.private_pem).unwrap(),
                jwk
            );
        }
    }

    #[test]
    fn sealed_keys_open_only_with_their_kid() {
        let kek = Kek::from_bytes([9; 32]);
        let record =
            seal_new_key(&kek, Alg::ES256, Kid::new("k1"), 10, 20, KeyState::Next).unwrap();
        assert_eq!(
            (record.alg.as_str(), record.created_at, record.activates_at),
            ("ES256", 10, 20)
        );
        let pem = kek.decrypt(&record.encrypted_private_key, b"k1").unwrap();
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        assert!(kek.decrypt(&record.encrypted_private_key, b"k2").is_err());
    }
}
