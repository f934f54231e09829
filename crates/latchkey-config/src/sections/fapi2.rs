//! `[fapi2]`: the FAPI 2.0 Security Profile for every client.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Fapi2 {
    /// Every client follows the FAPI 2.0 Security Profile
    /// (`LATCHKEY_FAPI2__REQUIRED=true`): pushed requests, DPoP-bound
    /// tokens, `private_key_jwt` with PS256, ES256 or EdDSA. Per client:
    /// `latchkey client update ID --fapi2 true` or the admin API.
    pub required: bool,
}
