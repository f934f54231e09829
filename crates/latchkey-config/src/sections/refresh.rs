//! `[refresh]`: refresh-token families. Seconds throughout.

use serde::Deserialize;

use super::{within, DAY};
use crate::error::ConfigError;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Refresh {
    /// How long a family lives however much it is used (default 30 days).
    pub family_lifetime: i64,
    /// How long a family may go unused (default 14 days).
    pub idle_timeout: i64,
    /// How long the token just rotated may be presented once more after a
    /// lost response; 0 (default) turns recovery off.
    pub recovery_window: i64,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            family_lifetime: 30 * DAY,
            idle_timeout: 14 * DAY,
            recovery_window: 0,
        }
    }
}

impl Refresh {
    pub fn validate(&self) -> Result<(), ConfigError> {
        within(
            "refresh.family_lifetime",
            self.family_lifetime,
            60..=365 * DAY,
            "must be between 60 seconds and 365 days",
        )?;
        within(
            "refresh.idle_timeout",
            self.idle_timeout,
            60..=self.family_lifetime,
            "must be between 60 seconds and the family lifetime",
        )?;
        within(
            "refresh.recovery_window",
            self.recovery_window,
            0..=300,
            "must be between 0 (off) and 300 seconds",
        )
    }
}
