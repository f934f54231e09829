//! Pushed authorization requests (RFC 9126) and the signed request objects
//! (RFC 9101, JAR) Latchkey accepts at the pushed authorization request
//! endpoint only.
//!
//! A client posts its authorization request to the endpoint, authenticated
//! like at `/token`; Latchkey checks it with the rules of `/authorize` and
//! answers with a `request_uri` that names it. The browser then carries
//! only `client_id` and that reference, used once, within a minute.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::types::ClientId;

/// RFC 9126 §2.2: the prefix of every `request_uri` Latchkey hands out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may wait for its browser, in seconds.
pub const REQUEST_URI_TTL: i64 = 60;

/// The parameters that authenticate a client at the endpoint: they belong
/// to the push, never to the authorization request it stores.
const CLIENT_AUTH_PARAMS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// The registered claims of a request object (RFC 9101 §4, RFC 7519 §4.1),
/// checked by the caller and not part of the authorization request.
const REQUEST_OBJECT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// A reference to a pushed request, as `/authorize` receives it:
/// `urn:ietf:params:oauth:request_uri:` and an opaque value Latchkey made.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestUri(String);

impl std::fmt::Debug for RequestUri {
    // The reference is a bearer credential for the request until used.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestUri(..)")
    }
}

impl RequestUri {
    /// The reference for a random value of Latchkey's (URL-safe base64).
    pub fn new(reference: &str) -> RequestUri {
        RequestUri(format!("{REQUEST_URI_PREFIX}{reference}"))
    }

    pub fn parse(s: &str) -> Result<RequestUri, OAuthError> {
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "request_uri is not one this server issued",
            )
        };
        let reference = s.strip_prefix(REQUEST_URI_PREFIX).ok_or_else(invalid)?;
        let well_formed = (16..=128).contains(&reference.len())
            && reference
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(invalid());
        }
        Ok(RequestUri(s.to_owned()))
    }

    /// The whole URN, as the client sends it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The opaque value after the prefix (what Latchkey stores a hash of).
    pub fn reference(&self) -> &str {
        &self.0[REQUEST_URI_PREFIX.len()..]
    }
}

/// RFC 9126 §2.2: the endpoint's answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushedResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

/// What `/authorize` received, before anything is looked up.
#[derive(Debug, Clone)]
pub enum AuthorizeInput {
    /// The request in the query or form itself.
    Plain(Params),
    /// A reference to a pushed request (a `request_uri` with Latchkey's
    /// prefix), with the `client_id` it must be for (RFC 9126 §4). Every
    /// other parameter is ignored: only what was pushed, authenticated and
    /// checked counts. Any other `request_uri` (OIDC Core §6.2, a URL of
    /// the client's) stays in a plain request, which refuses it.
    Pushed {
        client_id: ClientId,
        request_uri: RequestUri,
    },
}

impl AuthorizeInput {
    pub fn read(params: Params) -> Result<AuthorizeInput, OAuthError> {
        let Some(uri) = params
            .get("request_uri")
            .filter(|u| u.starts_with(REQUEST_URI_PREFIX))
        else {
            return Ok(AuthorizeInput::Plain(params));
        };
        let request_uri = RequestUri::parse(uri)?;
        let client_id = ClientId::parse(params.get("client_id").ok_or_else(|| {
            OAuthError::invalid_request("client_id is required with request_uri")
        })?)?;
        Ok(AuthorizeInput::Pushed {
            client_id,
            request_uri,
        })
    }
}

