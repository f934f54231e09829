//! How the server logs and traces: top-level `log_format` and
//! `otlp_endpoint`. The level is not a setting but `LATCHKEY_LOG` (`info`,
//! `latchkey=debug`), read by the binary.

use serde::{Deserialize, Deserializer};
use url::Url;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Logging {
    /// `text` (the default) or `json` (`LATCHKEY_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// An OpenTelemetry collector's OTLP/HTTP address
    /// (`LATCHKEY_OTLP_ENDPOINT`, e.g. `http://otel-collector:4318`):
    /// every request's span is exported to `{otlp_endpoint}/v1/traces`.
    /// Unset (the default): nothing is exported.
    #[serde(deserialize_with = "optional_http_url")]
    pub otlp_endpoint: Option<Url>,
}

fn optional_http_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Some(u)),
        _ => Err(serde::de::Error::custom(
            "must be an http(s) URL such as http://otel-collector:4318",
        )),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for a person at a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(serde::de::Error::custom("must be text or json")),
        }
    }
}
