//! DPoP proofs (RFC 9449 §4.3): a JWT signed with the key in its own
//! header. Checked here: `typ` is `dpop+jwt`; `alg` is on the allow-list
//! (never `none` or HS*); the header's `jwk` is a public key of the type
//! the algorithm needs, with no private member; no `crit`; the signature
//! verifies with that key. Returns the claims and the key's RFC 7638
//! thumbprint; the claims' rules (`htm`, `htu`, `iat`, `ath`, `jti`,
//! `nonce`) are the protocol crate's and the caller's.

use std::collections::BTreeMap;
use std::sync::Arc;

use josekit::jws::JwsVerifier;
use latchkey_domain::keys::KeyError;
use latchkey_protocol::dpop::{Jkt, PROOF_TYP};
use serde_json::{Map, Value};

use crate::foreign::{fits, public_part};
use crate::generate::{verifier_from_jwk, Alg};
use crate::keyset::{decode_header, header_alg, refuse_critical, verified_claims};

/// Members that only a private key has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A proof key made ready: its verifier and thumbprint.
struct Prepared {
    verifier: Box<dyn JwsVerifier>,
    jkt: Jkt,
}

/// Proof keys already imported, by algorithm and canonical public key. A
/// client signs every proof with the same key, and importing one (DER
/// through OpenSSL's decoders) costs more than verifying with it; a
/// bounded cache makes a proof cost one verification. A key is public
/// and checked as it is imported, so a cached one is as good as a new.
pub struct ProofKeys {
    prepared: moka::sync::Cache<String, Arc<Prepared>>,
}

impl Default for ProofKeys {
    fn default() -> ProofKeys {
        ProofKeys {
            prepared: moka::sync::Cache::builder().max_capacity(10_000).build(),
        }
    }
}

impl std::fmt::Debug for ProofKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProofKeys({} cached)", self.prepared.entry_count())
    }
}

/// Verifies a DPoP proof; see the module documentation.
pub fn verify_proof(proof: &str, allowed: &[Alg]) -> Result<(Map<String, Value>, Jkt), KeyError> {
    verify_proof_with(proof, allowed, None)
}

/// [`verify_proof`], importing each key once into `keys`.
pub fn verify_proof_with(
    proof: &str,
    allowed: &[Alg],
    keys: Option<&ProofKeys>,
) -> Result<(Map<String, Value>, Jkt), KeyError> {
    let header = decode_header(proof)?;
    if header.get("typ").and_then(Value::as_str) != Some(PROOF_TYP) {
        return Err(KeyError::Malformed(
            "the proof's typ is not dpop+jwt".into(),
        ));
    }
    let alg_name = header_alg(&header)?;
    refuse_critical(&header)?;
    let alg = match Alg::parse(alg_name) {
        Ok(a) if allowed.contains(&a) => a,
        _ => return Err(KeyError::AlgorithmRefused(alg_name.to_owned())),
    };
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| KeyError::Malformed("the proof's header has no jwk".into()))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(KeyError::Malformed(
            "the proof's jwk holds a private key".into(),
        ));
    }
    if !fits(jwk, alg) {
        return Err(KeyError::AlgorithmRefused(alg_name.to_owned()));
    }
    let public = public_part(jwk, alg, "dpop")?;
    let prepare = || -> Result<Arc<Prepared>, KeyError> {
        Ok(Arc::new(Prepared {
            verifier: verifier_from_jwk(alg, "dpop", &public)?,
            jkt: thumbprint(&public),
        }))
    };
    let prepared = match keys {
        None => prepare()?,
        Some(keys) => {
            let id = format!("{alg} {}", canonical(&public));
            match keys.prepared.get(&id) {
                Some(p) => p,
                None => {
                    let p = prepare()?;
                    keys.prepared.insert(id, p.clone());
                    p
                }
            }
        }
    };
    let claims = verified_claims(proof, prepared.verifier.as_ref())?;
    Ok((claims, prepared.jkt.clone()))
}

/// RFC 7638 §3's JSON: the required members, sorted, without spaces.
fn canonical(public: &Map<String, Value>) -> String {
    let sorted: BTreeMap<&str, &str> = public
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        .collect();
    serde_json::to_string(&sorted).expect("strings always serialise")
}

