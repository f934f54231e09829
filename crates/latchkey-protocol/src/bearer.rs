//! RFC 6750 §2.1: the access token in the `Authorization` header, the only
//! place Latchkey accepts it.

use crate::error::{ErrorCode, OAuthError};

/// Extracts the token from an `Authorization: Bearer <token>` value.
pub fn parse_bearer(header: &str) -> Result<&str, OAuthError> {
    match parse_access_token(header)? {
        (TokenScheme::Bearer, token) => Ok(token),
        (TokenScheme::Dpop, _) => Err(malformed()),
    }
}

/// How an access token was presented: `Bearer` (RFC 6750) or `DPoP` (RFC
/// 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    Bearer,
    Dpop,
}

fn malformed() -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, "malformed Authorization header")
}

/// Extracts the token and its scheme from an `Authorization: Bearer
/// <token>` or `Authorization: DPoP <token>` value.
pub fn parse_access_token(header: &str) -> Result<(TokenScheme, &str), OAuthError> {
    let invalid = malformed;
    let (scheme, token) = header.split_once(' ').ok_or_else(invalid)?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        TokenScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        TokenScheme::Dpop
    } else {
        return Err(invalid());
    };
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && token.len() <= 8192
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if !ok {
        return Err(invalid());
    }
    Ok((scheme, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_b64token() {
        assert_eq!(parse_bearer("Bearer abc.def-ghi").unwrap(), "abc.def-ghi");
        assert_eq!(parse_bearer("bearer x==").unwrap(), "x==");
    }

    #[test]
    fn refuses_other_shapes() {
        for h in [
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer ==",
            "Token abc",
        ] {
            assert!(parse_bearer(h).is_err(), "{h}");
        }
    }
}
