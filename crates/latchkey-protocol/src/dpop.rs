//! DPoP (RFC 9449): the rules a proof's claims must meet once its signature
//! has been checked with the key in its own header (the JOSE adapter does
//! that, and computes the key's thumbprint).
//!
//! - `htm` is the request's method and `htu` the endpoint's URL, compared
//!   without query or fragment (§4.3);
//! - `iat` is recent: at most [`PROOF_MAX_AGE`] seconds old and not ahead
//!   of the clock by more than the skew allowed (§11.1);
//! - `jti` is present and bounded; the caller refuses one seen before;
//! - `ath` is the access token's hash where a token is presented (§4.3);
//! - `nonce`, where the server asks for one, is checked by the caller.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, OAuthError};
use crate::sha256_b64url;

/// The `typ` header of a proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// The token type of an access token bound to a key (RFC 9449 §5).
pub const TOKEN_TYPE: &str = "DPoP";

/// How old a proof's `iat` may be, in seconds. A proof's `jti` is
/// remembered this long (plus the skew), so a replay inside the window is
/// caught and one outside it is refused by its age.
pub const PROOF_MAX_AGE: i64 = 120;

/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// RFC 7638 thumbprint of a proof key, base64url SHA-256 (the `jkt`
/// of `cnf` and of `dpop_jkt`).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Jkt(String);

impl std::fmt::Debug for Jkt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jkt({})", self.0)
    }
}

impl std::fmt::Display for Jkt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Jkt {
    /// A thumbprint as sent in `dpop_jkt` or stored: 43 base64url
    /// characters (a SHA-256 digest).
    pub fn parse(s: &str) -> Result<Jkt, OAuthError> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(OAuthError::invalid_request(
                "dpop_jkt is not a base64url SHA-256 JWK thumbprint",
            ));
        }
        Ok(Jkt(s.to_owned()))
    }

    /// The thumbprint of the canonical JSON of a key's required members
    /// (RFC 7638 §3), which the JOSE adapter builds.
    pub fn of_canonical_jwk(canonical: &str) -> Jkt {
        Jkt(sha256_b64url(canonical.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The endpoint's URL as the issuer names it (no query).
    pub url: &'a str,
    /// The access token presented with the proof, if any.
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// Allowed clock difference, in seconds.
    pub skew: i64,
}

/// A proof's claims after the checks of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofClaims {
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

impl ProofClaims {
    /// Until when the proof's `jti` must be remembered: the first second
    /// at which [`check_proof`] refuses the proof for its age. A record
    /// that counts as expired at that second (`expires_at <= now`) never
    /// lets a proof through twice.
    pub fn remember_until(&self, skew: i64) -> i64 {
        self.iat + PROOF_MAX_AGE + skew
    }
}

fn invalid(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, d)
}

/// Checks a verified proof's claims against the request.
pub fn check_proof(
    claims: &Map<String, Value>,
    target: &ProofTarget<'_>,
) -> Result<ProofClaims, OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = match text("jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI => j.to_owned(),
        _ => return Err(invalid("the proof has no usable jti")),
    };
    if text("htm") != Some(target.method) {
        return Err(invalid("the proof's htm is not this request's method"));
    }
    let htu = text("htu").ok_or_else(|| invalid("the proof has no htu"))?;
    if !same_resource(htu, target.url) {
        return Err(invalid("the proof's htu is not this endpoint"));
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.floor() as i64))
            .ok_or_else(|| invalid("the proof's iat is not a time"))?,
        _ => return Err(invalid("the proof has no iat")),
    };
    if iat > target.now + target.skew {
        return Err(invalid("the proof was issued in the future"));
    }
    // Too old from the second its `jti` record may expire on.
    if target.now >= iat + PROOF_MAX_AGE + target.skew {
        return Err(invalid("the proof is too old"));
    }
    match (target.access_token, text("ath")) {
        (Some(token), Some(ath)) if ath == sha256_b64url(token.as_bytes()) => {}
        (Some(_), Some(_)) => return Err(invalid("the proof's ath is not the token's hash")),
        (Some(_), None) => return Err(invalid("the proof has no ath for the token")),
        (None, _) => {}
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) if n.len() <= 256 => Some(n.clone()),
        Some(_) => return Err(invalid("the proof's nonce is malformed")),
    };
    Ok(ProofClaims { jti, iat, nonce })
}

/// RFC 9449 §4.3: `htu` names the endpoint, ignoring query and fragment;
/// scheme and host compare without case, a default port equals none.
fn same_resource(htu: &str, endpoint: &str) -> bool {
    let strip = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    match (strip(htu), strip(endpoint)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://issuer.example/token";

    fn target(token: Option<&str>) -> ProofTarget<'_> {
        ProofTarget {
            method: "POST",
            url: URL,
            access_token: token,
            now: 1_000_000,
            skew: 5,
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = serde_json::json!({
            "jti": "j1", "htm": "POST", "htu": URL, "iat": 1_000_000
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base.as_object().unwrap().clone()
    }

    #[test]
    fn a_fresh_proof_for_this_request_passes() {
        let c = check_proof(&claims(serde_json::json!({})), &target(None)).unwrap();
        assert_eq!(c.jti, "j1");
        assert_eq!(c.remember_until(5), 1_000_000 + PROOF_MAX_AGE + 5);
        // The last second a proof passes is the last second its record is
        // kept: at `remember_until` it is refused for its age.
        let oldest = serde_json::json!({"iat": 1_000_000 - PROOF_MAX_AGE - 4});
        let c = check_proof(&claims(oldest), &target(None)).unwrap();
        assert!(c.remember_until(5) > 1_000_000);
        // Query and fragment, host case and a default port do not matter.
        for htu in [
            "https://ISSUER.example/token?x=1",
            "https://issuer.example:443/token#f",
        ] {
            assert!(check_proof(&claims(serde_json::json!({ "htu": htu })), &target(None)).is_ok());
        }
    }

    #[test]
    fn the_wrong_request_or_time_is_refused() {
        for bad in [
            serde_json::json!({"htm": "GET"}),
            serde_json::json!({"htu": "https://issuer.example/userinfo"}),
            serde_json::json!({"htu": "http://issuer.example/token"}),
            serde_json::json!({"htu": "not a url"}),
            serde_json::json!({"jti": ""}),
            serde_json::json!({"iat": 1_000_000 + 6}),
            serde_json::json!({"iat": 1_000_000 - PROOF_MAX_AGE - 6}),
            serde_json::json!({"iat": 1_000_000 - PROOF_MAX_AGE - 5}),
            serde_json::json!({"iat": "now"}),
            serde_json::json!({"nonce": 7}),
        ] {
            let e = check_proof(&claims(bad.clone()), &target(None)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDpopProof, "{bad}");
        }
        let mut no_jti = claims(serde_json::json!({}));
        no_jti.remove("jti");
        assert!(check_proof(&no_jti, &target(None)).is_err());
    }

    #[test]
    fn a_token_needs_its_own_hash() {
        let ath = sha256_b64url(b"tok");
        let good = claims(serde_json::json!({ "ath": ath }));
        assert!(check_proof(&good, &target(Some("tok"))).is_ok());
        assert!(check_proof(&good, &target(Some("other"))).is_err());
        assert!(check_proof(&claims(serde_json::json!({})), &target(Some("tok"))).is_err());
    }

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key.
        let canonical = r#"{"e":"AQAB","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
        assert_eq!(
            Jkt::of_canonical_jwk(canonical).as_str(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert!(Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs").is_ok());
        assert!(Jkt::parse("short").is_err());
    }
}
