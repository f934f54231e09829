//! The token request (RFC 6749 §4.1.3, §4.4.2, §6) as an enum of grants, and
//! the token response (§5.1).

use serde::Serialize;

use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::pkce::CodeVerifier;
use crate::types::Scope;
use crate::vocabulary::GrantType;

/// An opaque secret value (authorization code, refresh token) that must
/// never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Opaque(String);

impl Opaque {
    pub fn parse(s: &str, what: &'static str) -> Result<Opaque, OAuthError> {
        if s.len() > 512 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OAuthError::invalid_request(format!("malformed {what}")));
        }
        Ok(Opaque(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
pub enum TokenRequest {
    AuthorizationCode {
        code: Opaque,
        redirect_uri: String,
        /// Required unless the code was issued without a challenge, which
        /// only a client with optional PKCE can obtain: whether it must be
        /// here is decided against the code (RFC 9700 §2.1.1).
        code_verifier: Option<CodeVerifier>,
    },
    ClientCredentials {
        scope: Option<Scope>,
    },
    RefreshToken {
        refresh_token: Opaque,
        scope: Option<Scope>,
    },
    /// A device polling for the user's answer (RFC 8628 §3.4).
    DeviceCode {
        device_code: Opaque,
    },
}

/// A token request's form: the grant, and the resources (RFC 8707) the
/// access token is to be for, whatever the grant.
#[derive(Debug, Clone)]
pub struct TokenForm {
    pub grant: TokenRequest,
    pub resources: crate::resource::Resources,
}

impl TokenForm {
    pub fn parse(params: &Params) -> Result<TokenForm, OAuthError> {
        Ok(TokenForm {
            grant: TokenRequest::parse(params)?,
            resources: crate::resource::Resources::from_params(params)?,
        })
    }
}

impl TokenRequest {
    pub fn parse(params: &Params) -> Result<TokenRequest, OAuthError> {
        let scope = params.get("scope").map(Scope::parse).transpose()?;
        let grant = GrantType::parse(params.require("grant_type")?).map_err(|_| {
            OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            )
        })?;
        match grant {
            GrantType::AuthorizationCode => Ok(TokenRequest::AuthorizationCode {
                code: Opaque::parse(params.require("code")?, "code")?,
                redirect_uri: params.require("redirect_uri")?.to_owned(),
                code_verifier: params
                    .get("code_verifier")
                    .map(CodeVerifier::parse)
                    .transpose()?,
            }),
            GrantType::ClientCredentials => Ok(TokenRequest::ClientCredentials { scope }),
            GrantType::RefreshToken => Ok(TokenRequest::RefreshToken {
                refresh_token: Opaque::parse(params.require("refresh_token")?, "refresh_token")?,
                scope,
            }),
            GrantType::DeviceCode => Ok(TokenRequest::DeviceCode {
                device_code: Opaque::parse(params.require("device_code")?, "device_code")?,
            }),
        }
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied()).unwrap()
    }

    const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn parses_each_grant() {
        let r = TokenRequest::parse(&p(&[
            ("grant_type", "authorization_code"),
            ("code", "abc"),
            ("redirect_uri", "https://a/cb"),
            ("code_verifier", V),
        ]))
        .unwrap();
        assert_eq!(r.grant_type(), GrantType::AuthorizationCode);
        let r = TokenRequest::parse(&p(&[
            ("grant_type", "client_credentials"),
            ("scope", "a b"),
        ]))
        .unwrap();
        match r {
            TokenRequest::ClientCredentials { scope } => {
                assert_eq!(scope.unwrap().to_string(), "a b")
            }
            _ => panic!("wrong grant"),
        }
        let r = TokenRequest::parse(&p(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt"),
        ]))
        .unwrap();
        assert_eq!(r.grant_type(), GrantType::RefreshToken);
        let r = TokenRequest::parse(&p(&[
            ("grant_type", GrantType::DeviceCode.as_str()),
            ("device_code", "dc"),
        ]))
        .unwrap();
        assert_eq!(r.grant_type(), GrantType::DeviceCode);
        let e =
            TokenRequest::parse(&p(&[("grant_type", GrantType::DeviceCode.as_str())])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn code_grant_requires_redirect_and_a_well_formed_verifier() {
        let r = TokenRequest::parse(&p(&[
            ("grant_type", "authorization_code"),
            ("code", "abc"),
            ("redirect_uri", "https://a/cb"),
        ]))
        .unwrap();
        assert!(matches!(
            r,
            TokenRequest::AuthorizationCode {
                code_verifier: None,
                ..
            }
        ));
        let e = TokenRequest::parse(&p(&[
            ("grant_type", "authorization_code"),
            ("code", "abc"),
            ("redirect_uri", "https://a/cb"),
            ("code_verifier", "short"),
        ]))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = TokenRequest::parse(&p(&[
            ("grant_type", "authorization_code"),
            ("code", "abc"),
            ("code_verifier", V),
        ]))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn unknown_or_missing_grant() {
        for g in [
            "password",
            "implicit",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "device_code",
        ] {
            assert_eq!(
                TokenRequest::parse(&p(&[("grant_type", g)]))
                    .unwrap_err()
                    .code,
                ErrorCode::UnsupportedGrantType
            );
        }
        assert_eq!(
            TokenRequest::parse(&p(&[])).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let r = TokenRequest::parse(&p(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "topsecret"),
        ]))
        .unwrap();
        assert!(!format!("{r:?}").contains("topsecret"));
    }
}
