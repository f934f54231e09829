//! Latchkey's configuration: defaults, overlaid by an optional TOML file,
//! overlaid by `LATCHKEY_*` environment variables (nested keys with `__`,
//! e.g. `LATCHKEY_TOKENS__ACCESS_TOKEN_TTL`), then validated section by
//! section so that start-up fails with the name of the wrong setting and
//! the reason.
//!
//! Each section is a type in [`sections`] that parses straight into
//! Latchkey's own vocabulary (`SigningAlg`, `Scope`, `Issuer`, CIDR
//! blocks) and checks its own rules. The core embeds the sections it reads
//! in its settings, so this crate depends on nothing above the protocol
//! and domain crates; reading files and the environment (figment) sits
//! behind the `load` feature, which only the binary enables. This crate
//! reads configuration only; it never writes the process environment.

mod error;
pub mod sections;

#[cfg(feature = "load")]
use std::path::Path;

pub use error::ConfigError;
pub use ipnet::IpNet;
pub use sections::{
    parse_cidr, Account, Auth, Database, Dpop, Fapi2, Issuer, Keys, LogFormat, Logging, Par,
    Passwords, Refresh, Registration, Resources, Revocations, Server, Storage, Tokens,
};

/// Every setting, by section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `issuer`, `bind`, `workers`, `trusted_proxies`, `metrics_bind` (top
    /// level).
    pub server: Server,
    /// `database_url`, `migrate_on_start`, `redis_url`, `redis_prefix`,
    /// `kek_file` (top level).
    pub storage: Storage,
    /// `log_format`, `otlp_endpoint` (top level).
    pub logging: Logging,
    /// `resources` (top level).
    pub resources: Resources,
    pub tokens: Tokens,
    pub database: Database,
    pub passwords: Passwords,
    pub keys: Keys,
    pub refresh: Refresh,
    pub revocations: Revocations,
    pub registration: Registration,
    pub account: Account,
    pub auth: Auth,
    pub par: Par,
    pub dpop: Dpop,
    pub fapi2: Fapi2,
}

impl Config {
    /// Checks the rules of every section and resolves relative paths
    /// against the working directory.
    pub fn validated(mut self) -> Result<Config, ConfigError> {
        self.storage.validate()?;
        self.storage.resolve_paths();
        self.tokens.validate()?;
        self.database.validate()?;
        self.passwords.validate()?;
        self.keys.validate()?;
        self.refresh.validate()?;
        self.revocations.validate()?;
        self.registration.validate()?;
        Ok(self)
    }
}

