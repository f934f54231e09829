//! Verifying JWTs signed by someone else (a client's `private_key_jwt`
//! assertion, RFC 7523) against that party's own JWK Set, with the rules of
//! RFC 8725 that apply to Latchkey's own tokens:
//!
//! - the header's `alg` must be on the caller's allow-list and be one
//!   Latchkey implements; `none` and every HS* algorithm are refused (there
//!   is no shared secret here, so an HMAC "verified" with a public key would
//!   be a forgery);
//! - the key is chosen by `kid` among the registered keys only, and must be
//!   of the type the algorithm needs (and the algorithm the JWK names, if
//!   it names one); an unknown `kid` is refused, and without a `kid` exactly
//!   one registered key may fit;
//! - `jku`, `x5u`, `jwk` and `x5c` headers are ignored, never fetched;
//! - `crit` extensions are refused;
//! - RSA keys shorter than 2048 bits or longer than 4096, and RSA keys
//!   with a public exponent other than 65537, are refused before any
//!   verification.
//!
//! Time, issuer, audience and replay (`jti`) checks belong to the caller.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_domain::keys::KeyError;
use serde_json::{Map, Value};

use crate::generate::{public_members, verifier_from_jwk, Alg};
use crate::keyset::{decode_header, header_alg, refuse_critical, verified_claims};

const MIN_RSA_BITS: usize = 2048;

/// Verifies `token` with a key from `jwks_json` (a JWK Set document) and
/// returns its claims. See the module documentation for the rules.
pub fn verify_with_jwks(
    token: &str,
    jwks_json: &str,
    allowed: &[Alg],
) -> Result<Map<String, Value>, KeyError> {
    let header = decode_header(token)?;
    let alg_name = header_alg(&header)?;
    refuse_critical(&header)?;
    let alg = match Alg::parse(alg_name) {
        Ok(a) if allowed.contains(&a) => a,
        _ => return Err(KeyError::AlgorithmRefused(alg_name.to_owned())),
    };

    let jwks: Value = serde_json::from_str(jwks_json)
        .map_err(|e| KeyError::Crypto(format!("the JWK Set is not JSON: {e}")))?;
    let keys: Vec<&Map<String, Value>> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| KeyError::Crypto("the JWK Set has no \"keys\" array".into()))?
        .iter()
        .filter_map(Value::as_object)
        .collect();

    let jwk = match header.get("kid") {
        Some(Value::String(kid)) => {
            let named: Vec<&Map<String, Value>> = keys
                .iter()
                .copied()
                .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .collect();
            if named.is_empty() {
                return Err(KeyError::UnknownKid(kid.clone()));
            }
            let mut fitting = named.into_iter().filter(|k| fits(k, alg));
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => k,
                // The kid names a key of another type or algorithm.
                (None, _) => return Err(KeyError::AlgorithmRefused(alg_name.to_owned())),
                (Some(_), Some(_)) => {
                    return Err(KeyError::Crypto(format!(
                        "the JWK Set has several {alg} keys with kid {kid:?}"
                    )))
                }
            }
        }
        Some(_) => return Err(KeyError::Malformed("kid is not a string".into())),
        None => {
            let mut fitting = keys.iter().copied().filter(|k| fits(k, alg));
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => k,
                // No kid and no single candidate: guessing is how the wrong
                // key ends up trusted.
                _ => return Err(KeyError::UnknownKid(String::new())),
            }
        }
    };

    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
    let public = public_part(jwk, alg, kid)?;
    let verifier = verifier_from_jwk(alg, kid, &public)?;
    verified_claims(token, verifier.as_ref())
}

