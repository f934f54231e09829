//! `[account]`: what signed-in users may do on their own account pages.

use latchkey_protocol::profile::EditableClaims;
use latchkey_protocol::user_claims::UserClaim;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Account {
    /// The standard claims users may edit on `/account/profile`
    /// (`LATCHKEY_ACCOUNT__EDITABLE_CLAIMS=name,nickname,locale`). By
    /// default the name claims, picture, website, gender, birthdate,
    /// zoneinfo and locale; `email`, `phone_number` and `address` may be
    /// added; the `*_verified` flags never. Empty: nobody edits.
    #[serde(deserialize_with = "editable_claims")]
    pub editable_claims: EditableClaims,
}

/// A list of settable claim names (`["name", "locale"]` or
/// `name,locale`), none of them a `*_verified` flag.
fn editable_claims<'de, D: Deserializer<'de>>(d: D) -> Result<EditableClaims, D::Error> {
    let claims = super::parsed_list(
        d,
        |name| UserClaim::parse(name).ok(),
        |bad| {
            format!(
                "{bad:?} is not a claim users can edit (one of: {})",
                EditableClaims::candidates()
                    .map(UserClaim::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    )?;
    EditableClaims::new(claims).map_err(serde::de::Error::custom)
}
