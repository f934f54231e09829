//! Latchkey's configuration: defaults, overlaid by an optional TOML file,
//! overlaid by `LATCHKEY_*` environment variables (nested keys with `__`,
//! e.g. `LATCHKEY_TOKENS__ACCESS_TOKEN_TTL`), then validated as a whole so
//! that start-up fails with the name of the wrong setting and the reason.
//!
//! Relative paths (the SQLite file, the key-encryption key) resolve against
//! the working directory, so two servers started in two directories never
//! share state. This crate reads configuration only; it never writes the
//! process environment.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
pub use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// The issuer identifier relying parties see (`LATCHKEY_ISSUER`).
    pub issuer: String,
    /// Address to listen on (`LATCHKEY_BIND`).
    pub bind: String,
    /// `sqlite://PATH` or `postgres://...` (`LATCHKEY_DATABASE_URL`).
    pub database_url: String,
    /// Optional Redis for the revocation cache (`LATCHKEY_REDIS_URL`).
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (`LATCHKEY_REDIS_PREFIX`), so
    /// deployments sharing a Redis stay apart.
    pub redis_prefix: String,
    /// The key-encryption key file (`LATCHKEY_KEK_FILE`).
    pub kek_file: PathBuf,
    /// Run migrations when the server starts.
    pub migrate_on_start: bool,
    /// `text` or `json` logs.
    pub log_format: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed: CIDR blocks or
    /// single addresses (`LATCHKEY_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`).
    /// Empty (the default): the header is ignored and the client is the
    /// TCP peer.
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<String>,
    pub tokens: Tokens,
    pub database: Database,
    pub passwords: Passwords,
    pub keys: Keys,
    pub refresh: Refresh,
    pub revocations: Revocations,
    pub registration: Registration,
}

/// Dynamic client registration (RFC 7591/7592) and client credentials.
/// Every duration is in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Registration {
    /// Let anyone register a client without an initial access token
    /// (`LATCHKEY_REGISTRATION__OPEN`). Off by default.
    pub open: bool,
    /// Scopes a registered client may be allowed; also what it gets when
    /// it asks for none. `LATCHKEY_REGISTRATION__ALLOWED_SCOPES=openid,profile`.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_scopes: Vec<String>,
    /// How long the previous secret keeps working after a rotation.
    pub secret_grace: i64,
    /// How long a new client secret lives (`client_secret_expires_at`);
    /// 0: secrets do not expire.
    pub secret_lifetime: i64,
    /// The longest a `private_key_jwt` assertion may live.
    pub assertion_max_lifetime: i64,
    /// Extra CA certificates (PEM) trusted when fetching a client's
    /// `jwks_uri`, besides the system's (a private PKI).
    pub jwks_ca_file: Option<PathBuf>,
    /// Let every client register, and be sent requests at, URLs inside the
    /// operator's network (`jwks_uri`, `backchannel_logout_uri`), as the
    /// command line and the admin API always may. Off by default: a
    /// registered URL makes Latchkey send requests
    /// (`LATCHKEY_REGISTRATION__ALLOW_INTERNAL_URIS`; the older name
    /// `allow_internal_jwks_uri` is still read). Written only when on, so
    /// either name can set it over the defaults.
    #[serde(
        alias = "allow_internal_jwks_uri",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub allow_internal_uris: bool,
}

impl Default for Registration {
    fn default() -> Self {
        Registration {
            open: false,
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            secret_grace: 86_400,
            secret_lifetime: 0,
            assertion_max_lifetime: 300,
            jwks_ca_file: None,
            allow_internal_uris: false,
        }
    }
}

impl Registration {
    fn validate(&self) -> Result<(), ConfigError> {
        let ok_token = |s: &String| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        };
        if self.allowed_scopes.is_empty() || !self.allowed_scopes.iter().all(ok_token) {
            return Err(invalid(
                "registration.allowed_scopes",
                "LATCHKEY_REGISTRATION__ALLOWED_SCOPES",
                "must list at least one scope, each a valid scope token",
            ));
        }
        if !(0..=30 * 86_400).contains(&self.secret_grace) {
            return Err(invalid(
                "registration.secret_grace",
                "LATCHKEY_REGISTRATION__SECRET_GRACE",
                "must be between 0 and 30 days",
            ));
        }
        if self.secret_lifetime != 0 && !(3600..=3 * 365 * 86_400).contains(&self.secret_lifetime) {
            return Err(invalid(
                "registration.secret_lifetime",
                "LATCHKEY_REGISTRATION__SECRET_LIFETIME",
                "must be 0 (no expiry) or between one hour and three years",
            ));
        }
        if let Some(f) = &self.jwks_ca_file {
            if !f.is_file() {
                return Err(invalid(
                    "registration.jwks_ca_file",
                    "LATCHKEY_REGISTRATION__JWKS_CA_FILE",
                    format!("{} is not a file", f.display()),
                ));
            }
        }
        if !(10..=3600).contains(&self.assertion_max_lifetime) {
            return Err(invalid(
                "registration.assertion_max_lifetime",
                "LATCHKEY_REGISTRATION__ASSERTION_MAX_LIFETIME",
                "must be between 10 and 3600 seconds",
            ));
        }
        Ok(())
    }
}

