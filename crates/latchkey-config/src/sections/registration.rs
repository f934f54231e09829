//! `[registration]`: dynamic client registration (RFC 7591/7592) and
//! client credentials. Seconds throughout.

use std::path::PathBuf;

use latchkey_protocol::{Scope, ScopeToken};
use serde::{Deserialize, Deserializer};

use super::{within, DAY};
use crate::error::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Registration {
    /// Let anyone register a client without an initial access token
    /// (`LATCHKEY_REGISTRATION__OPEN`). Off by default.
    pub open: bool,
    /// Scopes a registered client may be allowed; also what it gets when
    /// it asks for none. `LATCHKEY_REGISTRATION__ALLOWED_SCOPES=openid,profile`.
    #[serde(deserialize_with = "scope_list")]
    pub allowed_scopes: Scope,
    /// How long the previous secret keeps working after a rotation.
    pub secret_grace: i64,
    /// How long a new client secret lives (`client_secret_expires_at`);
    /// 0: secrets do not expire.
    pub secret_lifetime: i64,
    /// The longest a `private_key_jwt` assertion may live (`exp - now`).
    pub assertion_max_lifetime: i64,
    /// Extra CA certificates (PEM) trusted when fetching a client's
    /// `jwks_uri`, besides the system's (a private PKI).
    pub jwks_ca_file: Option<PathBuf>,
    /// Let every client register, and be sent requests at, URLs inside the
    /// operator's network (`jwks_uri`, `backchannel_logout_uri`), as the
    /// command line and the admin API always may. Off by default: a
    /// registered URL makes Latchkey send requests
    /// (`LATCHKEY_REGISTRATION__ALLOW_INTERNAL_URIS`; the older name
    /// `allow_internal_jwks_uri` is still read).
    #[serde(alias = "allow_internal_jwks_uri")]
    pub allow_internal_uris: bool,
}

impl Default for Registration {
    fn default() -> Self {
        Registration {
            open: false,
            allowed_scopes: Scope::parse(
                "openid profile email address phone groups offline_access",
            )
            .expect("default scopes parse"),
            secret_grace: DAY,
            secret_lifetime: 0,
            assertion_max_lifetime: 300,
            jwks_ca_file: None,
            allow_internal_uris: false,
        }
    }
}

/// A list of scope tokens (`["openid", "api:read"]` or `openid,api:read`).
fn scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
    let tokens = super::parsed_list(
        d,
        |t| ScopeToken::parse(t).map(|_| t.to_owned()),
        |bad| format!("{bad:?} is not a valid scope token"),
    )?;
    if tokens.is_empty() {
        return Ok(Scope::empty());
    }
    Scope::parse(&tokens.join(" ")).map_err(serde::de::Error::custom)
}

impl Registration {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.allowed_scopes.is_empty() {
            return Err(invalid(
                "registration.allowed_scopes",
                "must list at least one scope",
            ));
        }
        within(
            "registration.secret_grace",
            self.secret_grace,
            0..=30 * DAY,
            "must be between 0 and 30 days",
        )?;
        if self.secret_lifetime != 0 {
            within(
                "registration.secret_lifetime",
                self.secret_lifetime,
                3600..=3 * 365 * DAY,
                "must be 0 (no expiry) or between one hour and three years",
            )?;
        }
        if let Some(f) = &self.jwks_ca_file {
            if !f.is_file() {
                return Err(invalid(
                    "registration.jwks_ca_file",
                    format!("{} is not a file", f.display()),
                ));
            }
        }
        within(
            "registration.assertion_max_lifetime",
            self.assertion_max_lifetime,
            10..=3600,
            "must be between 10 and 3600 seconds",
        )
    }
}