#[cfg(feature = "load")]
impl Config {
    /// Loads defaults < `file` < the process environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The file (if any) overlaid by the environment. Defaults are not in
    /// it: each section fills in what neither sets.
    pub fn figment(file: Option<&Path>) -> Result<figment::Figment, ConfigError> {
        use figment::providers::{Env, Format, Toml};
        let mut f = figment::Figment::new();
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

    pub fn from_figment(f: figment::Figment) -> Result<Config, ConfigError> {
        // `LATCHKEY_ACCOUNT_EDITABLE_CLAIMS` (one underscore) would be an
        // unknown top-level key, silently ignored: an operator who meant to
        // restrict profile editing would not have.
        if f.find_value("auth_require_mfa").is_ok() {
            return Err(error::invalid(
                "auth.require_mfa",
                "LATCHKEY_AUTH_REQUIRE_MFA is not read; the variable is LATCHKEY_AUTH__REQUIRE_MFA (two underscores after the section)",
            ));
        }
        for (flat, setting, variable) in [
            ("par_required", "par.required", "LATCHKEY_PAR__REQUIRED"),
            (
                "dpop_require_nonce",
                "dpop.require_nonce",
                "LATCHKEY_DPOP__REQUIRE_NONCE",
            ),
            (
                "fapi2_required",
                "fapi2.required",
                "LATCHKEY_FAPI2__REQUIRED",
            ),
        ] {
            if f.find_value(flat).is_ok() {
                return Err(error::invalid(
                    setting,
                    format!("LATCHKEY_{} is not read; the variable is {variable} (two underscores after the section)", flat.to_uppercase()),
                ));
            }
        }
        if f.find_value("account_editable_claims").is_ok() {
            return Err(error::invalid(
                "account.editable_claims",
                "LATCHKEY_ACCOUNT_EDITABLE_CLAIMS is not read; the variable is LATCHKEY_ACCOUNT__EDITABLE_CLAIMS (two underscores after the section)",
            ));
        }
        Config {
            server: f.extract().map_err(refused)?,
            storage: f.extract().map_err(refused)?,
            logging: f.extract().map_err(refused)?,
            resources: f.extract().map_err(refused)?,
            tokens: table(&f, "tokens")?,
            database: table(&f, "database")?,
            passwords: table(&f, "passwords")?,
            keys: table(&f, "keys")?,
            refresh: table(&f, "refresh")?,
            revocations: table(&f, "revocations")?,
            registration: table(&f, "registration")?,
            account: table(&f, "account")?,
            auth: table(&f, "auth")?,
            par: table(&f, "par")?,
            dpop: table(&f, "dpop")?,
            fapi2: table(&f, "fapi2")?,
        }
        .validated()
    }
}

/// The section in table `key`, its defaults where neither the file nor
/// the environment sets it.
#[cfg(feature = "load")]
fn table<T>(f: &figment::Figment, key: &str) -> Result<T, ConfigError>
where
    T: serde::de::DeserializeOwned,
{
    if let Ok(value) = f.find_value(key) {
        if value.as_dict().is_none() {
            return Err(error::invalid(key, "must be a table"));
        }
    }
    f.focus(key).extract().map_err(|mut e| {
        e.path.insert(0, key.to_owned());
        refused(e)
    })
}

/// A value that did not parse, named by its setting where figment knows it.
#[cfg(feature = "load")]
fn refused(e: figment::Error) -> ConfigError {
    if e.path.is_empty() {
        return ConfigError::Parse(e.to_string());
    }
    let mut reason = e.kind.to_string();
    if let Some(source) = e.metadata.as_ref().and_then(|md| md.source.as_ref()) {
        reason.push_str(&format!(" (in {source})"));
    }
    error::invalid(&e.path.join("."), reason)
}

// figment::Jail's closure signature is fixed.
#[cfg(test)]
#[cfg(feature = "load")]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;
    use latchkey_domain::keys::SigningAlg;
    use latchkey_protocol::Scope;

