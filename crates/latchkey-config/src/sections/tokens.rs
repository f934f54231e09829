//! `[tokens]`: how long what Latchkey issues lives. Seconds throughout.

use serde::Deserialize;

use super::{within, DAY};
use crate::error::ConfigError;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Tokens {
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    /// At most 600 seconds.
    pub code_ttl: i64,
    /// How long a browser session lasts after sign-in.
    pub session_ttl: i64,
    /// `aud` of access tokens; defaults to the issuer.
    pub access_token_audience: Option<String>,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            access_token_ttl: 300,
            id_token_ttl: 600,
            code_ttl: 60,
            session_ttl: 12 * 3600,
            access_token_audience: None,
        }
    }
}

impl Tokens {
    pub fn validate(&self) -> Result<(), ConfigError> {
        within(
            "tokens.code_ttl",
            self.code_ttl,
            1..=600,
            "must be between 1 and 600 seconds",
        )?;
        within(
            "tokens.access_token_ttl",
            self.access_token_ttl,
            10..=DAY,
            "must be between 10 and 86400 seconds",
        )?;
        within(
            "tokens.id_token_ttl",
            self.id_token_ttl,
            10..=DAY,
            "must be between 10 and 86400 seconds",
        )?;
        within(
            "tokens.session_ttl",
            self.session_ttl,
            60..=30 * DAY,
            "must be between 60 seconds and 30 days",
        )
    }

    /// The longest a token Latchkey signs (access or ID token) lives.
    pub fn longest_signed(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}
