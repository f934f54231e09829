//! `[dpop]`: proof-of-possession tokens (RFC 9449).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Dpop {
    /// Proofs must carry a nonce of Latchkey's (`DPoP-Nonce`, RFC 9449
    /// §8–9), so a proof made ahead of time is worthless. On by default;
    /// `LATCHKEY_DPOP__REQUIRE_NONCE=false` accepts proofs without one
    /// (their `iat` and single-use `jti` still hold).
    pub require_nonce: bool,
}

impl Default for Dpop {
    fn default() -> Dpop {
        Dpop {
            require_nonce: true,
        }
    }
}
