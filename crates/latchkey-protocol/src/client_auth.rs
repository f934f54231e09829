//! How a client says who it is at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3, RFC 7523 §2.2). Exactly one method per request.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::types::ClientId;
use crate::vocabulary::ClientAuthMethod;

/// A client secret as presented; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(s: String) -> ClientSecret {
        ClientSecret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone)]
pub enum ClientAuthentication {
    /// `client_secret_basic`.
    Basic {
        client_id: ClientId,
        secret: ClientSecret,
    },
    /// `client_secret_post`.
    Post {
        client_id: ClientId,
        secret: ClientSecret,
    },
    /// `none`: a public client names itself.
    None { client_id: ClientId },
    /// `private_key_jwt`.
    JwtAssertion {
        client_id: Option<ClientId>,
        assertion: String,
    },
}

impl ClientAuthentication {
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. }
            | ClientAuthentication::None { client_id } => Some(client_id),
            ClientAuthentication::JwtAssertion { client_id, .. } => client_id.as_ref(),
        }
    }

    pub fn method(&self) -> ClientAuthMethod {
        match self {
            ClientAuthentication::Basic { .. } => ClientAuthMethod::ClientSecretBasic,
            ClientAuthentication::Post { .. } => ClientAuthMethod::ClientSecretPost,
            ClientAuthentication::None { .. } => ClientAuthMethod::None,
            ClientAuthentication::JwtAssertion { .. } => ClientAuthMethod::PrivateKeyJwt,
        }
    }

    /// Reads the client's credentials from the `Authorization` header value
    /// (if any) and the form parameters.
    pub fn parse(
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<ClientAuthentication, OAuthError> {
        let basic = authorization.map(parse_basic).transpose()?;
        let body_secret = params.get("client_secret");
        let assertion = params.get("client_assertion");
        let body_id = params.get("client_id").map(ClientId::parse).transpose()?;

        let methods =
            basic.is_some() as u8 + body_secret.is_some() as u8 + assertion.is_some() as u8;
        if methods > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method was used",
            ));
        }
        if let Some((client_id, secret)) = basic {
            if body_id.as_ref().is_some_and(|b| *b != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the credentials",
                ));
            }
            return Ok(ClientAuthentication::Basic { client_id, secret });
        }
        if let Some(assertion) = assertion {
            if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
                return Err(OAuthError::invalid_request(
                    "unsupported client_assertion_type",
                ));
            }
            return Ok(ClientAuthentication::JwtAssertion {
                client_id: body_id,
                assertion: assertion.to_owned(),
            });
        }
        let client_id = body_id.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication is required",
            )
        })?;
        Ok(match body_secret {
            Some(s) => ClientAuthentication::Post {
                client_id,
                secret: ClientSecret(s.to_owned()),
            },
            None => ClientAuthentication::None { client_id },
        })
    }
}

/// The `sub` of a client assertion, read *without* verifying it: only to
/// find which client's keys to verify it with when the request names no
/// `client_id` (RFC 7523 §3). Every claim is checked again after the
/// signature.
pub fn assertion_subject(assertion: &str) -> Option<ClientId> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = assertion.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ClientId::parse(claims.get("sub")?.as_str()?).ok()
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(header: &str) -> Result<(ClientId, ClientSecret), OAuthError> {
    let bad = || OAuthError::new(ErrorCode::InvalidClient, "malformed Basic credentials");
    let (scheme, rest) = header.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "unsupported authorization scheme at this endpoint",
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id).ok_or_else(bad)?;
    let secret = form_decode(secret).ok_or_else(bad)?;
    let client_id = ClientId::parse(&id).map_err(|_| bad())?;
    Ok((client_id, ClientSecret(secret)))
}

fn form_decode(s: &str) -> Option<String> {
    // Decode as a single form value: `+` is a space, `%XX` an octet.
    let wrapped = format!("v={s}");
    url::form_urlencoded::parse(wrapped.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_urldecoded() {
        let p = Params::default();
        let a = ClientAuthentication::parse(Some(&basic("my%20app", "s%3Acret")), &p);
        // A client id with a space is malformed.
        assert!(a.is_err());
        let a = ClientAuthentication::parse(Some(&basic("app", "s%3Acret+x")), &p).unwrap();
        match a {
            ClientAuthentication::Basic { client_id, secret } => {
                assert_eq!(client_id.as_str(), "app");
                assert_eq!(secret.expose(), "s:cret x");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn post_and_none() {
        let p = Params::from_pairs([("client_id", "app"), ("client_secret", "x")]).unwrap();
        assert_eq!(
            ClientAuthentication::parse(None, &p).unwrap().method(),
            ClientAuthMethod::ClientSecretPost
        );
        let p = Params::from_pairs([("client_id", "app")]).unwrap();
        assert_eq!(
            ClientAuthentication::parse(None, &p).unwrap().method(),
            ClientAuthMethod::None
        );
    }

    #[test]
    fn two_methods_are_refused() {
        let p = Params::from_pairs([("client_id", "app"), ("client_secret", "x")]).unwrap();
        let e = ClientAuthentication::parse(Some(&basic("app", "x")), &p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn mismatched_body_client_id_is_refused() {
        let p = Params::from_pairs([("client_id", "other")]).unwrap();
        assert!(ClientAuthentication::parse(Some(&basic("app", "x")), &p).is_err());
    }

    #[test]
    fn no_credentials_is_invalid_client() {
        let e = ClientAuthentication::parse(None, &Params::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        let p = Params::default();
        for h in [
            "Basic !!!",
            "Basic",
            "Bearer abc",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let e = ClientAuthentication::parse(Some(h), &p).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{h}");
        }
    }

    #[test]
    fn assertion_type_is_checked() {
        let p = Params::from_pairs([
            ("client_assertion", "a.b.c"),
            ("client_assertion_type", "x"),
        ])
        .unwrap();
        assert!(ClientAuthentication::parse(None, &p).is_err());
        let p = Params::from_pairs([
            ("client_assertion", "a.b.c"),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
        ])
        .unwrap();
        assert_eq!(
            ClientAuthentication::parse(None, &p).unwrap().method(),
            ClientAuthMethod::PrivateKeyJwt
        );
    }

    #[test]
    fn assertion_subject_reads_sub_unverified() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"client-1","iss":"client-1"}"#);
        let a = format!("eyJhbGciOiJFUzI1NiJ9.{payload}.sig");
        assert_eq!(assertion_subject(&a).unwrap().as_str(), "client-1");
        for bad in ["", "a.b.c", "x", "a.e30.c"] {
            assert!(assertion_subject(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn secret_never_debug_prints() {
        let p = Params::from_pairs([("client_id", "app"), ("client_secret", "hunter2")]).unwrap();
        let a = ClientAuthentication::parse(None, &p).unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
