//! PKCE (RFC 7636), S256 only: `plain` lets an attacker who sees the
//! authorization request redeem the code, so Latchkey refuses it.

use subtle::ConstantTimeEq;

use crate::error::OAuthError;

/// A `code_challenge` for method S256: the base64url SHA-256 of a verifier,
/// so exactly 43 base64url characters.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` together. A missing
    /// method means `plain` (RFC 7636 §4.3) and is refused like `plain`.
    pub fn parse(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<CodeChallenge, OAuthError> {
        let challenge = challenge.ok_or_else(|| {
            OAuthError::invalid_request("code_challenge is required (PKCE with S256)")
        })?;
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256; plain is not allowed",
                ))
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "unsupported code_challenge_method",
                ))
            }
        }
        let ok = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(OAuthError::invalid_request(
                "code_challenge must be 43 base64url characters (S256)",
            ));
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    /// Rebuilds a challenge read back from storage.
    pub fn from_stored(s: String) -> CodeChallenge {
        CodeChallenge(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` hashes to this challenge.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        let computed = crate::sha256_b64url(verifier.0.as_bytes());
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A `code_verifier` (RFC 7636 §4.1): 43 to 128 unreserved characters.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(<redacted>)")
    }
}

impl CodeVerifier {
    /// The S256 challenge this verifier answers.
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(crate::sha256_b64url(self.0.as_bytes()))
    }

    pub fn parse(s: &str) -> Result<CodeVerifier, OAuthError> {
        let ok = (43..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !ok {
            return Err(OAuthError::invalid_request(
                "code_verifier must be 43-128 unreserved characters",
            ));
        }
        Ok(CodeVerifier(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_verifies() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(c.verify(&CodeVerifier::parse(VERIFIER).unwrap()));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!c.verify(&other));
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(CodeChallenge::parse(Some(CHALLENGE), Some("plain")).is_err());
        assert!(CodeChallenge::parse(Some(CHALLENGE), None).is_err());
        assert!(CodeChallenge::parse(Some(CHALLENGE), Some("S512")).is_err());
        assert!(CodeChallenge::parse(None, Some("S256")).is_err());
    }

    #[test]
    fn malformed_challenge_is_refused() {
        assert!(CodeChallenge::parse(Some("short"), Some("S256")).is_err());
        let bad = format!("{}=", &CHALLENGE[..42]);
        assert!(CodeChallenge::parse(Some(&bad), Some("S256")).is_err());
    }

    #[test]
    fn verifier_rules() {
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
        assert!(CodeVerifier::parse(&"a~._-".repeat(10)).is_ok());
        assert!(!format!("{:?}", CodeVerifier::parse(VERIFIER).unwrap()).contains("dBj"));
    }
}