    #[test]
    fn defaults_are_valid_and_resolve_paths() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.issuer.as_str(), "http://127.0.0.1:8080");
            assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
            assert_eq!(c.logging.log_format, LogFormat::Text);
            let dir = jail.directory().display().to_string();
            assert_eq!(
                c.storage.database_url,
                format!("sqlite://{dir}/data/latchkey.db")
            );
            assert_eq!(c.storage.kek_file, jail.directory().join("keys/kek"));
            assert_eq!(c, Config::default().validated().map_err(|e| e.to_string())?);
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("l.toml", "issuer = \"https://id.example.com/\"\nbind = \"0.0.0.0:9000\"\nlog_format = \"json\"\n[tokens]\ncode_ttl = 30\n")?;
            jail.set_env("LATCHKEY_BIND", "127.0.0.1:9999");
            jail.set_env("LATCHKEY_TOKENS__ACCESS_TOKEN_TTL", "120");
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.issuer.as_str(), "https://id.example.com");
            assert_eq!(c.server.bind.to_string(), "127.0.0.1:9999");
            assert_eq!(c.logging.log_format, LogFormat::Json);
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
    fn editable_claims_default_to_what_users_say_about_themselves() {
        use latchkey_protocol::profile::EditableClaims;
        use latchkey_protocol::user_claims::UserClaim;
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.account.editable_claims, EditableClaims::default());
            jail.set_env(
                "LATCHKEY_ACCOUNT__EDITABLE_CLAIMS",
                "name, email,phone_number,address",
            );
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let got: Vec<_> = c.account.editable_claims.iter().collect();
            assert_eq!(
                got,
                [
                    UserClaim::Name,
                    UserClaim::Email,
                    UserClaim::PhoneNumber,
                    UserClaim::Address
                ]
            );
            jail.set_env("LATCHKEY_ACCOUNT__EDITABLE_CLAIMS", "");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(c.account.editable_claims.is_empty(), "empty turns it off");
            jail.clear_env();
            jail.create_file("l.toml", "[account]\neditable_claims = [\"nickname\"]\n")?;
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                c.account.editable_claims.iter().collect::<Vec<_>>(),
                [UserClaim::Nickname]
            );
            jail.create_file("l.toml", "[account]\neditable_claims = []\n")?;
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert!(c.account.editable_claims.is_empty());
            Ok(())
        });
    }

    #[test]
    fn editable_claims_refuse_verified_flags_and_unknown_names() {
        Jail::expect_with(|jail| {
            for (value, needle) in [
                ("name,email_verified", "email_verified cannot be editable"),
                (
                    "phone_number_verified",
                    "phone_number_verified cannot be editable",
                ),
                ("name,groups", "\"groups\" is not a claim users can edit"),
                ("sub", "\"sub\" is not a claim users can edit"),
                ("updated_at", "is not a claim users can edit"),
                ("Name", "is not a claim users can edit"),
                ("name,name", "listed twice"),
            ] {
                jail.set_env("LATCHKEY_ACCOUNT__EDITABLE_CLAIMS", value);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(
                    e.starts_with(
                        "setting `account.editable_claims` (env LATCHKEY_ACCOUNT__EDITABLE_CLAIMS): "
                    ),
                    "{value}: {e}"
                );
                assert!(e.contains(needle), "{value}: {e}");
            }
            jail.clear_env();
            jail.set_env("LATCHKEY_ACCOUNT_EDITABLE_CLAIMS", "name");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("LATCHKEY_ACCOUNT__EDITABLE_CLAIMS"), "{e}");
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
                ("LATCHKEY_LOG_FORMAT", "xml", "log_format"),
                ("LATCHKEY_WORKERS", "many", "workers"),
            ] {
                jail.clear_env();
                jail.set_env(var, value);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains(needle), "{var}={value}: {e}");
                assert!(e.contains(var), "{var}={value}: {e}");
            }
            Ok(())
        });
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_setting_and_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("LATCHKEY_BIND", "nonsense");
            assert_eq!(
                Config::load(None).unwrap_err().to_string(),
                "setting `bind` (env LATCHKEY_BIND): must be an address:port such as 127.0.0.1:8080"
            );
            jail.set_env("LATCHKEY_BIND", "127.0.0.1:8080");
            jail.set_env("LATCHKEY_LOG_FORMAT", "xml");
            assert_eq!(
                Config::load(None).unwrap_err().to_string(),
                "setting `log_format` (env LATCHKEY_LOG_FORMAT): must be text or json"
            );
            jail.clear_env();
            jail.create_file("l.toml", "[tokens]\ncode_ttl = \"soon\"\n")?;
            let e = Config::load(Some(Path::new("l.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("setting `tokens.code_ttl` (env LATCHKEY_TOKENS__CODE_TTL): "),
                "{e}"
            );
            assert!(e.contains("l.toml"), "and the file: {e}");
            jail.create_file("l.toml", "tokens = 5\n")?;
            let e = Config::load(Some(Path::new("l.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("`tokens`") && e.contains("table"), "{e}");
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
        use SigningAlg::*;
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.keys.algorithms, [RS256]);
            assert_eq!(c.keys.rotation_period, 86_400);
            assert_eq!(c.keys.propagation(), 600, "twice the JWKS max-age");

            jail.create_file(
                "l.toml",
                "[keys]\nalgorithms = [\"ES256\", \"RS256\"]\njwks_max_age = 60\n",
            )?;
            let c = Config::load(Some(Path::new("l.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.keys.algorithms, [ES256, RS256]);
            assert_eq!(c.keys.propagation(), 120);

            for value in ["EdDSA, PS256", "[EdDSA, PS256]"] {
                jail.set_env("LATCHKEY_KEYS__ALGORITHMS", value);
                let c = Config::load(None).map_err(|e| e.to_string())?;
                assert_eq!(c.keys.algorithms, [EdDSA, PS256], "{value}");
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
                // An unknown name among known ones is refused, not skipped.
                (
                    &[("LATCHKEY_KEYS__ALGORITHMS", "RS256,HS256")],
                    "unknown algorithm \"HS256\"",
                ),
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
                (&[("LATCHKEY_KEYS__CLOCK_SKEW", "-1")], "keys.clock_skew"),
                (
                    &[("LATCHKEY_KEYS__JWKS_MAX_AGE", "-1")],
                    "keys.jwks_max_age",
                ),
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
    fn metrics_listen_only_where_asked() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                c.server.metrics_bind, None,
                "no metrics listener by default"
            );
            jail.set_env("LATCHKEY_METRICS_BIND", "0.0.0.0:9464");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.metrics_bind, Some("0.0.0.0:9464".parse().unwrap()));
            jail.set_env("LATCHKEY_METRICS_BIND", "9464");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("LATCHKEY_METRICS_BIND"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks_from_file_or_env() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(
                c.server.trusted_proxies.is_empty(),
                "no proxy is trusted by default"
            );
            jail.set_env(
                "LATCHKEY_TRUSTED_PROXIES",
                "172.30.0.0/24, 10.1.2.3, fd00::/8",
            );
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let nets: Vec<String> = c
                .server
                .trusted_proxies
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

    #[test]
    fn resources_and_the_par_and_dpop_switches_come_from_the_environment() {
        Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert!(c.resources.allowed.is_empty());
            assert!(!c.par.required && c.dpop.require_nonce);
            jail.set_env(
                "LATCHKEY_RESOURCES",
                "https://api.example.com, urn:example:files",
            );
            jail.set_env("LATCHKEY_PAR__REQUIRED", "true");
            jail.set_env("LATCHKEY_DPOP__REQUIRE_NONCE", "false");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let r: Vec<&str> = c.resources.allowed.iter().map(|r| r.as_str()).collect();
            assert_eq!(r, ["https://api.example.com", "urn:example:files"]);
            assert!(c.par.required && !c.dpop.require_nonce);
            for bad in ["api", "https://api.example.com/#x"] {
                jail.set_env("LATCHKEY_RESOURCES", bad);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains("resources"), "{bad}: {e}");
            }
            jail.set_env("LATCHKEY_RESOURCES", "");
            // One underscore names no setting: refused, not ignored.
            jail.set_env("LATCHKEY_PAR_REQUIRED", "true");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("LATCHKEY_PAR__REQUIRED"), "{e}");
            Ok(())
        });
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
            assert_eq!(
                c.registration.allowed_scopes,
                Scope::parse("openid api:read").unwrap()
            );
            for (var, value) in [
                ("LATCHKEY_REGISTRATION__ALLOWED_SCOPES", "open id"),
                ("LATCHKEY_REGISTRATION__ALLOWED_SCOPES", ""),
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

    #[test]
    fn every_section_refuses_its_own_out_of_range_values() {
        Jail::expect_with(|jail| {
            for (var, value) in [
                ("LATCHKEY_REFRESH__IDLE_TIMEOUT", "59"),
                ("LATCHKEY_REFRESH__RECOVERY_WINDOW", "301"),
                ("LATCHKEY_REVOCATIONS__SYNC_INTERVAL_MS", "10"),
                ("LATCHKEY_REVOCATIONS__MAX_STALENESS_SECS", "0"),
                ("LATCHKEY_DATABASE__MAX_CONNECTIONS", "0"),
                ("LATCHKEY_TOKENS__SESSION_TTL", "59"),
            ] {
                jail.clear_env();
                jail.set_env(var, value);
                let e = Config::load(None).unwrap_err().to_string();
                assert!(e.contains(var), "{var}={value}: {e}");
            }
            Ok(())
        });
    }
}
