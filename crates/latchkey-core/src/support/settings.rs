//! The settings the use cases read: the configuration's own sections,
//! already validated by `latchkey-config`, plus the few rules that are not
//! settings (how long a sign-in page may stay open, which scopes Latchkey
//! knows, login throttling).

use latchkey_config::{
    Account, Config, Keys, Passwords, Refresh, Registration, Revocations, Tokens,
};
use latchkey_domain::rotation::RotationPolicy;

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::{Client, ClientRegistration, Reach};
use latchkey_protocol::registration::{ClientMetadata, RegistrationPolicy, ValidClientMetadata};
use latchkey_protocol::OAuthError;

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
    /// What users may change on their account pages.
    pub account: Account,
    /// How users must sign in (`require_mfa`).
    pub auth: latchkey_config::Auth,
    /// Whether every client must push its authorization requests.
    pub par: latchkey_config::Par,
    /// Whether DPoP proofs need a server nonce.
    pub dpop: latchkey_config::Dpop,
    /// Whether every client follows the FAPI 2.0 Security Profile.
    pub fapi2: latchkey_config::Fapi2,
    /// Resources (RFC 8707) every client may ask tokens for.
    pub resources: Vec<latchkey_protocol::resource::Resource>,
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
            account: config.account.clone(),
            auth: config.auth.clone(),
            par: config.par.clone(),
            dpop: config.dpop.clone(),
            fapi2: config.fapi2.clone(),
            resources: config.resources.allowed.clone(),
            pending_ttl: 600,
            scopes_supported: [
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "groups",
                "offline_access",
                "sessions",
            ]
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
    /// Whether `client` follows the FAPI 2.0 Security Profile: its own
    /// setting, or the server's for every client.
    pub fn fapi2(&self, client: &latchkey_domain::Client) -> bool {
        client.fapi2 || self.fapi2.required
    }

    /// The first of `resources` that `client` may not ask tokens for (RFC
    /// 8707): neither every client's (`resources`) nor given to it.
    pub fn resource_refused<'r>(
        &self,
        client: &latchkey_domain::Client,
        resources: &'r latchkey_protocol::resource::Resources,
    ) -> Option<&'r latchkey_protocol::resource::Resource> {
        resources
            .iter()
            .find(|r| !self.resources.contains(r) && !client.resources.contains(r))
    }

    pub fn access_token_audience(&self) -> &str {
        self.tokens
            .access_token_audience
            .as_deref()
            .unwrap_or(&self.issuer)
    }

    /// How long a revocation must be remembered: the longest an access
    /// token it concerns can live, plus clock leeway.
    pub fn revocation_ttl(&self) -> i64 {
        self.tokens.longest_signed() + self.revocation_leeway()
    }

    /// How long past its `exp` a revocation is kept: at least as long as
    /// the token itself is still accepted (`keys.clock_skew`), so that a
    /// revoked token never comes back to life.
    pub fn revocation_leeway(&self) -> i64 {
        self.keys.clock_skew.max(60)
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

    // The rules below follow from the settings alone.

    /// What registrations may ask for: the operator's scopes, the enabled
    /// ID-token algorithms, and whether the URLs Latchkey connects to may
    /// lead inside (for an operator, or for everybody if the operator says
    /// so).
    pub fn registration_policy(&self, by_operator: bool) -> RegistrationPolicy {
        RegistrationPolicy {
            allowed_scope: self.registration.allowed_scopes.clone(),
            id_token_algs: self.keys.algorithms.clone(),
            internal_uris: by_operator || self.registration.allow_internal_uris,
        }
    }

    /// Validates metadata with the policy for whoever sends it.
    pub fn validate_metadata(
        &self,
        metadata: &ClientMetadata,
        by_operator: bool,
    ) -> Result<ValidClientMetadata, OAuthError> {
        metadata.validate(&self.registration_policy(by_operator))
    }

    /// Which addresses Latchkey may connect to for a client with this
    /// registration record: anywhere for a client an operator vouches for
    /// (or when the operator allows internal URLs for all), public ones
    /// otherwise. No record (a client deleted meanwhile) is no vouching.
    pub fn reach_of(&self, registration: Option<&ClientRegistration>) -> Reach {
        let vouched = registration.is_some_and(|r| r.by_operator);
        if vouched || self.registration.allow_internal_uris {
            Reach::Anywhere
        } else {
            Reach::PublicOnly
        }
    }

    /// The algorithm of a client's ID tokens: its registered
    /// `id_token_signed_response_alg` if enabled, else RS256 (the OIDC
    /// default) if enabled, else the first enabled algorithm.
    pub fn id_token_alg(&self, client: &Client) -> SigningAlg {
        let enabled = &self.keys.algorithms;
        // FAPI 2.0: the client's algorithm if the profile allows it, else
        // the profile's first enabled one.
        if let Some(strong) = self.fapi2_alg(client) {
            return match client.id_token_signed_response_alg {
                Some(alg) if alg != SigningAlg::RS256 && enabled.contains(&alg) => alg,
                _ => strong,
            };
        }
        if let Some(alg) = client.id_token_signed_response_alg {
            if enabled.contains(&alg) {
                return alg;
            }
            tracing::warn!(
                client_id = %client.id,
                %alg,
                "the client's ID-token algorithm is not enabled; using the default"
            );
        }
        if enabled.contains(&SigningAlg::RS256) {
            SigningAlg::RS256
        } else {
            enabled.first().copied().unwrap_or(SigningAlg::RS256)
        }
    }

    /// For a client on the FAPI 2.0 profile, the first enabled algorithm
    /// the profile allows (§5.4: PS256, ES256, EdDSA), which signs its ID
    /// and access tokens; `None` for any other client, or when none of
    /// them is enabled (start-up warns of that).
    pub fn fapi2_alg(&self, client: &Client) -> Option<SigningAlg> {
        if !self.fapi2(client) {
            return None;
        }
        self.keys
            .algorithms
            .iter()
            .copied()
            .find(|a| a != &SigningAlg::RS256)
    }
}
