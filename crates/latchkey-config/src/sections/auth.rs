//! `[auth]`: how users must sign in.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// Every sign-in needs a second factor (`LATCHKEY_AUTH__REQUIRE_MFA=true`):
    /// users without one enrol an authenticator app after their password.
    /// Per client: `latchkey client update ID --require-mfa`.
    pub require_mfa: bool,
}
