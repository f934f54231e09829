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
            scopes_supported: ["openid", "profile", "email"].map(String::from).to_vec(),
            argon2: Argon2Params::default(),
            throttle: ThrottlePolicy::default(),
            keys: KeySettings::default(),
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Cookies get `Secure` when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}
