//! DPoP proofs (RFC 9449) as a client makes them: an ES256 key of its own,
//! proofs signed with OpenSSL directly (not with the server's code), a
//! fresh `jti` in each.
//!
//! Signing a proof costs the client about as much as checking it costs the
//! server, and both would share the same cores. So a scenario signs a pool
//! of proofs before its timed window ([`ProofPool`]), and the generator only
//! hands them out; the pool is sized from the ES256 verification ceiling
//! (no server can check proofs faster than the machine verifies ES256), and
//! any proof needed beyond it is signed on the spot and counted.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use hyper::header::HeaderValue;
use latchkey_domain::{Clock, OsRandom, Random, SystemClock};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An upper bound on a pool, whatever the ceiling says (about 600 bytes
/// each).
const MAX_POOL: usize = 400_000;

/// A client's ES256 (P-256) key for DPoP proofs.
pub struct ProofKey {
    key: EcKey<Private>,
    /// The proof header, base64url: `typ`, `alg` and the public `jwk`.
    header: String,
    /// RFC 7638 thumbprint of the public key, worked out here.
    pub thumbprint: String,
}

impl ProofKey {
    pub fn new() -> anyhow::Result<ProofKey> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = EcKey::generate(&group)?;
        let mut ctx = BigNumContext::new()?;
        let point =
            key.public_key()
                .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)?;
        // 0x04 || X (32 bytes) || Y (32 bytes)
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let header = json!({
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y},
        });
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        Ok(ProofKey {
            key,
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
        })
    }

    /// A proof for `target` issued now, with a fresh `jti`.
    pub fn proof_now(&self, target: &ProofTarget) -> anyhow::Result<String> {
        self.proof(target, now())
    }

    /// A proof for `target` issued at `iat`, with a fresh `jti`.
    pub fn proof(&self, target: &ProofTarget, iat: i64) -> anyhow::Result<String> {
        let mut jti = [0u8; 16];
        OsRandom.fill(&mut jti);
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": target.htm,
            "htu": target.htu,
            "iat": iat,
        });
        if let Some(n) = &target.nonce {
            claims["nonce"] = Value::from(n.as_str());
        }
        if let Some(a) = &target.ath {
            claims["ath"] = Value::from(a.as_str());
        }
        let input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = EcdsaSig::sign(&Sha256::digest(input.as_bytes()), &self.key)?;
        let mut raw = sig.r().to_vec_padded(32)?;
        raw.extend(sig.s().to_vec_padded(32)?);
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw)))
    }
}

/// What a proof is for: the request's method and URL, the server's nonce,
/// and at a resource the access token's hash.
#[derive(Clone, Debug)]
pub struct ProofTarget {
    pub htm: String,
    pub htu: String,
    pub nonce: Option<String>,
    pub ath: Option<String>,
}

/// `ath`: base64url(SHA-256(access token)).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

fn now() -> i64 {
    SystemClock.unix()
}

/// Proofs signed ahead of a timed window, each handed out once.
pub struct ProofPool {
    key: ProofKey,
    target: ProofTarget,
    proofs: Vec<HeaderValue>,
    /// Proofs signed during the window because the pool ran out.
    late: AtomicU64,
}