/// The in-memory revocation mirror each instance keeps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// Refresh-token families.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Refresh {
    /// Seconds a family lives however much it is used (default 30 days).
    pub family_lifetime: i64,
    /// Seconds a family may go unused (default 14 days).
    pub idle_timeout: i64,
    /// Seconds during which the token just rotated may be presented once
    /// more after a lost response; 0 (default) turns recovery off.
    pub recovery_window: i64,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            family_lifetime: 30 * 86_400,
            idle_timeout: 14 * 86_400,
            recovery_window: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Tokens {
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    /// At most 600 seconds.
    pub code_ttl: i64,
    pub session_ttl: i64,
    /// `aud` of access tokens; defaults to the issuer.
    pub access_token_audience: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// Signing keys, their rotation, and the checks of JWTs that come in. Every
/// duration is in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Keys {
    /// Enabled JWS algorithms, in preference order: the first signs access
    /// tokens; clients choose their ID-token algorithm among them.
    /// `LATCHKEY_KEYS__ALGORITHMS=RS256,ES256` or `[RS256, ES256]`.
    #[serde(deserialize_with = "list_or_csv")]
    pub algorithms: Vec<String>,
    /// How long a key signs before its successor takes over.
    pub rotation_period: u64,
    /// The least time a new key is published before it signs; defaults to
    /// twice `jwks_max_age`.
    pub propagation: Option<u64>,
    /// `Cache-Control: max-age` of `/jwks`.
    pub jwks_max_age: u64,
    /// How often each instance applies due rotations and picks up keys
    /// changed by other instances or the command line.
    pub check_interval: u64,
    /// Allowance for clocks that disagree when checking `exp`, `nbf` and
    /// `iat` of JWTs that come in.
    pub clock_skew: u64,
}

/// The algorithms Latchkey implements (`latchkey_domain::keys::SigningAlg`;
/// this crate depends on nothing of Latchkey's, so the names are repeated).
pub const SIGNING_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Passwords {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: "http://127.0.0.1:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/latchkey.db".into(),
            redis_url: None,
            redis_prefix: "latchkey:".into(),
            kek_file: PathBuf::from("keys/kek"),
            migrate_on_start: true,
            log_format: "text".into(),
            workers: 0,
            trusted_proxies: Vec::new(),
            tokens: Tokens::default(),
            database: Database::default(),
            passwords: Passwords::default(),
            keys: Keys::default(),
            refresh: Refresh::default(),
            revocations: Revocations::default(),
            registration: Registration::default(),
        }
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            algorithms: vec!["RS256".into()],
            rotation_period: 24 * 3600,
            propagation: None,
            jwks_max_age: 300,
            check_interval: 10,
            clock_skew: 5,
        }
    }
}

impl Keys {
    /// The propagation interval in effect.
    pub fn propagation(&self) -> u64 {
        self.propagation
            .unwrap_or_else(|| self.jwks_max_age.saturating_mul(2))
    }
}

/// A list setting given as a TOML array, or as one comma-separated string
/// (the natural form of an environment variable).
fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            access_token_ttl: 300,
            id_token_ttl: 600,
            code_ttl: 60,
            session_ttl: 12 * 3600,
            access_token_audience: None,
        }
    }
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

impl Default for Passwords {
    fn default() -> Self {
        Passwords {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("configuration: {0}")]
    Parse(String),
    #[error("setting `{setting}` (env {env}): {reason}")]
    Invalid {
        setting: &'static str,
        env: &'static str,
        reason: String,
    },
}

fn invalid(setting: &'static str, env: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        env,
        reason: reason.into(),
    }
}

