//! Provider metadata, serialised once at start and served as bytes.

use std::sync::Arc;

use latchkey_protocol::authn::Level;
use latchkey_protocol::discovery::ProviderMetadata;
use latchkey_protocol::user_claims::user_claim_names;
use latchkey_protocol::{
    ClientAuthMethod, GrantType, Prompt, ResponseMode, ResponseType, SigningAlg,
};

use crate::oauth2::client_auth::REQUEST_OBJECT_ALGS;
use crate::settings::Settings;
use crate::support::dpop::PROOF_ALGS;

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
            device_authorization_endpoint: settings.endpoint("/device_authorization"),
            scopes_supported: settings.scopes_supported.clone(),
            response_types_supported: ResponseType::ALL.to_vec(),
            response_modes_supported: ResponseMode::ALL.to_vec(),
            grant_types_supported: GrantType::ALL.to_vec(),
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: settings.keys.algorithms.clone(),
            token_endpoint_auth_methods_supported: ClientAuthMethod::ALL.to_vec(),
            token_endpoint_auth_signing_alg_values_supported: SigningAlg::ALL.to_vec(),
            revocation_endpoint_auth_methods_supported: ClientAuthMethod::ALL.to_vec(),
            // Introspection is for confidential clients (resource servers).
            introspection_endpoint_auth_methods_supported: ClientAuthMethod::ALL
                .into_iter()
                .filter(|m| !m.is_public())
                .collect(),
            code_challenge_methods_supported: vec!["S256"],
            // The ID token's own claims, then every claim about a user.
            claims_supported: [
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "azp",
                "sid",
                "acr",
                "amr",
            ]
            .into_iter()
            .chain(user_claim_names())
            .collect(),
            acr_values_supported: Level::ALL.into_iter().map(Level::acr).collect(),
            prompt_values_supported: Prompt::ALL.to_vec(),
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            claims_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            require_request_uri_registration: false,
            pushed_authorization_request_endpoint: settings.endpoint("/par"),
            require_pushed_authorization_requests: settings.par.required || settings.fapi2.required,
            request_object_signing_alg_values_supported: REQUEST_OBJECT_ALGS.to_vec(),
            dpop_signing_alg_values_supported: PROOF_ALGS.to_vec(),
        };
        let body = serde_json::to_vec(&metadata).expect("provider metadata always serialises");
        Discovery {
            metadata,
            body: body.into(),
        }
    }
}
