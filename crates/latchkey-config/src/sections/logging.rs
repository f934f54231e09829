//! How the server logs: top-level `log_format`. The level is not a setting
//! but `LATCHKEY_LOG` (`info`, `latchkey=debug`), read by the binary.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Logging {
    /// `text` (the default) or `json` (`LATCHKEY_LOG_FORMAT`).
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for a person at a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}
