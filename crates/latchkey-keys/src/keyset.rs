//! The in-memory key set: the signer of the current key, a verifier per
//! published key, and the JWKS document, all built once per key-set change.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsHeader, JwsSigner, JwsVerifier};
use josekit::JoseError;
use latchkey_domain::keys::{
    KeyError, KeyState, PublishedJwks, SignedJwt, SigningAlg, SigningKeyRecord, TokenSigner,
};
use latchkey_domain::Kid;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::generate::{crypto, public_jwk_from_pem, signer_from_pem, verifier_from_jwk, Alg};
use crate::kek::Kek;

/// Every published key, ready to sign or verify. Cloning is cheap.
#[derive(Clone)]
pub struct KeySet {
    inner: Arc<Inner>,
}

struct Inner {
    /// The current key of each algorithm that may sign, in preference order:
    /// the first signs by default.
    signing: Vec<SigningKey>,
    /// `None`: every algorithm may sign (a set built without a policy).
    enabled: Option<Vec<Alg>>,
    verifiers: HashMap<String, (Alg, Box<dyn JwsVerifier>)>,
    algs: Vec<&'static str>,
    jwks: PublishedJwks,
}

struct SigningKey {
    kid: String,
    alg: Alg,
    signer: Box<dyn JwsSigner>,
    /// `kid` already set; only `typ` is added per token.
    header: JwsHeader,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&str> = self.inner.verifiers.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signing_kid())
            .field("published_kids", &kids)
            .finish()
    }
}

impl KeySet {
    /// Decrypts every published key and prepares its verifier; the `Current`
    /// key with the latest `activates_at` becomes the default signer, and
    /// each algorithm's latest `Current` key signs for that algorithm.
    ///
    /// Each verifier and JWKS entry is derived from the decrypted private key
    /// and checked against the stored public JWK: the database alone cannot
    /// slip in a key whose private half the KEK never sealed.
    pub fn from_records(records: &[SigningKeyRecord], kek: &Kek) -> Result<KeySet, KeyError> {
        Self::build(records, kek, None)
    }

    /// As [`KeySet::from_records`], but only the `enabled` algorithms sign,
    /// and the first of them that has a current key signs by default. Keys
    /// of other algorithms still verify while they are published.
    pub fn for_algorithms(
        records: &[SigningKeyRecord],
        kek: &Kek,
        enabled: &[Alg],
    ) -> Result<KeySet, KeyError> {
        Self::build(records, kek, Some(enabled))
    }

    fn build(
        records: &[SigningKeyRecord],
        kek: &Kek,
        enabled: Option<&[Alg]>,
    ) -> Result<KeySet, KeyError> {
        let mut published: Vec<&SigningKeyRecord> =
            records.iter().filter(|r| r.state.is_published()).collect();
        // Signing key first (latest Current), then newest first, kid as tiebreak.
        published.sort_by(|a, b| {
            let current = |r: &SigningKeyRecord| r.state == KeyState::Current;
            (current(b), b.activates_at, &b.kid).cmp(&(current(a), a.activates_at, &a.kid))
        });

        let may_sign = |alg: Alg| enabled.is_none_or(|e| e.contains(&alg));
        let mut signing: Vec<SigningKey> = Vec::new();
        let mut verifiers = HashMap::with_capacity(published.len());
        let mut algs: Vec<&'static str> = Vec::new();
        let mut jwks = Vec::with_capacity(published.len());
        for record in published {
            let kid = record.kid.as_str();
            let alg = record.alg;
            let pem = kek
                .decrypt(&record.encrypted_private_key, kid.as_bytes())
                .map_err(|e| crypto(&format!("key {kid}"), e))?;
            let jwk = public_jwk_from_pem(alg, kid, &pem)?;
            let stored: Map<String, Value> = serde_json::from_str(&record.public_jwk)
                .map_err(|e| crypto(&format!("key {kid}: stored public JWK"), e))?;
            if stored != jwk {
                return Err(KeyError::Crypto(format!(
                    "key {kid}: the stored public JWK does not match its private key"
                )));
            }
            if record.state == KeyState::Current
                && may_sign(alg)
                && !signing.iter().any(|k| k.alg == alg)
            {
                let mut header = JwsHeader::new();
                header.set_key_id(kid);
                signing.push(SigningKey {
                    kid: kid.to_owned(),
                    alg,
                    signer: signer_from_pem(alg, kid, &pem)?,
                    header,
                });
            }
            let verifier = verifier_from_jwk(alg, kid, &jwk)?;
            if verifiers.insert(kid.to_owned(), (alg, verifier)).is_some() {
                return Err(KeyError::Crypto(format!("key id {kid} appears twice")));
            }
            if !algs.contains(&alg.as_str()) {
                algs.push(alg.as_str());
            }
            jwks.push(Value::Object(jwk));
        }

        if let Some(order) = enabled {
            // Stable: keys of one algorithm keep their newest-first order.
            signing.sort_by_key(|k| order.iter().position(|&a| a == k.alg));
        }

        let body = serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
            .map_err(|e| crypto("serialising the JWKS", e))?;
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
        Ok(KeySet {
            inner: Arc::new(Inner {
                signing,
                enabled: enabled.map(<[Alg]>::to_vec),
                verifiers,
                algs,
                jwks: PublishedJwks {
                    body: body.into(),
                    etag,
                },
            }),
        })
    }

