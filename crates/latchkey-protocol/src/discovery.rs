//! Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2).

use serde::Serialize;

use crate::vocabulary::{
    ClientAuthMethod, GrantType, Prompt, ResponseMode, ResponseType, SigningAlg,
};

#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub end_session_endpoint: String,
    /// RFC 7591 `POST /register`.
    pub registration_endpoint: String,
    /// RFC 8628 `POST /device_authorization`.
    pub device_authorization_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<ResponseType>,
    pub response_modes_supported: Vec<ResponseMode>,
    pub grant_types_supported: Vec<GrantType>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<SigningAlg>,
    pub token_endpoint_auth_methods_supported: Vec<ClientAuthMethod>,
    /// Algorithms accepted for `private_key_jwt` assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<SigningAlg>,
    pub revocation_endpoint_auth_methods_supported: Vec<ClientAuthMethod>,
    pub introspection_endpoint_auth_methods_supported: Vec<ClientAuthMethod>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub acr_values_supported: Vec<&'static str>,
    pub prompt_values_supported: Vec<Prompt>,
    pub authorization_response_iss_parameter_supported: bool,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub require_request_uri_registration: bool,
    /// RFC 9126 §5.
    pub pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: whether every client must push.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9101 §10.5: request objects are accepted at the pushed
    /// authorization request endpoint only.
    pub request_object_signing_alg_values_supported: Vec<SigningAlg>,
    /// RFC 9449 §5.1.
    pub dpop_signing_alg_values_supported: Vec<SigningAlg>,
}
