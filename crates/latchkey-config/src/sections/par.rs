//! `[par]`: pushed authorization requests (RFC 9126).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Par {
    /// Every client must push its authorization requests
    /// (`LATCHKEY_PAR__REQUIRED=true`; discovery's
    /// `require_pushed_authorization_requests`). Per client:
    /// `latchkey client update ID --require-par true`.
    pub required: bool,
}
