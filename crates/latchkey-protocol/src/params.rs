//! Form and query parameters, parsed once with the rules of RFC 6749 §3.1
//! and §3.2: a parameter sent twice is an error, a parameter sent without a
//! value is treated as absent. The one exception is `resource`, which RFC
//! 8707 §2 lets a client repeat, once per resource it names.

use std::collections::BTreeMap;

use crate::error::OAuthError;

/// More parameters than any Latchkey endpoint takes; beyond this the request
/// is refused rather than parsed.
pub const MAX_PARAMS: usize = 64;
/// The longest value any parameter may carry.
pub const MAX_VALUE_LEN: usize = 4096;

/// The parameters that may be repeated, each value kept in order.
const REPEATABLE: [&str; 1] = ["resource"];

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// Every name has at least one value; only [`REPEATABLE`] names more.
    map: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Debug for Params {
    // Values may be codes, verifiers or secrets: only names reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a body or a query
    /// string without its `?`). A parameter with an empty value is absent
    /// (RFC 6749 §3.1).
    pub fn parse(input: &[u8]) -> Result<Params, OAuthError> {
        Params::parse_with(input, false)
    }

    /// Parses an HTML form whose empty fields mean something (an empty
    /// profile field clears the claim): they are kept, with the value "".
    pub fn parse_keeping_empty(input: &[u8]) -> Result<Params, OAuthError> {
        Params::parse_with(input, true)
    }

    fn parse_with(input: &[u8], keep_empty: bool) -> Result<Params, OAuthError> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for (count, (name, value)) in url::form_urlencoded::parse(input).enumerate() {
            if count >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if name.is_empty() {
                continue;
            }
            if value.len() > MAX_VALUE_LEN {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{}` is too long",
                    truncate_name(&name)
                )));
            }
            if !seen.insert(name.to_string()) && !REPEATABLE.contains(&name.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{}` is repeated",
                    truncate_name(&name)
                )));
            }
            if keep_empty || !value.is_empty() {
                map.entry(name.into_owned())
                    .or_default()
                    .push(value.into_owned());
            }
        }
        Ok(Params { map })
    }

    /// The parameter's value (the first, for a repeatable one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a repeatable parameter, in order.
    pub fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.map.get(name).into_iter().flatten().map(String::as_str)
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Every name and value; a repeated parameter once per value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    /// Builds parameters from pairs (tests and internal re-parsing).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Params, OAuthError> {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Params::parse(encoded.as_bytes())
    }

    /// Re-encodes the parameters as a query string.
    pub fn to_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.iter())
            .finish()
    }
}

fn truncate_name(name: &str) -> String {
    name.chars()
        .take(40)
        .filter(|c| c.is_ascii_graphic())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"a=1&b=hello+world&c=%2F").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("hello world"));
        assert_eq!(p.get("c"), Some("/"));
        assert_eq!(p.get("d"), None);
    }

    #[test]
    fn repeated_parameter_is_refused() {
        let e = Params::parse(b"state=a&state=b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.unwrap().contains("state"));
        // Even when one of them is empty.
        assert!(Params::parse(b"state=&state=b").is_err());
    }

    #[test]
    fn resource_may_repeat_and_keeps_its_order() {
        let p =
            Params::parse(b"resource=https%3A%2F%2Fb&scope=x&resource=https%3A%2F%2Fa").unwrap();
        assert_eq!(
            p.get_all("resource").collect::<Vec<_>>(),
            ["https://b", "https://a"]
        );
        assert_eq!(p.get("resource"), Some("https://b"));
        assert_eq!(Params::parse(p.to_query().as_bytes()).unwrap(), p);
        assert_eq!(p.get_all("scope").count(), 1);
        assert_eq!(p.get_all("missing").count(), 0);
    }

    #[test]
    fn empty_value_is_absent() {
        let p = Params::parse(b"scope=&state=x").unwrap();
        assert_eq!(p.get("scope"), None);
        assert!(p.require("scope").is_err());
    }

    #[test]
    fn a_form_may_keep_its_empty_fields() {
        let p = Params::parse_keeping_empty(b"name=&nickname=al").unwrap();
        assert_eq!(p.get("name"), Some(""));
        assert_eq!(p.get("nickname"), Some("al"));
        assert!(Params::parse_keeping_empty(b"name=&name=x").is_err());
    }

    #[test]
    fn too_many_or_too_long_is_refused() {
        let many: String = (0..100).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::parse(many.as_bytes()).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let p = Params::parse(b"code=supersecret").unwrap();
        assert!(!format!("{p:?}").contains("supersecret"));
    }

    #[test]
    fn round_trips_through_query() {
        let p = Params::from_pairs([("a", "x y"), ("b", "&=")]).unwrap();
        assert_eq!(Params::parse(p.to_query().as_bytes()).unwrap(), p);
    }
}