/// Whether a JWK may verify `alg`: the right key type (and curve), the same
/// `alg` if it names one, and meant for signatures.
pub(crate) fn fits(jwk: &Map<String, Value>, alg: Alg) -> bool {
    let str_of = |name: &str| jwk.get(name).and_then(Value::as_str);
    let (kty, _) = public_members(alg);
    let curve_ok = match alg {
        Alg::ES256 => str_of("crv") == Some("P-256"),
        Alg::EdDSA => str_of("crv") == Some("Ed25519"),
        Alg::RS256 | Alg::PS256 => true,
    };
    let ops_ok = match jwk.get("key_ops") {
        None => true,
        Some(Value::Array(ops)) => ops.iter().any(|op| op == "verify"),
        Some(_) => false,
    };
    str_of("kty") == Some(kty)
        && curve_ok
        && str_of("alg").is_none_or(|a| a == alg.as_str())
        && str_of("use").is_none_or(|u| u == "sig")
        && ops_ok
}

/// The public members only: a registered JWK that carelessly includes a
/// private member is still used only as a public key.
pub(crate) fn public_part(
    jwk: &Map<String, Value>,
    alg: Alg,
    kid: &str,
) -> Result<Map<String, Value>, KeyError> {
    let (kty, members) = public_members(alg);
    let mut out = Map::new();
    out.insert("kty".into(), kty.into());
    for &name in members {
        let value = jwk
            .get(name)
            .filter(|v| v.is_string())
            .ok_or_else(|| KeyError::Crypto(format!("key {kid:?}: JWK lacks {name:?}")))?;
        out.insert(name.into(), value.clone());
    }
    if kty == "RSA" {
        let n = out["n"].as_str().unwrap_or_default();
        let bytes = URL_SAFE_NO_PAD
            .decode(n)
            .map_err(|_| KeyError::Crypto(format!("key {kid:?}: n is not base64url")))?;
        let significant = bytes.iter().skip_while(|&&b| b == 0).count();
        if significant * 8 < MIN_RSA_BITS {
            return Err(KeyError::Crypto(format!(
                "key {kid:?}: RSA keys shorter than {MIN_RSA_BITS} bits are refused"
            )));
        }
        // Refused before any verification: a huge exponent or modulus
        // would make each forged signature cost what the forger chose.
        let e = out["e"].as_str().unwrap_or_default();
        if let Some(why) = latchkey_protocol::registration::rsa_key_refusal(e, n) {
            return Err(KeyError::Crypto(format!("key {kid:?}: {why}")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use josekit::jwk::KeyPair;
    use josekit::jws::{JwsHeader, ES256, HS256, RS256};
    use serde_json::json;

    use super::*;
    use crate::generate::generate_signing_key;

    struct Party {
        alg: Alg,
        kid: String,
        pem: Vec<u8>,
        jwk: Map<String, Value>,
    }

    fn party(alg: Alg, kid: &str) -> Party {
        let key = generate_signing_key(alg, kid).unwrap();
        Party {
            alg,
            kid: kid.into(),
            pem: key.private_pem,
            jwk: serde_json::from_str(&key.public_jwk).unwrap(),
        }
    }

    fn jwks(keys: &[&Map<String, Value>]) -> String {
        json!({ "keys": keys }).to_string()
    }

    fn claims() -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), "client-1".into());
        c.insert("sub".into(), "client-1".into());
        c
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Signs with the party's key, setting `header` members as given.
    fn sign(p: &Party, extra: &[(&str, Value)], with_kid: bool) -> String {
        let signer = crate::generate::signer_from_pem(p.alg, &p.kid, &p.pem).unwrap();
        let mut header = JwsHeader::new();
        if with_kid {
            header.set_key_id(&p.kid);
        }
        for (name, value) in extra {
            header.set_claim(name, Some(value.clone())).unwrap();
        }
        let payload = serde_json::to_vec(&claims()).unwrap();
        josekit::jws::serialize_compact(&payload, &header, signer.as_ref()).unwrap()
    }

    #[test]
    fn verifies_every_algorithm_by_kid_and_alone_without() {
        for alg in Alg::ALL {
            let p = party(alg, "c1");
            let other = party(Alg::ES256, "c2");
            let set = jwks(&[&other.jwk, &p.jwk]);
            let token = sign(&p, &[], true);
            assert_eq!(
                verify_with_jwks(&token, &set, &Alg::ALL).unwrap(),
                claims(),
                "{alg}"
            );
            // No kid: the one key that fits the algorithm is used.
            let token = sign(&p, &[], false);
            if alg == Alg::ES256 {
                // Two ES256 keys: ambiguous, refused.
                assert!(matches!(
                    verify_with_jwks(&token, &set, &Alg::ALL),
                    Err(KeyError::UnknownKid(_))
                ));
            } else {
                assert_eq!(verify_with_jwks(&token, &set, &Alg::ALL).unwrap(), claims());
            }
        }
    }

    #[test]
    fn refuses_algorithms_not_allowed_and_none() {
        let p = party(Alg::ES256, "c1");
        let set = jwks(&[&p.jwk]);
        let token = sign(&p, &[], true);
        assert!(matches!(
            verify_with_jwks(&token, &set, &[Alg::RS256]),
            Err(KeyError::AlgorithmRefused(a)) if a == "ES256"
        ));
        let header = b64(br#"{"alg":"none","kid":"c1"}"#);
        let token = format!("{header}.{}.", b64(br#"{"sub":"x"}"#));
        assert!(matches!(
            verify_with_jwks(&token, &set, &Alg::ALL),
            Err(KeyError::AlgorithmRefused(_))
        ));
    }

    #[test]
    fn refuses_hs256_keyed_with_the_registered_public_key() {
        let p = party(Alg::RS256, "c1");
        let set = jwks(&[&p.jwk]);
        let public_pem = RS256.key_pair_from_pem(&p.pem).unwrap().to_pem_public_key();
        for secret in [
            set.as_bytes().to_vec(),
            public_pem,
            serde_json::to_vec(&p.jwk).unwrap(),
        ] {
            let mut header = JwsHeader::new();
            header.set_key_id("c1");
            let signer = HS256.signer_from_bytes(&secret).unwrap();
            let token = josekit::jws::serialize_compact(b"{}", &header, &signer).unwrap();
            assert!(matches!(
                verify_with_jwks(&token, &set, &Alg::ALL),
                Err(KeyError::AlgorithmRefused(a)) if a == "HS256"
            ));
        }
    }

    #[test]
    fn refuses_an_unknown_kid_and_a_key_of_another_type() {
        let p = party(Alg::ES256, "c1");
        let registered = party(Alg::ES256, "c2");
        let token = sign(&p, &[], true);
        assert!(matches!(
            verify_with_jwks(&token, &jwks(&[&registered.jwk]), &Alg::ALL),
            Err(KeyError::UnknownKid(k)) if k == "c1"
        ));
        // The kid names an RSA key but the header says ES256.
        let mut rsa = party(Alg::RS256, "c1").jwk;
        rsa.remove("alg");
        assert!(matches!(
            verify_with_jwks(&token, &jwks(&[&rsa]), &Alg::ALL),
            Err(KeyError::AlgorithmRefused(_))
        ));
        // A JWK that names another algorithm, or is for encryption.
        let mut named = p.jwk.clone();
        named.insert("alg".into(), "ES384".into());
        let mut enc = p.jwk.clone();
        enc.insert("use".into(), "enc".into());
        for jwk in [named, enc] {
            assert!(verify_with_jwks(&token, &jwks(&[&jwk]), &Alg::ALL).is_err());
        }
    }

    #[test]
    fn never_follows_keys_named_in_the_header() {
        let registered = party(Alg::RS256, "c1");
        let attacker = party(Alg::RS256, "c1");
        let set = jwks(&[&registered.jwk]);
        let token = sign(
            &attacker,
            &[
                ("jku", "https://attacker.example/jwks".into()),
                ("x5u", "https://attacker.example/cert".into()),
                ("jwk", Value::Object(attacker.jwk.clone())),
            ],
            true,
        );
        assert!(matches!(
            verify_with_jwks(&token, &set, &Alg::ALL),
            Err(KeyError::BadSignature)
        ));
    }

    #[test]
    fn refuses_tampering_critical_headers_and_short_rsa_keys() {
        let p = party(Alg::EdDSA, "c1");
        let set = jwks(&[&p.jwk]);
        let token = sign(&p, &[], true);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"mallory"}"#), parts[2]);
        assert!(matches!(
            verify_with_jwks(&forged, &set, &Alg::ALL),
            Err(KeyError::BadSignature)
        ));
        let crit = sign(&p, &[("crit", json!(["exp"])), ("exp", json!(1))], true);
        assert!(matches!(
            verify_with_jwks(&crit, &set, &Alg::ALL),
            Err(KeyError::Malformed(_))
        ));

        // josekit will not make a 1024-bit key; OpenSSL will.
        let short = openssl::rsa::Rsa::generate(1024).unwrap();
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("kid".into(), "short".into());
        jwk.insert("n".into(), b64(&short.n().to_vec()).into());
        jwk.insert("e".into(), b64(&short.e().to_vec()).into());
        let signing_input = format!(
            "{}.{}",
            b64(br#"{"alg":"RS256","kid":"short"}"#),
            b64(b"{}")
        );
        let pkey = openssl::pkey::PKey::from_rsa(short).unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        signer.update(signing_input.as_bytes()).unwrap();
        let token = format!("{signing_input}.{}", b64(&signer.sign_to_vec().unwrap()));
        let err = verify_with_jwks(&token, &jwks(&[&jwk]), &Alg::ALL).unwrap_err();
        assert!(err.to_string().contains("shorter than 2048 bits"), "{err}");

        // A key with exponent 3, signing for real: refused before any
        // verification, as a huge exponent would be.
        let e3 =
            openssl::rsa::Rsa::generate_with_e(2048, &openssl::bn::BigNum::from_u32(3).unwrap())
                .unwrap();
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("kid".into(), "e3".into());
        jwk.insert("n".into(), b64(&e3.n().to_vec()).into());
        jwk.insert("e".into(), b64(&e3.e().to_vec()).into());
        let signing_input = format!("{}.{}", b64(br#"{"alg":"RS256","kid":"e3"}"#), b64(b"{}"));
        let pkey = openssl::pkey::PKey::from_rsa(e3).unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        signer.update(signing_input.as_bytes()).unwrap();
        let token = format!("{signing_input}.{}", b64(&signer.sign_to_vec().unwrap()));
        let err = verify_with_jwks(&token, &jwks(&[&jwk]), &Alg::ALL).unwrap_err();
        assert!(err.to_string().contains("65537"), "{err}");
    }

    #[test]
    fn refuses_malformed_key_sets() {
        let p = party(Alg::ES256, "c1");
        let token = sign(&p, &[], true);
        for bad in ["", "[]", "{}", r#"{"keys":{}}"#] {
            assert!(
                matches!(
                    verify_with_jwks(&token, bad, &Alg::ALL),
                    Err(KeyError::Crypto(_))
                ),
                "{bad}"
            );
        }
        // A key without its public members.
        let mut broken = p.jwk.clone();
        broken.remove("y");
        assert!(verify_with_jwks(&token, &jwks(&[&broken]), &Alg::ALL).is_err());
        // A private member is ignored, not used.
        let full: Map<String, Value> = ES256
            .key_pair_from_pem(&p.pem)
            .unwrap()
            .to_jwk_key_pair()
            .into();
        let mut with_d = full;
        with_d.insert("kid".into(), "c1".into());
        assert_eq!(
            verify_with_jwks(&token, &jwks(&[&with_d]), &Alg::ALL).unwrap(),
            claims()
        );
    }
}
