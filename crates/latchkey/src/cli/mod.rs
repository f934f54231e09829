//! The operator's commands, one file per command group; `main.rs` parses
//! the command line and dispatches here.

pub mod audit;
pub mod backup;
pub mod clients;
pub mod keys;
pub mod serve;
pub mod tokens;
pub mod users;

use std::io::IsTerminal;

use latchkey::telemetry::Exporter;
use latchkey::{build_core, system_clock};
use latchkey_config::{Config, LogFormat};
use latchkey_core::Latchkey;

/// The core an operator command works on: the configured database and
/// keys, the real clock.
pub async fn core(config: &Config) -> anyhow::Result<Latchkey> {
    build_core(config, system_clock()).await
}

/// Logs go to standard error: `info` and up while serving, `warn` and up
/// for the other commands, unless `LATCHKEY_LOG` says otherwise. While
/// serving with `otlp_endpoint` set, spans are also exported; the returned
/// exporter flushes the last of them at exit.
pub fn init_tracing(config: &Config, serving: bool) -> anyhow::Result<Option<Exporter>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let default = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("LATCHKEY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let fmt = match config.logging.log_format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let registry = tracing_subscriber::registry().with(fmt.with_filter(filter));
    match (&config.logging.otlp_endpoint, serving) {
        (Some(endpoint), true) => {
            let (layer, exporter) = latchkey::telemetry::otlp_layer(endpoint)?;
            // Spans are exported whatever the log level: `info` and up.
            registry
                .with(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
                .init();
            Ok(Some(exporter))
        }
        _ => {
            registry.init();
            Ok(None)
        }
    }
}

/// `3600`, `90s`, `30m`, `12h`, `7d`.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 3600, 30m, 12h, 7d)"))?;
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit)
        .filter(|d| *d > 0)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// A listing: with `--json` one JSON array, else one line per item.
pub fn print_list<T>(
    items: &[T],
    json: bool,
    as_json: impl Fn(&T) -> serde_json::Value,
    as_line: impl Fn(&T) -> String,
) {
    if json {
        let list: Vec<_> = items.iter().map(as_json).collect();
        println!("{}", serde_json::Value::from(list));
    } else {
        for item in items {
            println!("{}", as_line(item));
        }
    }
}