    /// The key that signs by default.
    pub fn signing_kid(&self) -> Option<&str> {
        self.inner.signing.first().map(|k| k.kid.as_str())
    }

    /// The key that signs for `alg`.
    pub fn signing_kid_for(&self, alg: Alg) -> Option<&str> {
        self.signing_key(alg).map(|k| k.kid.as_str())
    }

    fn signing_key(&self, alg: Alg) -> Option<&SigningKey> {
        self.inner.signing.iter().find(|k| k.alg == alg)
    }
}

fn sign_with_key(
    key: &SigningKey,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<SignedJwt, KeyError> {
    let mut header = key.header.clone();
    header.set_token_type(typ);
    let payload = serde_json::to_vec(claims).map_err(|e| crypto("serialising claims", e))?;
    let token = josekit::jws::serialize_compact(&payload, &header, key.signer.as_ref())
        .map_err(|e| crypto("signing", e))?;
    Ok(SignedJwt {
        token,
        alg: key.alg,
        kid: Kid::new(key.kid.clone()),
    })
}

/// Header members whose meaning Latchkey does not implement. RFC 7515
/// §4.1.11: a JWS naming extensions in `crit` that the recipient does not
/// understand must be refused (this covers RFC 7797 unencoded payloads).
pub(crate) fn refuse_critical(header: &Map<String, Value>) -> Result<(), KeyError> {
    if header.contains_key("crit") || header.contains_key("b64") {
        return Err(KeyError::Malformed(
            "critical header extensions are not supported".into(),
        ));
    }
    Ok(())
}

/// The header's `alg`; `none` (in any case) is refused here, before any key
/// is looked at.
pub(crate) fn header_alg(header: &Map<String, Value>) -> Result<&str, KeyError> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            Err(KeyError::AlgorithmRefused(alg.clone()))
        }
        Some(Value::String(alg)) => Ok(alg),
        _ => Err(KeyError::Malformed("header has no alg".into())),
    }
}

/// Checks the signature with the chosen verifier and returns the payload as
/// a JSON object.
pub(crate) fn verified_claims(
    token: &str,
    verifier: &dyn JwsVerifier,
) -> Result<Map<String, Value>, KeyError> {
    let (payload, _) = josekit::jws::deserialize_compact(token, verifier).map_err(|e| match e {
        JoseError::InvalidSignature(_) => KeyError::BadSignature,
        other => KeyError::Malformed(other.to_string()),
    })?;
    serde_json::from_slice(&payload)
        .map_err(|e| KeyError::Malformed(format!("payload is not a JSON object: {e}")))
}