impl Config {
    /// Loads defaults < `file` < the process environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut f = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    reason: "no such file".into(),
                });
            }
            f = f.merge(Toml::file_exact(path));
        }
        Ok(f.merge(Env::prefixed("LATCHKEY_").split("__")))
    }

    pub fn from_figment(f: Figment) -> Result<Config, ConfigError> {
        let config: Config = f.extract().map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validated()
    }

    /// Checks every setting and resolves relative paths against the working
    /// directory.
    pub fn validated(mut self) -> Result<Config, ConfigError> {
        let issuer = url::Url::parse(&self.issuer).map_err(|e| {
            invalid(
                "issuer",
                "LATCHKEY_ISSUER",
                format!("not an absolute URL ({e})"),
            )
        })?;
        if !matches!(issuer.scheme(), "http" | "https") || issuer.host().is_none() {
            return Err(invalid(
                "issuer",
                "LATCHKEY_ISSUER",
                "must be an http or https URL",
            ));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid(
                "issuer",
                "LATCHKEY_ISSUER",
                "must not have a query or fragment",
            ));
        }
        if issuer.path() != "/" && !issuer.path().is_empty() {
            return Err(invalid(
                "issuer",
                "LATCHKEY_ISSUER",
                "must not have a path: Latchkey serves its endpoints at the root",
            ));
        }
        self.issuer = self.issuer.trim_end_matches('/').to_owned();
        self.bind.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "bind",
                "LATCHKEY_BIND",
                "must be an address:port such as 127.0.0.1:8080",
            )
        })?;
        self.database_url = resolve_database_url(&self.database_url)?;
        if let Some(r) = &self.redis_url {
            if !(r.starts_with("redis://") || r.starts_with("rediss://")) {
                return Err(invalid(
                    "redis_url",
                    "LATCHKEY_REDIS_URL",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if self.kek_file.as_os_str().is_empty() {
            return Err(invalid(
                "kek_file",
                "LATCHKEY_KEK_FILE",
                "must not be empty",
            ));
        }
        self.kek_file = absolute(&self.kek_file);
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(invalid(
                "log_format",
                "LATCHKEY_LOG_FORMAT",
                "must be text or json",
            ));
        }
        let t = &self.tokens;
        if !(1..=600).contains(&t.code_ttl) {
            return Err(invalid(
                "tokens.code_ttl",
                "LATCHKEY_TOKENS__CODE_TTL",
                "must be between 1 and 600 seconds",
            ));
        }
        if !(10..=86_400).contains(&t.access_token_ttl) {
            return Err(invalid(
                "tokens.access_token_ttl",
                "LATCHKEY_TOKENS__ACCESS_TOKEN_TTL",
                "must be between 10 and 86400 seconds",
            ));
        }
        if !(10..=86_400).contains(&t.id_token_ttl) {
            return Err(invalid(
                "tokens.id_token_ttl",
                "LATCHKEY_TOKENS__ID_TOKEN_TTL",
                "must be between 10 and 86400 seconds",
            ));
        }
        if !(60..=30 * 86_400).contains(&t.session_ttl) {
            return Err(invalid(
                "tokens.session_ttl",
                "LATCHKEY_TOKENS__SESSION_TTL",
                "must be between 60 seconds and 30 days",
            ));
        }
        let r = &self.refresh;
        if !(60..=365 * 86_400).contains(&r.family_lifetime) {
            return Err(invalid(
                "refresh.family_lifetime",
                "LATCHKEY_REFRESH__FAMILY_LIFETIME",
                "must be between 60 seconds and 365 days",
            ));
        }
        if !(60..=r.family_lifetime).contains(&r.idle_timeout) {
            return Err(invalid(
                "refresh.idle_timeout",
                "LATCHKEY_REFRESH__IDLE_TIMEOUT",
                "must be between 60 seconds and the family lifetime",
            ));
        }
        if !(0..=300).contains(&r.recovery_window) {
            return Err(invalid(
                "refresh.recovery_window",
                "LATCHKEY_REFRESH__RECOVERY_WINDOW",
                "must be between 0 (off) and 300 seconds",
            ));
        }
        if self.revocations.sync_interval_ms < 50 || self.revocations.max_staleness_secs < 1 {
            return Err(invalid(
                "revocations",
                "LATCHKEY_REVOCATIONS__*",
                "sync_interval_ms must be at least 50 and max_staleness_secs at least 1",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "LATCHKEY_DATABASE__MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        let p = &self.passwords;
        if p.argon2_memory_kib < 8 * p.argon2_parallelism.max(1)
            || p.argon2_iterations == 0
            || p.argon2_parallelism == 0
        {
            return Err(invalid(
                "passwords",
                "LATCHKEY_PASSWORDS__ARGON2_*",
                "argon2 parameters out of range",
            ));
        }
        // OWASP's password storage minimum for argon2id: 19 MiB with 2
        // passes, or one of its equivalents trading memory for passes
        // (46/1, 12/3, 9/4, 7/5 MiB/passes). Below it a stolen database is
        // cheap to crack.
        let work = u64::from(p.argon2_memory_kib) * u64::from(p.argon2_iterations);
        if p.argon2_memory_kib < 7 * 1024 || work < 7 * 1024 * 5 {
            return Err(invalid(
                "passwords",
                "LATCHKEY_PASSWORDS__ARGON2_*",
                "argon2 settings below OWASP's minimum: 19 MiB (19456 KiB) with 2 passes, or 46 MiB/1, 12 MiB/3, 9 MiB/4, 7 MiB/5",
            ));
        }
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|p| parse_cidr(p).is_none())
        {
            return Err(invalid(
                "trusted_proxies",
                "LATCHKEY_TRUSTED_PROXIES",
                format!("{bad:?} is not a CIDR block (10.0.0.0/8) or an IP address"),
            ));
        }
        self.keys.validate()?;
        self.registration.validate()?;
        Ok(self)
    }

    /// The validated `trusted_proxies`, as networks.
    pub fn trusted_proxy_networks(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_cidr(p))
            .collect()
    }

    /// Whether the database is the embedded SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

impl Keys {
    fn validate(&self) -> Result<(), ConfigError> {
        const ALGS: &str = "LATCHKEY_KEYS__ALGORITHMS";
        if self.algorithms.is_empty() {
            return Err(invalid(
                "keys.algorithms",
                ALGS,
                "enable at least one algorithm (RS256, PS256, ES256, EdDSA)",
            ));
        }
        for (i, alg) in self.algorithms.iter().enumerate() {
            if !SIGNING_ALGORITHMS.contains(&alg.as_str()) {
                return Err(invalid(
                    "keys.algorithms",
                    ALGS,
                    format!("unknown algorithm {alg:?}: choose among RS256, PS256, ES256, EdDSA"),
                ));
            }
            if self.algorithms[..i].contains(alg) {
                return Err(invalid(
                    "keys.algorithms",
                    ALGS,
                    format!("{alg} is listed twice"),
                ));
            }
        }
        if !(1..=3600).contains(&self.check_interval) {
            return Err(invalid(
                "keys.check_interval",
                "LATCHKEY_KEYS__CHECK_INTERVAL",
                "must be between 1 and 3600 seconds",
            ));
        }
        if self.jwks_max_age > 86_400 {
            return Err(invalid(
                "keys.jwks_max_age",
                "LATCHKEY_KEYS__JWKS_MAX_AGE",
                "must be at most 86400 seconds",
            ));
        }
        let propagation = self.propagation();
        // Relying parties may hold the JWKS for max-age, other instances
        // see a new key only at their next check: a key must be published
        // for longer than both before it signs.
        if propagation < self.jwks_max_age || propagation < self.check_interval {
            return Err(invalid(
                "keys.propagation",
                "LATCHKEY_KEYS__PROPAGATION",
                format!(
                    "must be at least keys.jwks_max_age ({}) and keys.check_interval ({})",
                    self.jwks_max_age, self.check_interval
                ),
            ));
        }
        if self.rotation_period < propagation || self.rotation_period > 365 * 86_400 {
            return Err(invalid(
                "keys.rotation_period",
                "LATCHKEY_KEYS__ROTATION_PERIOD",
                format!("must be between keys.propagation ({propagation}) and 365 days"),
            ));
        }
        if self.clock_skew > 300 {
            return Err(invalid(
                "keys.clock_skew",
                "LATCHKEY_KEYS__CLOCK_SKEW",
                "must be at most 300 seconds",
            ));
        }
        Ok(())
    }
}

/// A CIDR block (`10.0.0.0/8`, `fd00::/8`) or one address (a /32 or
/// /128). Host bits below the prefix are dropped: `10.1.2.3/8` is
/// `10.0.0.0/8`.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .ok()
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

fn resolve_database_url(url: &str) -> Result<String, ConfigError> {
    let bad = |r: &str| invalid("database_url", "LATCHKEY_DATABASE_URL", r.to_owned());
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(bad("the SQLite URL has no file path"));
        }
        let abs = absolute(Path::new(path));
        let mut out = format!("sqlite://{}", abs.display());
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        Ok(out)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url::Url::parse(url).map_err(|e| bad(&format!("not a valid URL ({e})")))?;
        Ok(url.to_owned())
    } else {
        Err(bad("must start with sqlite:// or postgres://"))
    }
}

// figment::Jail's closure signature is fixed.
#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;
    use proptest::prop_assert;

    #[test]
    fn defaults_are_valid_and_resolve_paths() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.issuer, "http://127.0.0.1:8080");
            let dir = jail.directory().display().to_string();
            assert_eq!(c.database_url, format!("sqlite://{dir}/data/latchkey.db"));
            assert_eq!(c.kek_file, jail.directory().join("keys/kek"));
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("l.toml", "issuer = \"https://id.example.com/\"\nbind = \"0.0.0.0:9000\"\n[tokens]\ncode_ttl = 30\n")?;
            jail.set_env("LATCHKEY_BIND", "127.0.0.1:9999");
            jail.set_env("LATCHKEY_TOKENS__ACCESS_TOKEN_TTL", "120");
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.issuer, "https://id.example.com");
            assert_eq!(c.bind, "127.0.0.1:9999");
            assert_eq!(c.tokens.code_ttl, 30);
            assert_eq!(c.tokens.access_token_ttl, 120);
            Ok(())
        });
    }

    #[test]
    fn allow_internal_uris_is_read_under_both_names() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(!c.registration.allow_internal_uris, "off by default");
            jail.create_file("l.toml", "[registration]\nallow_internal_jwks_uri = true\n")?;
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert!(
                c.registration.allow_internal_uris,
                "the older name in a file"
            );
            jail.set_env("LATCHKEY_REGISTRATION__ALLOW_INTERNAL_URIS", "true");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(c.registration.allow_internal_uris);
            jail.clear_env();
            jail.set_env("LATCHKEY_REGISTRATION__ALLOW_INTERNAL_JWKS_URI", "true");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(
                c.registration.allow_internal_uris,
                "the older name in the environment"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_settings_name_themselves() {
        Jail::expect_with(|jail| {
            for (var, value, needle) in [
                ("LATCHKEY_ISSUER", "ftp://x", "issuer"),
                ("LATCHKEY_ISSUER", "https://x/?a=1", "issuer"),
                ("LATCHKEY_BIND", "nope", "bind"),
                ("LATCHKEY_DATABASE_URL", "mysql://x", "database_url"),
                ("LATCHKEY_TOKENS__CODE_TTL", "601", "code_ttl"),
                ("LATCHKEY_REDIS_URL", "http://x", "redis_url"),
            ] {
                jail.clear_env();
                jail.set_env(var, value);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains(needle), "{var}={value}: {e}");
            }
            Ok(())
        });
    }

    #[test]
    fn argon2_below_owasps_minimum_is_refused_at_start() {
        Jail::expect_with(|jail| {
            for (memory, passes, ok) in [
                ("19456", "2", true),
                ("47104", "1", true),
                ("12288", "3", true),
                ("7168", "5", true),
                ("19456", "1", false),
                ("1024", "1", false),
                ("4096", "10", false),
                ("12288", "2", false),
            ] {
                jail.clear_env();
                jail.set_env("LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB", memory);
                jail.set_env("LATCHKEY_PASSWORDS__ARGON2_ITERATIONS", passes);
                match Config::load(None) {
                    Ok(_) => assert!(ok, "{memory} KiB x {passes} accepted"),
                    Err(e) => {
                        assert!(!ok, "{memory} KiB x {passes}: {e}");
                        assert!(e.to_string().contains("OWASP"), "{e}");
                    }
                }
            }
            Ok(())
        });
    }

    #[test]
    fn key_settings_have_safe_defaults_and_come_from_file_or_env() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.keys.algorithms, ["RS256"]);
            assert_eq!(c.keys.rotation_period, 86_400);
            assert_eq!(c.keys.propagation(), 600, "twice the JWKS max-age");

            jail.create_file(
                "l.toml",
                "[keys]\nalgorithms = [\"ES256\", \"RS256\"]\njwks_max_age = 60\n",
            )?;
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.keys.algorithms, ["ES256", "RS256"]);
            assert_eq!(c.keys.propagation(), 120);

            for value in ["EdDSA, PS256", "[EdDSA, PS256]"] {
                jail.set_env("LATCHKEY_KEYS__ALGORITHMS", value);
                let c = Config::load(None).map_err(|e| e.to_string())?;
                assert_eq!(c.keys.algorithms, ["EdDSA", "PS256"], "{value}");
            }
            jail.set_env("LATCHKEY_KEYS__PROPAGATION", "900");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.keys.propagation(), 900);
            Ok(())
        });
    }

    #[test]
    fn bad_key_settings_name_themselves() {
        Jail::expect_with(|jail| {
            for (vars, needle) in [
                (
                    &[("LATCHKEY_KEYS__ALGORITHMS", "HS256")][..],
                    "keys.algorithms",
                ),
                (&[("LATCHKEY_KEYS__ALGORITHMS", "none")], "keys.algorithms"),
                (&[("LATCHKEY_KEYS__ALGORITHMS", "rs256")], "keys.algorithms"),
                (&[("LATCHKEY_KEYS__ALGORITHMS", "RS256,RS256")], "twice"),
                (&[("LATCHKEY_KEYS__ALGORITHMS", "")], "at least one"),
                // Published for less than relying parties cache the JWKS.
                (&[("LATCHKEY_KEYS__PROPAGATION", "299")], "keys.propagation"),
                (
                    &[
                        ("LATCHKEY_KEYS__PROPAGATION", "5"),
                        ("LATCHKEY_KEYS__JWKS_MAX_AGE", "5"),
                        ("LATCHKEY_KEYS__CHECK_INTERVAL", "6"),
                    ],
                    "keys.propagation",
                ),
                (
                    &[("LATCHKEY_KEYS__ROTATION_PERIOD", "599")],
                    "keys.rotation_period",
                ),
                (
                    &[("LATCHKEY_KEYS__CHECK_INTERVAL", "0")],
                    "keys.check_interval",
                ),
                (&[("LATCHKEY_KEYS__CLOCK_SKEW", "301")], "keys.clock_skew"),
            ] {
                jail.clear_env();
                for (var, value) in vars {
                    jail.set_env(var, value);
                }
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains(needle), "{vars:?}: {e}");
            }
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks_from_file_or_env() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(
                c.trusted_proxies.is_empty(),
                "no proxy is trusted by default"
            );
            jail.set_env(
                "LATCHKEY_TRUSTED_PROXIES",
                "172.30.0.0/24, 10.1.2.3, fd00::/8",
            );
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let nets: Vec<String> = c
                .trusted_proxy_networks()
                .iter()
                .map(|n| n.to_string())
                .collect();
            assert_eq!(nets, ["172.30.0.0/24", "10.1.2.3/32", "fd00::/8"]);
            for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/8/8", "*"] {
                jail.set_env("LATCHKEY_TRUSTED_PROXIES", bad);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains("LATCHKEY_TRUSTED_PROXIES"), "{bad}: {e}");
            }
            Ok(())
        });
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_as_a_cidr_or_not_without_panicking(text in "\\PC*") {
            let _ = parse_cidr(&text);
        }

        #[test]
        fn cidr_like_text_never_panics(
            a in proptest::array::uniform4(0u16..300),
            prefix in 0u16..200,
            tail in "[0-9a-f:./ ]{0,12}",
        ) {
            let text = format!("{}.{}.{}.{}/{prefix}{tail}", a[0], a[1], a[2], a[3]);
            if let Some(net) = parse_cidr(&text) {
                prop_assert!(net.prefix_len() <= 32);
            }
        }
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/latchkey.toml"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/latchkey.toml"));
    }

    #[test]
    fn malformed_number_is_an_error() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_TOKENS__CODE_TTL", "soon");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn registration_is_closed_by_default_and_checked() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(!c.registration.open);
            assert_eq!(c.registration.secret_grace, 86_400);
            assert_eq!(c.registration.secret_lifetime, 0);
            jail.set_env("LATCHKEY_REGISTRATION__OPEN", "true");
            jail.set_env("LATCHKEY_REGISTRATION__ALLOWED_SCOPES", "openid,api:read");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(c.registration.open);
            assert_eq!(c.registration.allowed_scopes, ["openid", "api:read"]);
            for (var, value) in [
                ("LATCHKEY_REGISTRATION__ALLOWED_SCOPES", "open id"),
                ("LATCHKEY_REGISTRATION__SECRET_GRACE", "-1"),
                ("LATCHKEY_REGISTRATION__SECRET_LIFETIME", "5"),
                ("LATCHKEY_REGISTRATION__ASSERTION_MAX_LIFETIME", "86400"),
            ] {
                jail.clear_env();
                jail.set_env(var, value);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains("registration."), "{var}={value}: {e}");
            }
            Ok(())
        });
    }
}
