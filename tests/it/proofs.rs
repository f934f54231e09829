//! Keys a client holds for DPoP proofs (RFC 9449) and signed request
//! objects (RFC 9101), made and signed with OpenSSL directly: an
//! independent implementation of what Latchkey verifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// An ES256 (P-256) key pair.
pub struct EcKeyPair {
    key: EcKey<Private>,
    x: String,
    y: String,
    pub kid: String,
}

impl EcKeyPair {
    pub fn new(kid: &str) -> EcKeyPair {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let point = key
            .public_key()
            .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();
        // 0x04 || X (32 bytes) || Y (32 bytes)
        EcKeyPair {
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            key,
            kid: kid.into(),
        }
    }

    /// The public JWK (no `kid`: as a DPoP proof's header carries it).
    pub fn public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y})
    }

    /// The public JWK as a client registers it.
    pub fn registered_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
               "kid": self.kid, "alg": "ES256", "use": "sig"})
    }

    /// RFC 7638 thumbprint, computed here independently of Latchkey.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            self.x, self.y
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// An ES256 JWS with this header and these claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let digest = Sha256::digest(input.as_bytes());
        let sig = EcdsaSig::sign(&digest, &self.key).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// A DPoP proof for `method` at `url`, with a fresh `jti`.
    pub fn proof(&self, method: &str, url: &str, iat: i64, nonce: Option<&str>) -> String {
        self.proof_with(method, url, iat, nonce, None)
    }

    /// A DPoP proof carrying `ath` for `token`.
    pub fn proof_for_token(
        &self,
        method: &str,
        url: &str,
        iat: i64,
        nonce: Option<&str>,
        token: &str,
    ) -> String {
        self.proof_with(method, url, iat, nonce, Some(token))
    }

    fn proof_with(
        &self,
        method: &str,
        url: &str,
        iat: i64,
        nonce: Option<&str>,
        token: Option<&str>,
    ) -> String {
        let mut claims = json!({
            "jti": random_jti(),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
        }
        self.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}),
            &claims,
        )
    }
}

pub fn random_jti() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).unwrap();
    URL_SAFE_NO_PAD.encode(b)
}

/// The header of a JWT, read without checking it.
pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// The claims of a JWT, read without checking it (the test's own view).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
