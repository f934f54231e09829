//! Why a configuration was refused: always the setting, the environment
//! variable that sets it, and the reason, on one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// Not attributable to one setting (a TOML syntax error).
    #[error("configuration: {0}")]
    Parse(String),
    #[error("setting `{setting}` (env {env}): {reason}")]
    Invalid {
        setting: String,
        env: String,
        reason: String,
    },
}

/// A refused setting, named by its dotted path (`tokens.code_ttl`); the
/// environment variable follows from it (`LATCHKEY_TOKENS__CODE_TTL`). A
/// rule over several settings names them with `*` (`passwords.argon2_*`).
pub(crate) fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        env: env_name(setting),
        reason: reason.into(),
    }
}

/// `tokens.code_ttl` → `LATCHKEY_TOKENS__CODE_TTL`.
pub(crate) fn env_name(setting: &str) -> String {
    format!(
        "LATCHKEY_{}",
        setting.replace('.', "__").to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names_follow_the_setting() {
        assert_eq!(super::env_name("bind"), "LATCHKEY_BIND");
        assert_eq!(
            super::env_name("keys.algorithms"),
            "LATCHKEY_KEYS__ALGORITHMS"
        );
        assert_eq!(
            super::env_name("passwords.argon2_*"),
            "LATCHKEY_PASSWORDS__ARGON2_*"
        );
    }
}