impl ProofPool {
    /// Signs `count` proofs (at most [`MAX_POOL`]) on `threads` threads.
    /// Their `iat` is now: they stay valid for 120 s, far beyond a window.
    pub fn sign(
        key: ProofKey,
        target: ProofTarget,
        count: usize,
        threads: usize,
    ) -> anyhow::Result<ProofPool> {
        let count = count.min(MAX_POOL);
        let threads = threads.clamp(1, 64);
        let iat = now();
        let per = count.div_ceil(threads);
        let proofs = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|i| {
                    let (key, target) = (&key, &target);
                    let n = per.min(count.saturating_sub(i * per));
                    s.spawn(move || -> anyhow::Result<Vec<HeaderValue>> {
                        (0..n)
                            .map(|_| {
                                let p = key.proof(target, iat)?;
                                Ok(HeaderValue::from_maybe_shared(Bytes::from(p))?)
                            })
                            .collect()
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(count);
            for w in workers {
                let part = w
                    .join()
                    .map_err(|_| anyhow::anyhow!("a proof-signing thread panicked"))??;
                all.extend(part);
            }
            Ok::<_, anyhow::Error>(all)
        })
        .context("signing the DPoP proof pool")?;
        Ok(ProofPool {
            key,
            target,
            proofs,
            late: AtomicU64::new(0),
        })
    }

    /// The proof of request `n` (each `n` is asked for once).
    pub fn get(&self, n: u64) -> Option<HeaderValue> {
        if let Some(p) = usize::try_from(n).ok().and_then(|i| self.proofs.get(i)) {
            return Some(p.clone());
        }
        self.late.fetch_add(1, Ordering::Relaxed);
        let p = self.key.proof(&self.target, now()).ok()?;
        HeaderValue::from_maybe_shared(Bytes::from(p)).ok()
    }

    pub fn len(&self) -> usize {
        self.proofs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.proofs.is_empty()
    }

    /// Proofs signed during the window, after the pool ran out.
    pub fn signed_late(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use latchkey_keys::Alg;

    use super::*;

    fn part(token: &str, i: usize) -> Value {
        let seg = token.split('.').nth(i).unwrap_or_default();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn proofs_are_signed_fresh_and_name_their_target() {
        let key = ProofKey::new().unwrap();
        let target = ProofTarget {
            htm: "GET".into(),
            htu: "http://127.0.0.1:1/userinfo".into(),
            nonce: Some("n1".into()),
            ath: Some(ath("tok")),
        };
        let pool = ProofPool::sign(key, target, 5, 2).unwrap();
        assert_eq!(pool.len(), 5);
        let proofs: Vec<String> = (0..6)
            .map(|n| pool.get(n).unwrap().to_str().unwrap().to_owned())
            .collect();
        // The sixth is signed on the spot, and counted.
        assert_eq!(pool.signed_late(), 1);
        let jtis: std::collections::HashSet<_> =
            proofs.iter().map(|p| part(p, 1)["jti"].clone()).collect();
        assert_eq!(jtis.len(), 6, "a fresh jti in every proof");
        let header = part(&proofs[0], 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        let claims = part(&proofs[0], 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["nonce"], "n1");
        // RFC 9449 §4.2: ath is base64url(SHA-256(token)).
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok"))
        );
        // The signature verifies with the header's own key.
        let jwk = &header["jwk"];
        let coord = |c: &str| {
            openssl::bn::BigNum::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jwk[c].as_str().unwrap_or_default())
                    .unwrap(),
            )
            .unwrap()
        };
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let public =
            EcKey::from_public_key_affine_coordinates(&group, &coord("x"), &coord("y")).unwrap();
        let (input, sig) = proofs[3].rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let sig = EcdsaSig::from_private_components(
            openssl::bn::BigNum::from_slice(&sig[..32]).unwrap(),
            openssl::bn::BigNum::from_slice(&sig[32..]).unwrap(),
        )
        .unwrap();
        assert!(sig
            .verify(&Sha256::digest(input.as_bytes()), &public)
            .unwrap());
    }

    #[test]
    fn latchkey_accepts_the_proofs_and_agrees_on_the_thumbprint() {
        let key = ProofKey::new().unwrap();
        let thumbprint = key.thumbprint.clone();
        let target = ProofTarget {
            htm: "POST".into(),
            htu: "http://127.0.0.1:1/token".into(),
            nonce: None,
            ath: None,
        };
        let pool = ProofPool::sign(key, target, 1, 1).unwrap();
        let proof = pool.get(0).unwrap();
        let (claims, jkt) =
            latchkey_keys::verify_dpop_proof(proof.to_str().unwrap(), &[Alg::ES256]).unwrap();
        assert_eq!(jkt.as_str(), thumbprint);
        assert_eq!(claims["htu"], "http://127.0.0.1:1/token");
        assert!(claims.get("nonce").is_none());
        assert_eq!(pool.signed_late(), 0);
    }
}
