//! Provider metadata, serialised once at start and served as bytes.

use std::sync::Arc;

use latchkey_protocol::discovery::ProviderMetadata;

use crate::settings::Settings;

pub struct Discovery {
    pub metadata: ProviderMetadata,
    /// The JSON document, precomputed.
    pub body: Arc<[u8]>,
}

impl Discovery {
    pub fn build(settings: &Settings) -> Discovery {
        let metadata = ProviderMetadata {
            issuer: settings.issuer.clone(),
            authorization_endpoint: settings.endpoint("/authorize"),
            token_endpoint: settings.endpoint("/token"),
            jwks_uri: settings.endpoint("/jwks"),
            userinfo_endpoint: settings.endpoint("/userinfo"),
            revocation_endpoint: settings.endpoint("/revoke"),
            introspection_endpoint: settings.endpoint("/introspect"),
            end_session_endpoint: settings.endpoint("/logout"),
            registration_endpoint: settings.endpoint("/register"),
            scopes_supported: settings.scopes_supported.clone(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: vec![
                "authorization_code",
                "client_credentials",
                "refresh_token",
            ],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: settings
                .keys
                .algorithms
                .iter()
                .map(|alg| alg.as_str())
                .collect(),
            token_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            token_endpoint_auth_signing_alg_values_supported:
                latchkey_domain::keys::SigningAlg::ALL
                    .iter()
                    .map(|alg| alg.as_str())
                    .collect(),
            revocation_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            code_challenge_methods_supported: vec!["S256"],
            claims_supported: vec![
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "azp",
                "sid",
                "name",
                "preferred_username",
                "email",
            ],
            prompt_values_supported: vec!["none", "login", "consent"],
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            require_request_uri_registration: false,
        };
        let body = serde_json::to_vec(&metadata).expect("provider metadata always serialises");
        Discovery {
            metadata,
            body: body.into(),
        }
    }
}
