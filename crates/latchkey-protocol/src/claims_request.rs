//! The `claims` request parameter (OIDC Core §5.5): which claims a client
//! asks for, by name, in the ID token and at UserInfo.
//!
//! The parameter is a JSON object with the optional members `userinfo` and
//! `id_token`, each an object mapping a claim name to `null` or to an
//! object with the optional members `essential` (a boolean), `value` and
//! `values` (an array). Anything else is `invalid_request`. Claim names
//! and members Latchkey does not know are kept or ignored, never refused
//! (§5.5: "Claims not understood ... MUST be ignored"); which of the named
//! claims Latchkey can release is [`ClaimsRequest::requested`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::user_claims::{ClaimNames, RequestedClaims};

/// The longest `claims` parameter Latchkey reads: below the
/// [`crate::params::MAX_VALUE_LEN`] any parameter may carry, so that an
/// oversized claims request is refused to the client, as the parameter's
/// own error, not on an error page before the client is known.
pub const MAX_CLAIMS_LEN: usize = 3072;
const _: () = assert!(MAX_CLAIMS_LEN < crate::params::MAX_VALUE_LEN);
/// The most claims one request may name, `userinfo` and `id_token`
/// together.
pub const MAX_CLAIM_ENTRIES: usize = 64;
/// The most `values` one claim may list.
pub const MAX_CLAIM_VALUES: usize = 16;

/// What the client said about one claim (§5.5.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimRequest {
    pub essential: bool,
    pub value: Option<Value>,
    pub values: Vec<Value>,
}

impl ClaimRequest {
    /// Whether the client named particular values (`value` or `values`).
    pub fn names_values(&self) -> bool {
        self.value.is_some() || !self.values.is_empty()
    }

    /// The string values named (`value`, then `values`).
    pub fn named_values(&self) -> impl Iterator<Item = &str> {
        self.value
            .iter()
            .chain(&self.values)
            .filter_map(Value::as_str)
    }

    /// Whether `v` is acceptable: any value when none were named, else one
    /// of `value` and `values`.
    pub fn accepts(&self, v: &str) -> bool {
        !self.names_values()
            || self
                .value
                .iter()
                .chain(&self.values)
                .any(|want| want.as_str() == Some(v))
    }
}

/// A parsed `claims` parameter: the claims named for each destination, by
/// name, as the client wrote them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimsRequest {
    pub userinfo: BTreeMap<String, ClaimRequest>,
    pub id_token: BTreeMap<String, ClaimRequest>,
}

fn refused(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(format!("claims: {}", why.into()))
}

impl ClaimsRequest {
    pub fn parse(s: &str) -> Result<ClaimsRequest, OAuthError> {
        if s.len() > MAX_CLAIMS_LEN {
            return Err(refused(format!("must be at most {MAX_CLAIMS_LEN} bytes")));
        }
        let Ok(Value::Object(top)) = serde_json::from_str::<Value>(s) else {
            return Err(refused("must be a JSON object"));
        };
        let mut request = ClaimsRequest::default();
        let mut entries = 0;
        for (member, into) in [
            ("userinfo", &mut request.userinfo),
            ("id_token", &mut request.id_token),
        ] {
            let Some(claims) = top.get(member) else {
                continue;
            };
            let Value::Object(claims) = claims else {
                return Err(refused(format!("{member} must be a JSON object")));
            };
            entries += claims.len();
            if entries > MAX_CLAIM_ENTRIES {
                return Err(refused(format!(
                    "at most {MAX_CLAIM_ENTRIES} claims may be requested"
                )));
            }
            for (name, ask) in claims {
                into.insert(name.clone(), Self::entry(member, name, ask)?);
            }
        }
        Ok(request)
    }

