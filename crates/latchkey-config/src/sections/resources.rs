//! Top-level `resources`: the protected resources (RFC 8707) every client
//! may ask tokens for.

use latchkey_protocol::resource::Resource;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Resources {
    /// Absolute URIs without fragments (`LATCHKEY_RESOURCES=https://api.example.com,https://files.example.com`).
    /// A token request naming one of these (or one the client was given
    /// with `latchkey client add|update --resource`) gets an access token
    /// whose `aud` is that resource; any other is `invalid_target`.
    #[serde(rename = "resources", deserialize_with = "resources")]
    pub allowed: Vec<Resource>,
}

fn resources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Resource>, D::Error> {
    super::parsed_list(
        d,
        |s| Resource::parse(s).ok(),
        |s| format!("resources: {s:?} is not an absolute URI without a fragment"),
    )
}
