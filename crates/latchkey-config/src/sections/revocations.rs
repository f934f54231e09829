//! `[revocations]`: the in-memory revocation mirror each instance keeps.

use serde::Deserialize;

use crate::error::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Revocations {
    /// How often the mirror catches up with the database (milliseconds).
    pub sync_interval_ms: u64,
    /// How long the mirror may go without a successful sync before checks
    /// go to the database instead (seconds).
    pub max_staleness_secs: i64,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            sync_interval_ms: 1000,
            max_staleness_secs: 5,
        }
    }
}

impl Revocations {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.sync_interval_ms < 50 {
            return Err(invalid(
                "revocations.sync_interval_ms",
                "must be at least 50 milliseconds",
            ));
        }
        if self.max_staleness_secs < 1 {
            return Err(invalid(
                "revocations.max_staleness_secs",
                "must be at least 1 second",
            ));
        }
        Ok(())
    }
}