/// The JOSE header, decoded only to choose a key; nothing in it is trusted.
pub(crate) fn decode_header(token: &str) -> Result<Map<String, Value>, KeyError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|e| KeyError::Malformed(format!("header is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| KeyError::Malformed(format!("header is not a JSON object: {e}")))
}

/// `typ` values compare case-insensitively, with or without `application/`
/// (RFC 7515 §4.1.9).
fn same_typ(found: &str, expected: &str) -> bool {
    fn bare(s: &str) -> &str {
        match s.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &s[12..],
            _ => s,
        }
    }
    bare(found).eq_ignore_ascii_case(bare(expected))
}

impl TokenSigner for KeySet {
    fn sign(&self, typ: &str, claims: &Map<String, Value>) -> Result<SignedJwt, KeyError> {
        let key = self.inner.signing.first().ok_or(KeyError::NoSigningKey)?;
        sign_with_key(key, typ, claims)
    }

    fn sign_with(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<SignedJwt, KeyError> {
        if self
            .inner
            .enabled
            .as_ref()
            .is_some_and(|enabled| !enabled.contains(&alg))
        {
            return Err(KeyError::AlgorithmRefused(alg.as_str().to_owned()));
        }
        let key = self.signing_key(alg).ok_or(KeyError::NoSigningKey)?;
        sign_with_key(key, typ, claims)
    }

    /// RFC 8725: the key is chosen by `kid` among our own keys only, and the
    /// header's `alg` must be that key's algorithm. `jku`, `x5u`, `jwk` and
    /// `x5c` are never looked at.
    fn verify(
        &self,
        token: &str,
        expected_typ: Option<&str>,
    ) -> Result<Map<String, Value>, KeyError> {
        let header = decode_header(token)?;
        let alg = header_alg(&header)?;
        refuse_critical(&header)?;
        let kid = match header.get("kid") {
            Some(Value::String(kid)) => kid.as_str(),
            Some(_) => return Err(KeyError::Malformed("kid is not a string".into())),
            None => return Err(KeyError::UnknownKid(String::new())),
        };
        let (key_alg, verifier) = self
            .inner
            .verifiers
            .get(kid)
            .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
        if alg != key_alg.as_str() {
            return Err(KeyError::AlgorithmRefused(alg.to_owned()));
        }
        if let Some(expected) = expected_typ {
            let found = header.get("typ").and_then(Value::as_str);
            if !found.is_some_and(|found| same_typ(found, expected)) {
                return Err(KeyError::WrongType {
                    expected: expected.to_owned(),
                    found: found.map(str::to_owned),
                });
            }
        }
        verified_claims(token, verifier.as_ref())
    }

    /// Falls back to RS256, the algorithm OpenID Connect requires, while no
    /// key is current (only during first start-up or a broken rotation).
    fn signing_alg(&self) -> &'static str {
        self.inner
            .signing
            .first()
            .map_or(Alg::RS256.as_str(), |k| k.alg.as_str())
    }

