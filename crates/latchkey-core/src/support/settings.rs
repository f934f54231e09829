//! The settings the use cases read, already validated by the configuration
//! layer.

use crate::keys::KeySettings;
use crate::passwords::Argon2Params;
use crate::throttle::ThrottlePolicy;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer identifier, without a trailing slash.
    pub issuer: String,
    /// Seconds an access token lives.
    pub access_token_ttl: i64,
    /// Seconds an ID token lives.
    pub id_token_ttl: i64,
    /// Seconds an authorization code lives (at most 600).
    pub code_ttl: i64,
    /// Seconds a sign-in or consent page may be left open.
    pub pending_ttl: i64,
    /// Seconds a browser session lasts after sign-in.
    pub session_ttl: i64,
    /// The `aud` of access tokens.
    pub access_token_audience: String,
    /// Scopes Latchkey knows (advertised in discovery).
    pub scopes_supported: Vec<String>,
    pub argon2: Argon2Params,
    pub throttle: ThrottlePolicy,
    /// Signing algorithms, key rotation and JWT clock skew.
    pub keys: KeySettings,
    /// Seconds a refresh family lives, however much it is used.
    pub refresh_family_lifetime: i64,
    /// Seconds a refresh family may go unused before it dies.
    pub refresh_idle_timeout: i64,
    /// Seconds during which the token just rotated may be presented once
    /// more (lost response); 0 turns recovery off.
    pub refresh_recovery_window: i64,
    /// Seconds the in-memory revocation mirror may go without a successful
    /// sync before checks go to the database.
    pub revocation_mirror_staleness: i64,
    /// Dynamic registration, secret rotation and client assertions.
    pub registration: crate::registration::RegistrationSettings,
}

impl Settings {
    /// Defaults for an issuer; the configuration layer overrides them.
    pub fn for_issuer(issuer: &str) -> Settings {
        let issuer = issuer.trim_end_matches('/').to_owned();
        Settings {
            access_token_audience: issuer.clone(),
            issuer,
            access_token_ttl: 300,
            id_token_ttl: 600,
            code_ttl: 60,
            pending_ttl: 600,
            session_ttl: 12 * 3600,
            scopes_supported: ["openid", "profile", "email", "offline_access", "sessions"]
                .map(String::from)
                .to_vec(),
            argon2: Argon2Params::default(),
            throttle: ThrottlePolicy::default(),
            keys: KeySettings::default(),
            refresh_family_lifetime: 30 * 86_400,
            refresh_idle_timeout: 14 * 86_400,
            refresh_recovery_window: 0,
            revocation_mirror_staleness: 5,
            registration: Default::default(),
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// How long a revocation must be remembered: the longest an access
    /// token it concerns can live, plus clock leeway.
    pub fn revocation_ttl(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl) + 60
    }

    /// Cookies get `Secure` when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}
