//! `[database]`: the connection pool. (`database_url` itself is a
//! top-level key, in [`super::Storage`].)

use std::time::Duration;

use serde::Deserialize;

use crate::error::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Database {
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
    pub statement_timeout_secs: Option<u64>,
    /// Postgres only: the schema to use (created if missing).
    pub schema: Option<String>,
    /// Postgres only: plan each statement once per connection
    /// (`plan_cache_mode=force_generic_plan`) rather than again on every
    /// execution. Latchkey's statements look rows up by key, where the
    /// generic plan is the plan; `false` leaves the server's own setting
    /// (for a proxy that refuses the start-up parameter).
    pub generic_plans: bool,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            max_connections: 10,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 5,
            statement_timeout_secs: None,
            schema: None,
            generic_plans: true,
        }
    }
}

impl Database {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout_secs.map(Duration::from_secs)
    }
}