/// RFC 7638 §3: SHA-256 of the canonical JSON.
fn thumbprint(public: &Map<String, Value>) -> Jkt {
    Jkt::of_canonical_jwk(&canonical(public))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use josekit::jws::JwsHeader;
    use serde_json::json;

    use super::*;
    use crate::generate::{generate_signing_key, signer_from_pem};

    fn proof(alg: Alg, typ: &str, jwk_extra: &[(&str, Value)]) -> (String, Map<String, Value>) {
        let key = generate_signing_key(alg, "k").unwrap();
        let mut jwk: Map<String, Value> = serde_json::from_str(&key.public_jwk).unwrap();
        for (k, v) in jwk_extra {
            jwk.insert((*k).into(), v.clone());
        }
        let signer = signer_from_pem(alg, "k", &key.private_pem).unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header
            .set_claim("jwk", Some(Value::Object(jwk.clone())))
            .unwrap();
        let claims = json!({"jti": "j", "htm": "POST", "htu": "https://x/token", "iat": 1});
        let token = josekit::jws::serialize_compact(
            &serde_json::to_vec(&claims).unwrap(),
            &header,
            signer.as_ref(),
        )
        .unwrap();
        (token, jwk)
    }

    #[test]
    fn a_proof_verifies_with_its_own_key_and_names_its_thumbprint() {
        for alg in [Alg::ES256, Alg::PS256, Alg::EdDSA] {
            let (token, jwk) = proof(alg, PROOF_TYP, &[]);
            let (claims, jkt) =
                verify_proof(&token, &[Alg::ES256, Alg::PS256, Alg::EdDSA]).unwrap();
            assert_eq!(claims["jti"], "j", "{alg}");
            // The thumbprint ignores kid, alg and use.
            let (kty, members) = crate::generate::public_members(alg);
            let mut required: BTreeMap<&str, &str> = members
                .iter()
                .map(|m| (*m, jwk[*m].as_str().unwrap()))
                .collect();
            required.insert("kty", kty);
            let expected = Jkt::of_canonical_jwk(&serde_json::to_string(&required).unwrap());
            assert_eq!(jkt, expected, "{alg}");
        }
    }

    #[test]
    fn a_cached_key_verifies_like_a_new_one() {
        let keys = ProofKeys::default();
        let algs = [Alg::ES256, Alg::PS256, Alg::EdDSA];
        let (token, _) = proof(Alg::ES256, PROOF_TYP, &[]);
        let fresh = verify_proof(&token, &algs).unwrap();
        assert_eq!(
            verify_proof_with(&token, &algs, Some(&keys)).unwrap(),
            fresh
        );
        assert_eq!(
            verify_proof_with(&token, &algs, Some(&keys)).unwrap(),
            fresh
        );
        keys.prepared.run_pending_tasks();
        assert_eq!(keys.prepared.entry_count(), 1);
        // A cached key still refuses a signature it did not make.
        let (other, _) = proof(Alg::ES256, PROOF_TYP, &[]);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[2] = other.split('.').nth(2).unwrap();
        assert!(matches!(
            verify_proof_with(&parts.join("."), &algs, Some(&keys)),
            Err(KeyError::BadSignature)
        ));
    }

    #[test]
    fn the_wrong_typ_alg_or_key_is_refused() {
        let (token, _) = proof(Alg::ES256, "JWT", &[]);
        assert!(verify_proof(&token, &[Alg::ES256]).is_err());
        let (token, _) = proof(Alg::RS256, PROOF_TYP, &[]);
        assert!(matches!(
            verify_proof(&token, &[Alg::ES256, Alg::PS256, Alg::EdDSA]),
            Err(KeyError::AlgorithmRefused(_))
        ));
        // A private key in the header is refused before anything is verified.
        let (_, mut jwk) = proof(Alg::ES256, PROOF_TYP, &[]);
        jwk.insert("d".into(), json!("c2VjcmV0"));
        let with_private = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD
                .encode(json!({"alg": "ES256", "typ": PROOF_TYP, "jwk": jwk}).to_string()),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert!(matches!(
            verify_proof(&with_private, &[Alg::ES256]),
            Err(KeyError::Malformed(m)) if m.contains("private")
        ));
        // A signature by another key than the header's.
        let (a, _) = proof(Alg::ES256, PROOF_TYP, &[]);
        let (b, _) = proof(Alg::ES256, PROOF_TYP, &[]);
        let mut parts: Vec<&str> = a.split('.').collect();
        parts[2] = b.split('.').nth(2).unwrap();
        assert!(matches!(
            verify_proof(&parts.join("."), &[Alg::ES256]),
            Err(KeyError::BadSignature)
        ));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"dpop+jwt"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert!(verify_proof(&none, &[Alg::ES256]).is_err());
    }
}