    fn published_algs(&self) -> Vec<&'static str> {
        self.inner.algs.clone()
    }

    fn jwks(&self) -> PublishedJwks {
        self.inner.jwks.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use josekit::jwk::KeyPair;
    use josekit::jws::{HS256, RS256};

    use super::*;
    use crate::generate::seal_new_key;

    fn kek() -> Kek {
        Kek::from_bytes([5; 32])
    }

    fn seal(alg: Alg, kid: &str, activates_at: i64, state: KeyState) -> SigningKeyRecord {
        seal_new_key(&kek(), alg, Kid::new(kid), 0, activates_at, state).unwrap()
    }

    /// RSA generation is slow in debug builds; share one record per alg.
    fn record(alg: Alg) -> &'static SigningKeyRecord {
        static KEYS: OnceLock<Vec<SigningKeyRecord>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            Alg::ALL
                .iter()
                .map(|&alg| {
                    seal(
                        alg,
                        &format!("kid-{}", alg.as_str()),
                        100,
                        KeyState::Current,
                    )
                })
                .collect()
        });
        &keys[Alg::ALL.iter().position(|&a| a == alg).unwrap()]
    }

    fn set_of(records: &[SigningKeyRecord]) -> KeySet {
        KeySet::from_records(records, &kek()).unwrap()
    }

    fn rs256() -> KeySet {
        set_of(&[record(Alg::RS256).clone()])
    }

    fn claims() -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("sub".into(), "alice".into());
        claims.insert("exp".into(), 2_000_000_000.into());
        claims
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn sign_then_verify_round_trips_for_every_alg() {
        for alg in Alg::ALL {
            let set = set_of(&[record(alg).clone()]);
            let signed = set.sign("at+jwt", &claims()).unwrap();
            assert_eq!(
                (signed.alg, signed.kid.as_str()),
                (alg, record(alg).kid.as_str())
            );
            let header = decode_header(&signed.token).unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], record(alg).kid.as_str());
            assert_eq!(header["typ"], "at+jwt");
            assert_eq!(set.verify(&signed.token, Some("at+jwt")).unwrap(), claims());
            assert_eq!(
                set.verify(&signed.token, Some("application/AT+JWT"))
                    .unwrap(),
                claims()
            );
            assert_eq!(set.verify(&signed.token, None).unwrap(), claims());
            assert_eq!(set.signing_alg(), alg.as_str());
        }
    }

    #[test]
    fn refuses_alg_none() {
        let set = rs256();
        let header = format!(r#"{{"alg":"none","kid":"{}"}}"#, record(Alg::RS256).kid);
        let token = format!(
            "{}.{}.",
            b64(header.as_bytes()),
            b64(br#"{"sub":"mallory"}"#)
        );
        assert!(matches!(
            set.verify(&token, None),
            Err(KeyError::AlgorithmRefused(_))
        ));
    }

    #[test]
    fn refuses_hs256_keyed_with_the_public_key() {
        let set = rs256();
        let kid = &record(Alg::RS256).kid;
        let public_jwk = record(Alg::RS256).public_jwk.as_bytes().to_vec();
        let pem = kek()
            .decrypt(
                &record(Alg::RS256).encrypted_private_key,
                kid.as_str().as_bytes(),
            )
            .unwrap();
        let public_pem = RS256.key_pair_from_pem(&pem).unwrap().to_pem_public_key();
        for secret in [public_jwk, public_pem] {
            let mut header = JwsHeader::new();
            header.set_key_id(kid.as_str());
            let signer = HS256.signer_from_bytes(&secret).unwrap();
            let token = josekit::jws::serialize_compact(b"{}", &header, &signer).unwrap();
            assert!(
                matches!(set.verify(&token, None), Err(KeyError::AlgorithmRefused(a)) if a == "HS256")
            );
        }
    }

    #[test]
    fn refuses_unknown_and_missing_kid() {
        let other = set_of(&[seal(Alg::ES256, "elsewhere", 0, KeyState::Current)]);
        let token = other.sign("JWT", &claims()).unwrap().token;
        let set = set_of(&[record(Alg::ES256).clone()]);
        assert!(
            matches!(set.verify(&token, None), Err(KeyError::UnknownKid(k)) if k == "elsewhere")
        );

        let header = b64(br#"{"alg":"ES256"}"#);
        let rest = token.split_once('.').unwrap().1;
        let token = format!("{header}.{rest}");
        assert!(matches!(
            set.verify(&token, None),
            Err(KeyError::UnknownKid(_))
        ));
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let set = set_of(&[record(Alg::EdDSA).clone()]);
        let token = set.sign("JWT", &claims()).unwrap().token;
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"mallory"}"#), parts[2]);
        assert!(matches!(
            set.verify(&forged, None),
            Err(KeyError::BadSignature)
        ));
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[0] ^= 1;
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert!(matches!(
            set.verify(&forged, None),
            Err(KeyError::BadSignature)
        ));
    }

    #[test]
    fn refuses_the_wrong_typ_and_malformed_tokens() {
        let set = set_of(&[record(Alg::ES256).clone()]);
        let token = set.sign("JWT", &claims()).unwrap().token;
        let err = set.verify(&token, Some("at+jwt")).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongType { found: Some(ref f), .. } if f == "JWT"),
            "{err}"
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.e30"] {
            assert!(
                matches!(set.verify(bad, None), Err(KeyError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn ignores_keys_embedded_in_the_header() {
        let set = rs256();
        let attacker = RS256.generate_key_pair(2048).unwrap();
        let signer = RS256
            .signer_from_pem(attacker.to_pem_private_key())
            .unwrap();
        let attacker_jwk = Value::Object(attacker.to_jwk_public_key().into());
        for kid in [record(Alg::RS256).kid.as_str(), "attacker"] {
            let mut header = JwsHeader::new();
            header.set_key_id(kid);
            header.set_claim("jwk", Some(attacker_jwk.clone())).unwrap();
            header
                .set_claim("jku", Some("https://attacker.example/jwks".into()))
                .unwrap();
            let token = josekit::jws::serialize_compact(b"{}", &header, &signer).unwrap();
            let err = set.verify(&token, None).unwrap_err();
            assert!(
                matches!(err, KeyError::BadSignature | KeyError::UnknownKid(_)),
                "{err}"
            );
        }
    }

    #[test]
    fn jwks_publishes_exactly_the_published_keys() {
        let mut records = vec![
            record(Alg::RS256).clone(),
            seal(Alg::ES256, "next", 300, KeyState::Next),
            seal(Alg::EdDSA, "retired", 10, KeyState::Retired),
            seal(Alg::ES256, "removed", 5, KeyState::Removed),
            seal(Alg::ES256, "revoked", 6, KeyState::Revoked),
        ];
        let set = set_of(&records);
        let body: Value = serde_json::from_slice(&set.jwks().body).unwrap();
        let kids: Vec<&str> = body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [record(Alg::RS256).kid.as_str(), "next", "retired"]);
        assert_eq!(set.published_algs(), ["RS256", "ES256", "EdDSA"]);
        assert!(!String::from_utf8_lossy(&set.jwks().body).contains("\"d\""));

        // A removed key no longer verifies.
        let revoked = set_of(&[seal(Alg::ES256, "revoked", 6, KeyState::Current)]);
        let token = revoked.sign("JWT", &claims()).unwrap().token;
        assert!(matches!(
            set.verify(&token, None),
            Err(KeyError::UnknownKid(_))
        ));

        let etag = set.jwks().etag;
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 24,
            "{etag}"
        );
        assert_eq!(set_of(&records).jwks().etag, etag, "same keys, same ETag");
        records[2].state = KeyState::Removed;
        assert_ne!(set_of(&records).jwks().etag, etag);
    }

    #[test]
    fn the_latest_current_key_signs_and_retired_ones_still_verify() {
        let mut old = seal(Alg::ES256, "old", 10, KeyState::Current);
        let old_token = set_of(std::slice::from_ref(&old))
            .sign("JWT", &claims())
            .unwrap()
            .token;
        old.state = KeyState::Retired;
        let records = [
            old,
            seal(Alg::EdDSA, "new", 20, KeyState::Current),
            seal(Alg::ES256, "older", 5, KeyState::Current),
        ];
        let set = set_of(&records);
        assert_eq!(set.signing_kid(), Some("new"));
        assert_eq!(set.sign("JWT", &claims()).unwrap().kid.as_str(), "new");
        assert_eq!(set.signing_alg(), "EdDSA");
        assert_eq!(set.verify(&old_token, None).unwrap(), claims());
        let body: Value = serde_json::from_slice(&set.jwks().body).unwrap();
        assert_eq!(body["keys"][0]["kid"], "new");
    }

    #[test]
    fn no_current_key_means_no_signing() {
        let set = set_of(&[seal(Alg::ES256, "next", 10, KeyState::Next)]);
        assert!(matches!(
            set.sign("JWT", &claims()),
            Err(KeyError::NoSigningKey)
        ));
        assert!(set.signing_kid().is_none());
        let empty = set_of(&[]);
        assert!(matches!(
            empty.sign("JWT", &claims()),
            Err(KeyError::NoSigningKey)
        ));
        assert_eq!(
            serde_json::from_slice::<Value>(&empty.jwks().body).unwrap(),
            serde_json::json!({"keys": []})
        );
    }

    #[test]
    fn refuses_records_it_cannot_trust() {
        let good = seal(Alg::ES256, "k", 0, KeyState::Current);
        let wrong_kek =
            KeySet::from_records(std::slice::from_ref(&good), &Kek::from_bytes([6; 32]));
        assert!(matches!(wrong_kek, Err(KeyError::Crypto(m)) if m.contains("does not match")));

        let mut swapped = good.clone();
        swapped.public_jwk = seal(Alg::ES256, "k", 0, KeyState::Current).public_jwk;
        assert!(KeySet::from_records(&[swapped], &kek()).is_err());

        let mut moved = good.clone();
        moved.kid = Kid::new("other");
        assert!(KeySet::from_records(&[moved], &kek()).is_err());

        // Unpublished records are not even decrypted.
        let mut removed = good;
        removed.state = KeyState::Removed;
        removed.encrypted_private_key.clear();
        assert!(KeySet::from_records(&[removed], &kek()).is_ok());
    }

    #[test]
    fn each_enabled_algorithm_signs_with_its_own_current_key() {
        let records = [
            record(Alg::RS256).clone(),
            record(Alg::ES256).clone(),
            record(Alg::EdDSA).clone(),
            seal(Alg::ES256, "es-old", 50, KeyState::Current),
        ];
        let set = KeySet::for_algorithms(&records, &kek(), &[Alg::ES256, Alg::RS256]).unwrap();
        // The first enabled algorithm signs by default, with its newest key.
        assert_eq!(set.signing_alg(), "ES256");
        assert_eq!(set.signing_kid(), Some(record(Alg::ES256).kid.as_str()));
        let signed = set.sign("at+jwt", &claims()).unwrap();
        assert_eq!((signed.alg, signed.kid.as_str()), (Alg::ES256, "kid-ES256"));
        let signed = set.sign_with(Alg::RS256, "JWT", &claims()).unwrap();
        assert_eq!((signed.alg, signed.kid.as_str()), (Alg::RS256, "kid-RS256"));
        assert_eq!(set.verify(&signed.token, Some("JWT")).unwrap(), claims());
        // Published but not enabled: verifies, never signs.
        assert!(matches!(
            set.sign_with(Alg::EdDSA, "JWT", &claims()),
            Err(KeyError::AlgorithmRefused(a)) if a == "EdDSA"
        ));
        let eddsa = set_of(&[record(Alg::EdDSA).clone()])
            .sign("JWT", &claims())
            .unwrap();
        assert_eq!(set.verify(&eddsa.token, None).unwrap(), claims());
        // Enabled but without a current key.
        assert!(matches!(
            set.sign_with(Alg::PS256, "JWT", &claims()),
            Err(KeyError::AlgorithmRefused(_))
        ));
        let ps = KeySet::for_algorithms(&records, &kek(), &[Alg::PS256, Alg::RS256]).unwrap();
        assert!(matches!(
            ps.sign_with(Alg::PS256, "JWT", &claims()),
            Err(KeyError::NoSigningKey)
        ));
        // ... so the next enabled algorithm signs by default.
        assert_eq!(ps.signing_alg(), "RS256");
    }

    #[test]
    fn refuses_critical_header_extensions() {
        let set = rs256();
        let kid = &record(Alg::RS256).kid;
        let pem = kek()
            .decrypt(
                &record(Alg::RS256).encrypted_private_key,
                kid.as_str().as_bytes(),
            )
            .unwrap();
        let signer = RS256.signer_from_pem(&pem).unwrap();
        let mut header = JwsHeader::new();
        header.set_key_id(kid.as_str());
        header
            .set_claim("crit", Some(serde_json::json!(["exp"])))
            .unwrap();
        header.set_claim("exp", Some(1.into())).unwrap();
        let token = josekit::jws::serialize_compact(b"{}", &header, &signer).unwrap();
        assert!(matches!(
            set.verify(&token, None),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn keyset_is_a_thread_safe_token_signer() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<KeySet>();
        let _: Arc<dyn TokenSigner> = Arc::new(rs256());
    }
}
