//! Where Latchkey keeps its state: top-level `database_url`,
//! `migrate_on_start`, `redis_url`, `redis_prefix` and `kek_file`.
//!
//! Relative paths (the SQLite file, the key-encryption key) resolve against
//! the working directory, so two servers started in two directories never
//! share state.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Storage {
    /// `sqlite://PATH` or `postgres://...` (`LATCHKEY_DATABASE_URL`).
    pub database_url: String,
    /// Run migrations when the server starts.
    pub migrate_on_start: bool,
    /// Optional Redis for the revocation cache (`LATCHKEY_REDIS_URL`).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (`LATCHKEY_REDIS_PREFIX`), so
    /// deployments sharing a Redis stay apart.
    pub redis_prefix: String,
    /// The key-encryption key file (`LATCHKEY_KEK_FILE`).
    pub kek_file: PathBuf,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            database_url: "sqlite://data/latchkey.db".into(),
            migrate_on_start: true,
            redis_url: None,
            redis_prefix: "latchkey:".into(),
            kek_file: PathBuf::from("keys/kek"),
        }
    }
}

impl Storage {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |reason: &str| invalid("database_url", reason);
        let url = &self.database_url;
        if let Some((path, _)) = sqlite_path(url) {
            if path.is_empty() {
                return Err(bad("the SQLite URL has no file path"));
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url::Url::parse(url).map_err(|e| bad(&format!("not a valid URL ({e})")))?;
        } else {
            return Err(bad("must start with sqlite:// or postgres://"));
        }
        if let Some(r) = &self.redis_url {
            if !(r.starts_with("redis://") || r.starts_with("rediss://")) {
                return Err(invalid(
                    "redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if self.kek_file.as_os_str().is_empty() {
            return Err(invalid("kek_file", "must not be empty"));
        }
        Ok(())
    }

    /// The SQLite file and the key-encryption key as absolute paths, taken
    /// against the working directory (after `validate`).
    pub fn resolve_paths(&mut self) {
        if let Some((path, query)) = sqlite_path(&self.database_url) {
            let mut url = format!("sqlite://{}", absolute(Path::new(path)).display());
            if let Some(q) = query {
                url.push('?');
                url.push_str(q);
            }
            self.database_url = url;
        }
        self.kek_file = absolute(&self.kek_file);
    }

    /// Whether the database is the embedded SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The SQLite database's file (after `resolve_paths`); `None` for
    /// PostgreSQL.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        sqlite_path(&self.database_url).map(|(path, _)| PathBuf::from(path))
    }
}

/// The file path and query of a SQLite URL; `None` for other databases.
fn sqlite_path(url: &str) -> Option<(&str, Option<&str>)> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    })
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_owned())
    }
}