/// The authorization request a push carries: the form without the client's
/// credentials. `client_id`, if the form names one, must be the
/// authenticated client's (RFC 9126 §2.1); it is set to it either way.
/// `request_uri` may not be pushed (RFC 9126 §2.1). A signed `request`
/// object is returned for the caller to verify, and the request then comes
/// from its claims alone ([`request_object_params`]).
pub fn pushed_params(params: &Params, client: &ClientId) -> Result<Pushed, OAuthError> {
    if params.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    if params
        .get("client_id")
        .is_some_and(|c| c != client.as_str())
    {
        return Err(OAuthError::invalid_request(
            "client_id is not the authenticated client",
        ));
    }
    if let Some(object) = params.get("request") {
        let outside: Vec<&str> = params
            .iter()
            .map(|(k, _)| k)
            .filter(|k| *k != "request" && *k != "client_id" && !CLIENT_AUTH_PARAMS.contains(k))
            .collect();
        if !outside.is_empty() {
            return Err(OAuthError::invalid_request(format!(
                "with a request object, every parameter must be inside it; found outside: {}",
                outside.join(", ")
            )));
        }
        return Ok(Pushed::Signed(object.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !CLIENT_AUTH_PARAMS.contains(k) && *k != "client_id")
        .chain([("client_id", client.as_str())])
        .collect();
    Ok(Pushed::Params(Params::from_pairs(pairs)?))
}

/// A push: the request's parameters, or a request object to verify first.
#[derive(Debug, Clone)]
pub enum Pushed {
    Params(Params),
    Signed(String),
}

/// The authorization request inside a verified request object's claims
/// (RFC 9101 §4): `client_id` must be the client's, the registered JWT
/// claims are dropped, strings are taken as they are, numbers (`max_age`)
/// as their text and objects (`claims`) as their JSON. Anything else is
/// refused.
pub fn request_object_params(
    claims: &Map<String, Value>,
    client: &ClientId,
) -> Result<Params, OAuthError> {
    let invalid = |d: String| OAuthError::new(ErrorCode::InvalidRequestObject, d);
    match claims.get("client_id") {
        Some(Value::String(c)) if c == client.as_str() => {}
        _ => {
            return Err(invalid(
                "the request object's client_id is not the client's".into(),
            ))
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in claims {
        if REQUEST_OBJECT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        if name == "request" || name == "request_uri" {
            return Err(invalid(format!(
                "`{name}` cannot be inside a request object"
            )));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Object(_) => value.to_string(),
            // RFC 8707 §2: several resources, as an array of strings.
            Value::Array(list) if name == "resource" => {
                for r in list {
                    let r = r.as_str().ok_or_else(|| {
                        invalid("request object member `resource` holds a non-string".into())
                    })?;
                    pairs.push((name.clone(), r.to_owned()));
                }
                continue;
            }
            _ => {
                return Err(invalid(format!(
                    "request object member `{name}` is not a string, number or object"
                )))
            }
        };
        pairs.push((name.clone(), text));
    }
    Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| invalid(e.description.map(|d| d.into_owned()).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientId {
        ClientId::parse("app").unwrap()
    }

    #[test]
    fn request_uris_are_urns_of_a_bounded_reference() {
        let uri = RequestUri::new("abcdefghijklmnopqrstuv");
        assert_eq!(
            RequestUri::parse(uri.as_str()).unwrap().reference(),
            "abcdefghijklmnopqrstuv"
        );
        for bad in [
            "https://client.example/request.jwt",
            "urn:ietf:params:oauth:request_uri:short",
            "urn:ietf:params:oauth:request_uri:has spaces in the reference",
            "urn:ietf:params:oauth:request_uri:",
        ] {
            assert_eq!(
                RequestUri::parse(bad).unwrap_err().code,
                ErrorCode::InvalidRequestUri,
                "{bad}"
            );
        }
        assert_eq!(format!("{uri:?}"), "RequestUri(..)");
    }

    #[test]
    fn authorize_reads_a_reference_with_its_client_only() {
        let p = Params::from_pairs([
            ("client_id", "app"),
            (
                "request_uri",
                RequestUri::new("abcdefghijklmnopqrst").as_str(),
            ),
            ("scope", "ignored"),
        ])
        .unwrap();
        assert!(matches!(
            AuthorizeInput::read(p).unwrap(),
            AuthorizeInput::Pushed { .. }
        ));
        let p = Params::from_pairs([(
            "request_uri",
            "urn:ietf:params:oauth:request_uri:abcdefghijklmnopqrst",
        )])
        .unwrap();
        assert_eq!(
            AuthorizeInput::read(p).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        for plain in [
            vec![("client_id", "app"), ("scope", "openid")],
            vec![
                ("client_id", "app"),
                ("request_uri", "https://rp.example/r.jwt"),
            ],
        ] {
            let p = Params::from_pairs(plain).unwrap();
            assert!(matches!(
                AuthorizeInput::read(p).unwrap(),
                AuthorizeInput::Plain(_)
            ));
        }
    }

    #[test]
    fn a_push_drops_credentials_and_keeps_the_request() {
        let p = Params::from_pairs([("client_secret", "s"), ("scope", "openid"), ("state", "x")])
            .unwrap();
        let Pushed::Params(kept) = pushed_params(&p, &client()).unwrap() else {
            panic!("not a request object")
        };
        assert_eq!(kept.get("client_secret"), None);
        assert_eq!(kept.get("client_id"), Some("app"));
        assert_eq!(kept.get("state"), Some("x"));
    }

    #[test]
    fn a_push_refuses_another_client_or_a_nested_reference() {
        let p = Params::from_pairs([("client_id", "other"), ("scope", "openid")]).unwrap();
        assert!(pushed_params(&p, &client()).is_err());
        let p = Params::from_pairs([("request_uri", "urn:x")]).unwrap();
        assert!(pushed_params(&p, &client()).is_err());
        let p = Params::from_pairs([("request", "a.b.c"), ("scope", "openid")]).unwrap();
        assert!(pushed_params(&p, &client()).is_err());
        let p = Params::from_pairs([("request", "a.b.c"), ("client_id", "app")]).unwrap();
        assert!(matches!(
            pushed_params(&p, &client()).unwrap(),
            Pushed::Signed(_)
        ));
    }

    #[test]
    fn request_object_claims_become_parameters() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "iss": "app", "aud": "https://issuer", "exp": 1, "nbf": 0, "jti": "j",
            "client_id": "app", "scope": "openid", "max_age": 300,
            "claims": {"userinfo": {"email": null}}
        }))
        .unwrap();
        let p = request_object_params(&claims, &client()).unwrap();
        assert_eq!(p.get("max_age"), Some("300"));
        assert_eq!(p.get("scope"), Some("openid"));
        assert_eq!(p.get("iss"), None);
        assert!(p.get("claims").unwrap().contains("userinfo"));
        let mut other = claims.clone();
        other.insert("client_id".into(), "evil".into());
        assert_eq!(
            request_object_params(&other, &client()).unwrap_err().code,
            ErrorCode::InvalidRequestObject
        );
        let mut nested = claims.clone();
        nested.insert("request_uri".into(), "urn:x".into());
        assert!(request_object_params(&nested, &client()).is_err());
        let mut list = claims;
        list.insert("scope".into(), serde_json::json!(["openid"]));
        assert!(request_object_params(&list, &client()).is_err());
    }
}
