//! The claim rules of RFC 8725 for every JWT that comes in (Latchkey's own
//! access tokens, `id_token_hint`, client assertions), in one place and with
//! one configurable clock skew. Signatures are checked before this, by the
//! key set or by the verifier of a client's keys; this module only reads
//! claims that are already authenticated.

use serde_json::{Map, Value};

use crate::error::CoreError;

/// What a token must say, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRules<'a> {
    /// The exact `iss`.
    pub issuer: &'a str,
    /// Acceptable `aud` values (the token's `aud`, a string or an array,
    /// must contain one of them); `None` when the caller checks the
    /// audience itself (an `id_token_hint` names the client it was for).
    pub audiences: Option<&'a [&'a str]>,
    /// Unix seconds.
    pub now: i64,
    /// Allowance for clocks that disagree, in seconds.
    pub skew: i64,
    /// Whether `exp` may be in the past (an `id_token_hint` is usually an
    /// expired ID token, OIDC RP-Initiated Logout §2). `exp` must still be
    /// present.
    pub allow_expired: bool,
    /// Whether `iat` must be present (RFC 9068 access tokens, ID tokens).
    pub require_iat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("claim {0} is missing")]
    Missing(&'static str),
    #[error("claim {0} has the wrong type")]
    Malformed(&'static str),
    #[error("foreign issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("issued in the future")]
    IssuedInFuture,
}

/// A NumericDate (RFC 7519 §2): seconds, possibly with a fraction, which
/// is dropped.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, ClaimError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(ClaimError::Malformed(name)),
        Some(_) => Err(ClaimError::Malformed(name)),
    }
}

/// Checks `iss`, `aud`, `exp`, `nbf` and `iat`.
pub fn check_claims(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<(), ClaimError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == rules.issuer => {}
        Some(Value::String(_)) => return Err(ClaimError::Issuer),
        Some(_) => return Err(ClaimError::Malformed("iss")),
        None => return Err(ClaimError::Missing("iss")),
    }
    if let Some(accepted) = rules.audiences {
        let found = match claims.get("aud") {
            Some(Value::String(aud)) => accepted.contains(&aud.as_str()),
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str().is_some_and(|a| accepted.contains(&a))),
            Some(_) => return Err(ClaimError::Malformed("aud")),
            None => return Err(ClaimError::Missing("aud")),
        };
        if !found {
            return Err(ClaimError::Audience);
        }
    }
    let now = rules.now;
    let exp = numeric_date(claims, "exp")?.ok_or(ClaimError::Missing("exp"))?;
    if !rules.allow_expired && now >= exp.saturating_add(rules.skew) {
        return Err(ClaimError::Expired);
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if nbf > now.saturating_add(rules.skew) {
            return Err(ClaimError::NotYetValid);
        }
    }
    match numeric_date(claims, "iat")? {
        Some(iat) if iat > now.saturating_add(rules.skew) => Err(ClaimError::IssuedInFuture),
        None if rules.require_iat => Err(ClaimError::Missing("iat")),
        _ => Ok(()),
    }
}

