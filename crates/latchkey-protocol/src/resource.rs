//! Resource indicators (RFC 8707): the protected resources a client names
//! with `resource` at `/authorize`, `/par` and `/token`, which become the
//! access token's audience.

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;

/// The longest resource URI accepted.
const MAX_LEN: usize = 512;

/// How many resources one request may name.
const MAX_RESOURCES: usize = 10;

/// A resource indicator: an absolute URI without a fragment (RFC 8707 §2),
/// kept exactly as written (it is compared byte for byte).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource(String);

impl Resource {
    pub fn parse(s: &str) -> Result<Resource, OAuthError> {
        let invalid = |why: &str| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("resource must be an absolute URI without a fragment ({why})"),
            )
        };
        if s.len() > MAX_LEN {
            return Err(invalid("too long"));
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid("it contains white space or control characters"));
        }
        let url = url::Url::parse(s).map_err(|_| invalid("not an absolute URI"))?;
        if url.fragment().is_some() || s.contains('#') {
            return Err(invalid("it has a fragment"));
        }
        Ok(Resource(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resources a request or a grant names: a set, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources(Vec<Resource>);

impl Resources {
    /// Every `resource` parameter of a request.
    pub fn from_params(params: &Params) -> Result<Resources, OAuthError> {
        Resources::from_texts(params.get_all("resource"))
    }

    pub fn from_texts<'a>(
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Resources, OAuthError> {
        let mut out: Vec<Resource> = Vec::new();
        for t in texts {
            let r = Resource::parse(t)?;
            if !out.contains(&r) {
                out.push(r);
            }
            if out.len() > MAX_RESOURCES {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    format!("at most {MAX_RESOURCES} resources per request"),
                ));
            }
        }
        Ok(Resources(out))
    }

    /// The stored form: space separated (a resource URI has no spaces).
    pub fn from_stored(s: &str) -> Result<Resources, OAuthError> {
        Resources::from_texts(s.split(' ').filter(|t| !t.is_empty()))
    }

    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(Resource::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.0.iter()
    }

    pub fn contains(&self, r: &Resource) -> bool {
        self.0.contains(r)
    }

    /// The first of these not in `other`, if any.
    pub fn first_outside(&self, other: &Resources) -> Option<&Resource> {
        self.0.iter().find(|r| !other.contains(r))
    }

    /// The access token audience these resources give: the resources, or
    /// `default` (Latchkey's own) when none was named.
    pub fn audience(&self, default: &str) -> Audience {
        match self.0.as_slice() {
            [] => Audience::One(default.to_owned()),
            [one] => Audience::One(one.0.clone()),
            many => Audience::Many(many.iter().map(|r| r.0.clone()).collect()),
        }
    }
}

/// A JWT's `aud` (RFC 7519 §4.1.3): one string, or several.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(list) => list.iter().any(|a| a == aud),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let list: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(list) => list,
        };
        list.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_absolute_uris_without_fragments() {
        for good in [
            "https://api.example.com",
            "https://api.example.com/v1?x=1",
            "urn:example:api",
        ] {
            assert_eq!(Resource::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "api",
            "/v1",
            "https://api.example.com/#f",
            "https://a b",
            "",
            &"h".repeat(600),
        ] {
            assert_eq!(
                Resource::parse(bad).unwrap_err().code,
                ErrorCode::InvalidTarget,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_request_names_a_set_and_its_audience() {
        let p = Params::from_pairs([
            ("resource", "https://b.example"),
            ("resource", "https://a.example"),
            ("resource", "https://b.example"),
        ])
        .unwrap();
        let r = Resources::from_params(&p).unwrap();
        assert_eq!(r.to_stored(), "https://b.example https://a.example");
        assert_eq!(Resources::from_stored(&r.to_stored()).unwrap(), r);
        assert_eq!(
            r.audience("https://issuer"),
            Audience::Many(vec!["https://b.example".into(), "https://a.example".into()])
        );
        assert_eq!(
            Resources::default().audience("https://issuer"),
            Audience::One("https://issuer".into())
        );
        let one = Resources::from_texts(["https://a.example"]).unwrap();
        assert_eq!(one.first_outside(&r), None);
        assert!(r.first_outside(&one).is_some());
        let json = serde_json::to_string(&r.audience("x")).unwrap();
        assert_eq!(json, r#"["https://b.example","https://a.example"]"#);
        let back: Audience = serde_json::from_str(r#""https://a.example""#).unwrap();
        assert!(back.contains("https://a.example"));
        let many: String = (0..11).map(|i| format!("resource=urn:r:{i}&")).collect();
        assert!(Resources::from_params(&Params::parse(many.as_bytes()).unwrap()).is_err());
    }
}
