//! The settings the use cases read: the configuration's own sections,
//! already validated by `latchkey-config`, plus the few rules that are not
//! settings (how long a sign-in page may stay open, which scopes Latchkey
//! knows, login throttling).

use latchkey_config::{Config, Keys, Passwords, Refresh, Registration, Revocations, Tokens};
use latchkey_domain::rotation::RotationPolicy;

use crate::throttle::ThrottlePolicy;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer identifier, without a trailing slash.
    pub issuer: String,
    /// Token, code and session lifetimes; the access tokens' audience.
    pub tokens: Tokens,
    /// Signing algorithms, key rotation and JWT clock skew.
    pub keys: Keys,
    /// Refresh-token family lifetimes and the lost-response window.
    pub refresh: Refresh,
    /// How stale the in-memory revocation mirror may grow.
    pub revocations: Revocations,
    /// Dynamic registration, secret rotation and client assertions.
    pub registration: Registration,
    /// The argon2id cost of password hashes.
    pub passwords: Passwords,
    /// Seconds a sign-in or consent page may be left open.
    pub pending_ttl: i64,
    /// Scopes Latchkey knows (advertised in discovery).
    pub scopes_supported: Vec<String>,
    pub throttle: ThrottlePolicy,
}

impl Settings {
    /// The settings a validated configuration gives.
    pub fn new(config: &Config) -> Settings {
        Settings {
            issuer: config.server.issuer.as_str().to_owned(),
            tokens: config.tokens.clone(),
            keys: config.keys.clone(),
            refresh: config.refresh.clone(),
            revocations: config.revocations.clone(),
            registration: config.registration.clone(),
            passwords: config.passwords.clone(),
            pending_ttl: 600,
            scopes_supported: ["openid", "profile", "email", "offline_access", "sessions"]
                .map(String::from)
                .to_vec(),
            throttle: ThrottlePolicy::default(),
        }
    }

    /// The default settings for an issuer.
    pub fn for_issuer(issuer: &str) -> Settings {
        Settings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            ..Settings::new(&Config::default())
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The `aud` of access tokens: the configured one, else the issuer.
    pub fn access_token_audience(&self) -> &str {
        self.tokens
            .access_token_audience
            .as_deref()
            .unwrap_or(&self.issuer)
    }

    /// How long a revocation must be remembered: the longest an access
    /// token it concerns can live, plus clock leeway.
    pub fn revocation_ttl(&self) -> i64 {
        self.tokens.longest_signed() + 60
    }

    /// The rotation policy the key settings and the token lifetimes give.
    pub fn key_policy(&self) -> RotationPolicy {
        let keys = &self.keys;
        RotationPolicy {
            algorithms: keys.algorithms.clone(),
            rotation_period: keys.rotation_period,
            propagation: keys.propagation(),
            // A token signed just before the key retired lives this long;
            // another instance may go on signing with the retired key until
            // its next check; verifiers allow the skew on top.
            retire_for: self.tokens.longest_signed() + keys.clock_skew + keys.check_interval,
        }
    }

    /// Cookies get `Secure` when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}