/// The claims of a token as a JSON object, for the signer. Anything else
/// is an internal error: a token is never signed with fewer claims than
/// it was built with.
pub(crate) fn to_map<T: serde::Serialize>(claims: &T) -> Result<Map<String, Value>, CoreError> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CoreError::Internal(
            "token claims are not a JSON object".into(),
        )),
        Err(e) => Err(CoreError::Internal(format!("token claims: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_that_are_not_an_object_are_never_signed() {
        assert!(to_map(&serde_json::json!({"sub": "u"})).is_ok());
        assert!(to_map(&"just a string").is_err());
        assert!(to_map(&vec![1, 2]).is_err());
        // A map with non-string keys cannot be JSON at all.
        let mut odd = std::collections::BTreeMap::new();
        odd.insert(vec![1u8], 1);
        assert!(to_map(&odd).is_err());
    }

    const NOW: i64 = 1_700_000_000;

    fn rules() -> ClaimRules<'static> {
        ClaimRules {
            issuer: "https://id.example",
            audiences: Some(&["https://id.example", "https://api.example"]),
            now: NOW,
            skew: 5,
            allow_expired: false,
            require_iat: true,
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut c = json!({
            "iss": "https://id.example",
            "aud": "https://api.example",
            "exp": NOW + 60,
            "iat": NOW,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c.as_object().unwrap().clone()
    }

    fn check(extra: Value) -> Result<(), ClaimError> {
        check_claims(&claims(extra), &rules())
    }

    #[test]
    fn a_valid_token_passes() {
        assert_eq!(check(json!({})), Ok(()));
        assert_eq!(
            check(json!({"aud": ["other", "https://id.example"]})),
            Ok(())
        );
        assert_eq!(check(json!({"nbf": NOW, "exp": NOW as f64 + 60.5})), Ok(()));
    }

    #[test]
    fn issuer_and_audience_must_match_exactly() {
        assert_eq!(
            check(json!({"iss": "https://id.example/"})),
            Err(ClaimError::Issuer)
        );
        assert_eq!(check(json!({"iss": null})), Err(ClaimError::Missing("iss")));
        assert_eq!(check(json!({"iss": 1})), Err(ClaimError::Malformed("iss")));
        assert_eq!(
            check(json!({"aud": "https://evil.example"})),
            Err(ClaimError::Audience)
        );
        assert_eq!(check(json!({"aud": ["a", "b"]})), Err(ClaimError::Audience));
        assert_eq!(check(json!({"aud": null})), Err(ClaimError::Missing("aud")));
        assert_eq!(
            check(json!({"aud": {"x": 1}})),
            Err(ClaimError::Malformed("aud"))
        );
        // The caller checks the audience itself.
        let r = ClaimRules {
            audiences: None,
            ..rules()
        };
        assert_eq!(check_claims(&claims(json!({"aud": "x"})), &r), Ok(()));
    }

    #[test]
    fn expiry_allows_exactly_the_skew() {
        assert_eq!(check(json!({"exp": NOW - 4})), Ok(()));
        assert_eq!(check(json!({"exp": NOW - 5})), Err(ClaimError::Expired));
        assert_eq!(check(json!({"exp": null})), Err(ClaimError::Missing("exp")));
        assert_eq!(
            check(json!({"exp": "tomorrow"})),
            Err(ClaimError::Malformed("exp"))
        );
        let no_skew = ClaimRules { skew: 0, ..rules() };
        assert_eq!(
            check_claims(&claims(json!({"exp": NOW})), &no_skew),
            Err(ClaimError::Expired)
        );
        // An id_token_hint may be expired, but must say when it expired.
        let hint = ClaimRules {
            allow_expired: true,
            ..rules()
        };
        assert_eq!(
            check_claims(&claims(json!({"exp": NOW - 86_400})), &hint),
            Ok(())
        );
        assert_eq!(
            check_claims(&claims(json!({"exp": null})), &hint),
            Err(ClaimError::Missing("exp"))
        );
    }

    #[test]
    fn not_before_and_issued_at_allow_exactly_the_skew() {
        assert_eq!(check(json!({"nbf": NOW + 5})), Ok(()));
        assert_eq!(check(json!({"nbf": NOW + 6})), Err(ClaimError::NotYetValid));
        assert_eq!(check(json!({"iat": NOW + 5})), Ok(()));
        assert_eq!(
            check(json!({"iat": NOW + 6})),
            Err(ClaimError::IssuedInFuture)
        );
        assert_eq!(check(json!({"iat": null})), Err(ClaimError::Missing("iat")));
        assert_eq!(
            check(json!({"iat": true})),
            Err(ClaimError::Malformed("iat"))
        );
        let optional = ClaimRules {
            require_iat: false,
            ..rules()
        };
        assert_eq!(
            check_claims(&claims(json!({"iat": null})), &optional),
            Ok(())
        );
    }
}
