//! The OAuth 2.0 Device Authorization Grant (RFC 8628) on the wire: the
//! device authorization request and response (§3.1, §3.2) and the user
//! code people type on another device (§6.1).

use serde::Serialize;

use crate::error::OAuthError;
use crate::params::Params;
use crate::types::Scope;

/// The user code's alphabet (RFC 8628 §6.1): twenty consonants, no
/// vowels (no words), no letters that look like digits or each other.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code (about 34.6 bits of entropy).
pub const USER_CODE_LEN: usize = 8;

/// A user code, as its eight letters (upper case, no separator). It is
/// shown as `XXXX-XXXX`; what a user types is read with [`UserCode::parse`],
/// which forgives case, dashes and spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A code from eight indices into the alphabet (each taken modulo 20;
    /// the caller draws them uniformly).
    pub fn from_indices(indices: [u8; USER_CODE_LEN]) -> UserCode {
        UserCode(
            indices
                .iter()
                .map(|&i| USER_CODE_ALPHABET[usize::from(i) % USER_CODE_ALPHABET.len()] as char)
                .collect(),
        )
    }

    /// What a user typed: letters of the alphabet in either case, with any
    /// dashes and spaces (RFC 8628 §6.1). `None` for anything else, so a
    /// malformed code is refused before any lookup.
    pub fn parse(typed: &str) -> Option<UserCode> {
        if typed.len() > 64 {
            return None;
        }
        let mut code = String::with_capacity(USER_CODE_LEN);
        for c in typed.chars() {
            match c {
                '-' | ' ' | '\t' => continue,
                c if c.is_ascii_alphabetic() => {
                    let upper = c.to_ascii_uppercase();
                    if !USER_CODE_ALPHABET.contains(&(upper as u8)) {
                        return None;
                    }
                    code.push(upper);
                }
                _ => return None,
            }
        }
        (code.len() == USER_CODE_LEN).then_some(UserCode(code))
    }

    /// The eight letters, as stored (keyed-hashed) and compared.
    pub fn normalized(&self) -> &str {
        &self.0
    }

    /// `XXXX-XXXX`, as shown to the user.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(<redacted>)")
    }
}

/// `POST /device_authorization` (RFC 8628 §3.1): the scope asked for;
/// the client's credentials are read like the token endpoint's.
#[derive(Debug, Clone)]
pub struct DeviceAuthorizationRequest {
    /// None: the client's whole allowed scope.
    pub scope: Option<Scope>,
}

impl DeviceAuthorizationRequest {
    pub fn parse(params: &Params) -> Result<DeviceAuthorizationRequest, OAuthError> {
        Ok(DeviceAuthorizationRequest {
            scope: params.get("scope").map(Scope::parse).transpose()?,
        })
    }
}

/// RFC 8628 §3.2 device authorization response.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_forgive_case_dashes_and_spaces() {
        let code = UserCode::from_indices([0, 1, 2, 3, 4, 5, 6, 19]);
        assert_eq!(code.normalized(), "BCDFGHJZ");
        assert_eq!(code.display(), "BCDF-GHJZ");
        for typed in [
            "BCDF-GHJZ",
            "bcdf-ghjz",
            "bcdf ghjz",
            " BcDf - gHjZ ",
            "BCDFGHJZ",
        ] {
            assert_eq!(UserCode::parse(typed), Some(code.clone()), "{typed:?}");
        }
    }

    #[test]
    fn anything_else_is_refused_before_a_lookup() {
        for typed in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJZB",
            "BCDF-GHJA",
            "BCDF-GHJ1",
            "BCDF_GHJZ",
            "BCDF-GHJ\u{17F}",
            "ＢCDF-GHJZ",
        ] {
            assert_eq!(UserCode::parse(typed), None, "{typed:?}");
        }
        assert_eq!(UserCode::parse(&"-".repeat(100)), None);
    }

    #[test]
    fn indices_wrap_into_the_alphabet() {
        assert_eq!(
            UserCode::from_indices([20, 21, 39, 40, 0, 0, 0, 0]).normalized(),
            "BCZBBBBB"
        );
    }

    #[test]
    fn codes_do_not_debug_print() {
        let code = UserCode::from_indices([1; 8]);
        assert!(!format!("{code:?}").contains("CCCC"));
    }
}