    /// One claim's entry: `null`, or an object whose known members have
    /// the right types.
    fn entry(member: &str, name: &str, ask: &Value) -> Result<ClaimRequest, OAuthError> {
        let shown: String = name.chars().take(40).filter(|c| !c.is_control()).collect();
        let bad = |what: &str| refused(format!("{member}.{shown}: {what}"));
        let ask: &Map<String, Value> = match ask {
            Value::Null => return Ok(ClaimRequest::default()),
            Value::Object(o) => o,
            _ => return Err(bad("must be null or a JSON object")),
        };
        let essential = match ask.get("essential") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("essential must be true or false")),
        };
        let values = match ask.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(v)) if v.len() <= MAX_CLAIM_VALUES => v.clone(),
            Some(Value::Array(_)) => {
                return Err(bad(&format!("at most {MAX_CLAIM_VALUES} values")))
            }
            Some(_) => return Err(bad("values must be an array")),
        };
        Ok(ClaimRequest {
            essential,
            value: ask.get("value").filter(|v| !v.is_null()).cloned(),
            values,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }

    /// The claims about the user this request names that Latchkey can
    /// release, per destination; other names are ignored.
    pub fn requested(&self) -> RequestedClaims {
        RequestedClaims {
            userinfo: ClaimNames::from_names(self.userinfo.keys().map(String::as_str)),
            id_token: ClaimNames::from_names(self.id_token.keys().map(String::as_str)),
        }
    }

    /// What the request says about the ID token's `sub`, when it names the
    /// value (§5.5.1: only that user may get a positive answer).
    pub fn id_token_sub(&self) -> Option<&ClaimRequest> {
        self.id_token.get("sub").filter(|c| c.names_values())
    }

    /// The requests for `acr` with particular values (§5.5.1.1), from the
    /// ID token's or UserInfo's claims, essential or voluntary.
    pub fn acr_requests(&self) -> impl Iterator<Item = &ClaimRequest> {
        [self.id_token.get("acr"), self.userinfo.get("acr")]
            .into_iter()
            .flatten()
            .filter(|c| c.names_values())
    }

    /// An `acr` requested as essential with particular values.
    pub fn essential_acr(&self) -> impl Iterator<Item = &ClaimRequest> {
        self.acr_requests().filter(|c| c.essential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    fn refuses(input: &str) {
        let e = ClaimsRequest::parse(input).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{input}");
        assert!(
            e.description
                .as_deref()
                .unwrap_or_default()
                .starts_with("claims"),
            "{input}: {e:?}"
        );
    }

    #[test]
    fn a_full_request_parses() {
        let r = ClaimsRequest::parse(
            &json!({
                "userinfo": {
                    "given_name": {"essential": true},
                    "email": null,
                    "picture": null,
                },
                "id_token": {
                    "auth_time": {"essential": true},
                    "acr": {"values": ["urn:mace:incommon:iap:silver"]},
                    "sub": {"value": "248289761001"},
                },
            })
            .to_string(),
        )
        .unwrap();
        assert!(r.userinfo["given_name"].essential);
        assert!(!r.userinfo["email"].essential);
        assert_eq!(r.id_token["sub"].value, Some(json!("248289761001")));
        assert!(r.id_token_sub().unwrap().accepts("248289761001"));
        assert!(!r.id_token_sub().unwrap().accepts("someone"));
        assert_eq!(r.essential_acr().count(), 0, "acr is voluntary");
        let names = r.requested();
        assert_eq!(
            names.userinfo.to_string(),
            "email email_verified given_name picture"
        );
        assert_eq!(names.id_token.to_string(), "", "no user claim but sub");
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            "",
            "not json",
            "{",
            "[]",
            "\"userinfo\"",
            "42",
            "null",
            r#"{"userinfo": []}"#,
            r#"{"userinfo": "email"}"#,
            r#"{"userinfo": null}"#,
            r#"{"id_token": 1}"#,
            r#"{"userinfo": {"email": true}}"#,
            r#"{"userinfo": {"email": "essential"}}"#,
            r#"{"userinfo": {"email": []}}"#,
            r#"{"userinfo": {"email": {"essential": "yes"}}}"#,
            r#"{"userinfo": {"email": {"essential": 1}}}"#,
            r#"{"id_token": {"acr": {"values": "urn:x"}}}"#,
            r#"{"id_token": {"acr": {"values": {"a": 1}}}}"#,
        ] {
            refuses(bad);
        }
    }

    #[test]
    fn oversized_requests_are_refused() {
        let long = format!(
            r#"{{"userinfo": {{"name": {{"value": "{}"}}}}}}"#,
            "x".repeat(MAX_CLAIMS_LEN)
        );
        refuses(&long);
        let many: Map<String, Value> = (0..=MAX_CLAIM_ENTRIES)
            .map(|i| (format!("c{i}"), Value::Null))
            .collect();
        refuses(&json!({ "userinfo": many }).to_string());
        // The cap is over both members together.
        let half: Map<String, Value> = (0..MAX_CLAIM_ENTRIES / 2 + 1)
            .map(|i| (format!("c{i}"), Value::Null))
            .collect();
        refuses(&json!({ "userinfo": half, "id_token": half }).to_string());
        let values: Vec<Value> = (0..=MAX_CLAIM_VALUES).map(|i| json!(i)).collect();
        refuses(&json!({"id_token": {"acr": {"values": values}}}).to_string());
    }

    #[test]
    fn unknown_names_and_members_are_ignored() {
        let r = ClaimsRequest::parse(
            &json!({
                "userinfo": {
                    "favourite_colour": {"essential": true},
                    "email": {"essential": true, "purpose": "to write to you"},
                    "http://example.info/claims/groups": null,
                },
                "id_token": {"groups": null, "name": {"value": "Alice"}},
                "verified_claims": {"anything": 1},
                "extra": [1, 2],
            })
            .to_string(),
        )
        .unwrap();
        assert_eq!(r.userinfo.len(), 3, "kept as written");
        let names = r.requested();
        assert_eq!(names.userinfo.to_string(), "email email_verified");
        assert_eq!(names.id_token.to_string(), "groups name");
        assert!(ClaimsRequest::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn essential_acr_needs_values() {
        let acr = |v: Value| ClaimsRequest::parse(&json!({ "id_token": { "acr": v } }).to_string());
        let r = acr(json!({"essential": true, "values": ["a", "b"]})).unwrap();
        let wanted: Vec<_> = r.essential_acr().collect();
        assert_eq!(wanted.len(), 1);
        assert!(wanted[0].accepts("b") && !wanted[0].accepts("c"));
        let r = acr(json!({"essential": true, "value": "a"})).unwrap();
        assert!(r.essential_acr().next().unwrap().accepts("a"));
        assert_eq!(
            acr(json!({"essential": true}))
                .unwrap()
                .essential_acr()
                .count(),
            0
        );
        assert_eq!(
            acr(json!({"values": ["a"]}))
                .unwrap()
                .essential_acr()
                .count(),
            0
        );
        assert_eq!(acr(Value::Null).unwrap().essential_acr().count(), 0);
    }

    #[test]
    fn a_sub_without_a_value_constrains_nothing() {
        let r = ClaimsRequest::parse(r#"{"id_token":{"sub":{"essential":true}}}"#).unwrap();
        assert!(r.id_token_sub().is_none());
        let r = ClaimsRequest::parse(r#"{"id_token":{"sub":{"values":["a","b"]}}}"#).unwrap();
        assert!(r.id_token_sub().unwrap().accepts("b"));
        // A value that is not a string matches no subject.
        let r = ClaimsRequest::parse(r#"{"id_token":{"sub":{"value":42}}}"#).unwrap();
        assert!(!r.id_token_sub().unwrap().accepts("42"));
    }
}
