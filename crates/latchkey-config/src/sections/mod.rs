//! One type per configuration section, each parsing its own settings and
//! checking its own rules (`validate`), naming the setting and the reason.
//!
//! `server`, `storage` and `logging` hold keys at the top level of the
//! file (`issuer`, `database_url`, `log_format`, ...); the others are TOML
//! tables (`[tokens]`, `[keys]`, ...). Where a type parses a setting
//! completely (`Issuer`, `SocketAddr`, `LogFormat`, `SigningAlg`, `Scope`,
//! CIDR blocks) the check happens as it is read; `validate` checks ranges
//! and the rules between settings.

mod account;
mod auth;
mod database;
mod dpop;
mod fapi2;
mod keys;
mod logging;
mod par;
mod passwords;
mod refresh;
mod registration;
mod resources;
mod revocations;
mod server;
mod storage;
mod tokens;

use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer};

pub use account::Account;
pub use auth::Auth;
pub use database::Database;
pub use dpop::Dpop;
pub use fapi2::Fapi2;
pub use keys::Keys;
pub use logging::{LogFormat, Logging};
pub use par::Par;
pub use passwords::Passwords;
pub use refresh::Refresh;
pub use registration::Registration;
pub use resources::Resources;
pub use revocations::Revocations;
pub use server::{parse_cidr, Issuer, Server};
pub use storage::Storage;
pub use tokens::Tokens;

use crate::error::{invalid, ConfigError};

/// A list setting given as a TOML array, or as one comma-separated string
/// (the natural form of an environment variable).
fn list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Form::deserialize(d)? {
        Form::List(list) => list,
        Form::Csv(csv) => csv
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    })
}

/// A list setting whose every item parses, or the first that does not,
/// with the reason `refuse` gives.
fn parsed_list<'de, D, T>(
    d: D,
    parse: impl Fn(&str) -> Option<T>,
    refuse: impl Fn(&str) -> String,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
{
    list_or_csv(d)?
        .iter()
        .map(|item| parse(item).ok_or_else(|| serde::de::Error::custom(refuse(item))))
        .collect()
}

/// `value` of `setting` lies in `range`, or `reason` says where it must.
fn within(
    setting: &str,
    value: i64,
    range: RangeInclusive<i64>,
    reason: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(invalid(setting, reason))
    }
}

const DAY: i64 = 86_400;
