//! Client metadata for dynamic registration (RFC 7591 §2, RFC 7592) and the
//! rules a registration must follow, as one pure function.
//!
//! [`ClientMetadata`] is what a client sends: every member Latchkey knows,
//! each optional; unknown members are dropped by deserialisation and never
//! stored. [`ClientMetadata::validate`] checks it against the operator's
//! [`RegistrationPolicy`] and returns a [`ValidClientMetadata`] with typed
//! values and defaults filled in, or an RFC 7591 §3.2.2 error
//! (`invalid_redirect_uri` or `invalid_client_metadata`) that says what is
//! wrong. [`ClientInformation`] is the answer (RFC 7591 §3.2.1, RFC 7592 §3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, OAuthError};
use crate::outbound::public_https_url;
use crate::types::{check_display_name, RedirectUri, Scope};
use crate::vocabulary::{ClientAuthMethod, GrantType, Requirement, ResponseType, SigningAlg};

const MAX_URIS: usize = 20;
const MAX_CONTACTS: usize = 10;
const MAX_URI_LEN: usize = 2048;
const MAX_JWKS_BYTES: usize = 16 * 1024;
const MAX_JWKS_KEYS: usize = 10;

/// Client metadata as sent to `POST /register` or `PUT /register/{id}`
/// (RFC 7591 §2, OIDC Registration §2, Back-Channel Logout §2.2,
/// RP-Initiated Logout §3.1). Members Latchkey does not know are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientMetadata {
    /// Required for the `authorization_code` grant; matched byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post`,
    /// `private_key_jwt` or `none` (a public client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Among `authorization_code` (default), `refresh_token`,
    /// `client_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `["code"]` with the `authorization_code` grant, `[]` without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Space-separated; within what the operator allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// https only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// An https URL of the client's JWK Set (`private_key_jwt` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client's JWK Set, inline (`private_key_jwt` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<Value>,
    /// Among the algorithms the operator enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Where RP-initiated logout may send the browser back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Where back-channel logout tokens are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Exact origins (`https://app.example.com`) of browser clients; no
    /// wildcards, no paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cors_origins: Option<Vec<String>>,
    /// RFC 9126 §6: the client's authorization requests must be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2: the client's access tokens must be DPoP-bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
}

/// What the operator allows registrations to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// Scopes a registered client may be allowed; also the default.
    pub allowed_scope: Scope,
    /// `id_token_signed_response_alg` values (the enabled algorithms).
    pub id_token_algs: Vec<SigningAlg>,
    /// Whether the URLs Latchkey itself connects to (`jwks_uri`,
    /// `backchannel_logout_uri`) may lead into its own network: for an
    /// operator, or where the operator allows it. Otherwise each must be
    /// https on a public address or host name ([`crate::outbound`]).
    pub internal_uris: bool,
}

/// Metadata that passed every rule, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClientMetadata {
    pub redirect_uris: Vec<RedirectUri>,
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// In the order given, without duplicates.
    pub grant_types: Vec<GrantType>,
    /// The `client_name` given or, without one, the host of `client_uri`:
    /// either way a name that passed [`check_display_name`] for a
    /// registrant.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Scope,
    pub contacts: Vec<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub jwks_uri: Option<String>,
    /// The JWK Set as compact JSON text.
    pub jwks: Option<String>,
    pub id_token_signed_response_alg: Option<SigningAlg>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<String>,
    pub allowed_cors_origins: Vec<String>,
    pub require_pushed_authorization_requests: bool,
    pub dpop_bound_access_tokens: bool,
}

impl ValidClientMetadata {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method.is_public()
    }

    /// Whether the client authenticates with a secret Latchkey issues.
    pub fn uses_secret(&self) -> bool {
        self.token_endpoint_auth_method.uses_secret()
    }

    pub fn response_types(&self) -> Vec<ResponseType> {
        if self.grant_types.contains(&GrantType::AuthorizationCode) {
            vec![ResponseType::Code]
        } else {
            Vec::new()
        }
    }
}

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description.into())
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description.into())
}

impl ClientMetadata {
    /// Reads metadata from a JSON document. A member of the wrong type is
    /// `invalid_client_metadata`; unknown members are ignored.
    pub fn from_json(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| OAuthError::invalid_request("the body is not valid JSON"))?;
        if !value.is_object() {
            return Err(metadata_error("the body must be a JSON object"));
        }
        serde_json::from_value(value)
            .map_err(|e| metadata_error(format!("malformed metadata: {e}")))
    }

    /// Applies every registration rule. See the module documentation.
    pub fn validate(&self, policy: &RegistrationPolicy) -> Result<ValidClientMetadata, OAuthError> {
        let method = match self.token_endpoint_auth_method.as_deref() {
            None => ClientAuthMethod::ClientSecretBasic,
            Some(m) => ClientAuthMethod::parse(m).map_err(|_| {
                metadata_error(format!(
                    "token_endpoint_auth_method {m:?} is not supported ({})",
                    ClientAuthMethod::NAMES.join(", ")
                ))
            })?,
        };
        let public = method.is_public();

        let grant_types = self.grant_types()?;
        if public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(metadata_error(
                "a public client (token_endpoint_auth_method none) cannot use client_credentials",
            ));
        }
        let code_grant = grant_types.contains(&GrantType::AuthorizationCode);

        let mut redirect_uris = Vec::new();
        for r in bounded("redirect_uris", self.redirect_uris.as_deref())? {
            let uri = RedirectUri::parse_registrable(r, public)
                .map_err(|e| redirect_error(format!("redirect_uris: {r:?}: {e}")))?;
            if !redirect_uris.contains(&uri) {
                redirect_uris.push(uri);
            }
        }
        if code_grant && redirect_uris.is_empty() {
            return Err(redirect_error(
                "redirect_uris is required for the authorization_code grant",
            ));
        }
        if !code_grant && !redirect_uris.is_empty() {
            return Err(metadata_error(
                "redirect_uris are only used with the authorization_code grant",
            ));
        }

        let mut post_logout_redirect_uris = Vec::new();
        for r in bounded(
            "post_logout_redirect_uris",
            self.post_logout_redirect_uris.as_deref(),
        )? {
            let uri = RedirectUri::parse_registrable(r, public)
                .map_err(|e| metadata_error(format!("post_logout_redirect_uris: {r:?}: {e}")))?;
            if !post_logout_redirect_uris.contains(&uri) {
                post_logout_redirect_uris.push(uri);
            }
        }
        let backchannel_logout_uri = match &self.backchannel_logout_uri {
            Some(u) => {
                let uri = RedirectUri::parse_registrable(u, false)
                    .map_err(|e| metadata_error(format!("backchannel_logout_uri: {u:?}: {e}")))?
                    .into_string();
                Some(outbound_uri(policy, "backchannel_logout_uri", uri)?)
            }
            None => None,
        };
        if !code_grant
            && (!post_logout_redirect_uris.is_empty() || backchannel_logout_uri.is_some())
        {
            return Err(metadata_error(
                "logout URIs are only used with the authorization_code grant",
            ));
        }

        let scope = match self.scope.as_deref() {
            None | Some("") => policy.allowed_scope.clone(),
            Some(s) => {
                let scope = Scope::parse(s).map_err(|_| metadata_error("scope is malformed"))?;
                let extra = scope.difference(&policy.allowed_scope);
                if !extra.is_empty() {
                    return Err(metadata_error(format!(
                        "scope not allowed for registered clients: {}",
                        extra.join(" ")
                    )));
                }
                scope
            }
        };

        let (jwks, jwks_uri) = self.keys(method)?;
        let jwks_uri = match jwks_uri {
            Some(uri) => Some(outbound_uri(policy, "jwks_uri", uri)?),
            None => None,
        };

        let id_token_signed_response_alg = match &self.id_token_signed_response_alg {
            None => None,
            Some(alg) => match SigningAlg::parse(alg) {
                Ok(a) if policy.id_token_algs.contains(&a) => Some(a),
                _ => {
                    let enabled: Vec<&str> =
                        policy.id_token_algs.iter().map(|a| a.as_str()).collect();
                    return Err(metadata_error(format!(
                        "id_token_signed_response_alg {alg:?} is not enabled (enabled: {})",
                        enabled.join(", ")
                    )));
                }
            },
        };

        let client_uri = https_uri("client_uri", self.client_uri.as_deref())?;
        let client_name = match (&self.client_name, &client_uri) {
            (Some(n), _) => Some(
                check_display_name(n, true)
                    .map_err(|e| metadata_error(format!("client_name {e}")))?
                    .to_owned(),
            ),
            (None, Some(uri)) => Some(name_from_site(uri)?),
            (None, None) => None,
        };

        let mut contacts = Vec::new();
        let given = self.contacts.as_deref().unwrap_or_default();
        if given.len() > MAX_CONTACTS {
            return Err(metadata_error("contacts: at most 10"));
        }
        for c in given {
            let ok = c.len() <= 254
                && c.split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                && c.chars().all(|ch| ch.is_ascii_graphic());
            if !ok {
                return Err(metadata_error(format!(
                    "contacts: {c:?} is not an e-mail address"
                )));
            }
            if !contacts.contains(c) {
                contacts.push(c.clone());
            }
        }

        let mut allowed_cors_origins = Vec::new();
        for o in bounded("allowed_cors_origins", self.allowed_cors_origins.as_deref())? {
            let origin = exact_origin(o)
                .map_err(|why| metadata_error(format!("allowed_cors_origins: {o:?}: {why}")))?;
            if !allowed_cors_origins.contains(&origin) {
                allowed_cors_origins.push(origin);
            }
        }

        Ok(ValidClientMetadata {
            redirect_uris,
            token_endpoint_auth_method: method,
            grant_types,
            client_name,
            client_uri,
            logo_uri: https_uri("logo_uri", self.logo_uri.as_deref())?,
            scope,
            contacts,
            tos_uri: https_uri("tos_uri", self.tos_uri.as_deref())?,
            policy_uri: https_uri("policy_uri", self.policy_uri.as_deref())?,
            jwks_uri,
            jwks,
            id_token_signed_response_alg,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            allowed_cors_origins,
            require_pushed_authorization_requests: self
                .require_pushed_authorization_requests
                .unwrap_or(false),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
        })
    }

    /// `grant_types` and `response_types`, each defaulted from the other
    /// (RFC 7591 §2.1), and required to agree: `code` if and only if
    /// `authorization_code`; `refresh_token` only with `authorization_code`
    /// (refresh tokens come from code exchanges).
    fn grant_types(&self) -> Result<Vec<GrantType>, OAuthError> {
        let mut response_types: Vec<ResponseType> = Vec::new();
        if let Some(given) = &self.response_types {
            for r in given {
                let r = ResponseType::parse(r).map_err(|_| {
                    metadata_error(format!(
                        "response_types: {r:?} is not supported (only \"code\")"
                    ))
                })?;
                if !response_types.contains(&r) {
                    response_types.push(r);
                }
            }
        }
        let mut grants: Vec<GrantType> = Vec::new();
        match &self.grant_types {
            Some(given) => {
                for g in given {
                    let g = GrantType::parse(g).map_err(|_| {
                        metadata_error(format!(
                            "grant_types: {g:?} is not supported ({})",
                            GrantType::NAMES.join(", ")
                        ))
                    })?;
                    if !grants.contains(&g) {
                        grants.push(g);
                    }
                }
                if grants.is_empty() {
                    return Err(metadata_error("grant_types must not be empty"));
                }
            }
            None => grants.push(GrantType::AuthorizationCode),
        }
        let code_grant = grants.contains(&GrantType::AuthorizationCode);
        if self.response_types.is_some()
            && code_grant != response_types.contains(&ResponseType::Code)
        {
            return Err(metadata_error(
                "grant_types and response_types disagree: response type \"code\" goes with, and only with, the authorization_code grant",
            ));
        }
        // Refresh tokens come from a user's grant: a code exchange or a
        // device's approved request.
        if grants.contains(&GrantType::RefreshToken)
            && !code_grant
            && !grants.contains(&GrantType::DeviceCode)
        {
            return Err(metadata_error(
                "the refresh_token grant needs the authorization_code or device_code grant",
            ));
        }
        Ok(grants)
    }

    /// `jwks` or `jwks_uri`: exactly one with `private_key_jwt`, neither
    /// with any other method.
    fn keys(
        &self,
        method: ClientAuthMethod,
    ) -> Result<(Option<String>, Option<String>), OAuthError> {
        if method != ClientAuthMethod::PrivateKeyJwt {
            if self.jwks.is_some() || self.jwks_uri.is_some() {
                return Err(metadata_error(
                    "jwks and jwks_uri are only used with token_endpoint_auth_method private_key_jwt",
                ));
            }
            return Ok((None, None));
        }
        match (&self.jwks, &self.jwks_uri) {
            (Some(_), Some(_)) => Err(metadata_error(
                "jwks and jwks_uri must not both be given (RFC 7591 §2)",
            )),
            (None, None) => Err(metadata_error(
                "private_key_jwt needs the client's keys: jwks or an https jwks_uri",
            )),
            (None, Some(uri)) => Ok((None, https_uri("jwks_uri", Some(uri))?)),
            (Some(jwks), None) => Ok((Some(check_jwks(jwks)?), None)),
        }
    }
}

/// A URL Latchkey will connect to: unless the policy lets it lead inside,
/// https on a public address or host name.
fn outbound_uri(
    policy: &RegistrationPolicy,
    name: &str,
    uri: String,
) -> Result<String, OAuthError> {
    if !policy.internal_uris {
        if let Err(why) = public_https_url(&uri) {
            return Err(metadata_error(format!("{name}: {uri:?}: {why}")));
        }
    }
    Ok(uri)
}

/// The name of a client that gave none: the host of its `client_uri`, as
/// the URL parser normalises it (IDNA: lowercase, invisible characters
/// removed, other scripts in their `xn--` form), under the same rules as a
/// `client_name`, since users see it on the same pages.
fn name_from_site(uri: &str) -> Result<String, OAuthError> {
    let host = url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .ok_or_else(|| metadata_error(format!("client_uri: {uri:?}: no host")))?;
    check_display_name(&host, true)
        .map(str::to_owned)
        .map_err(|e| {
            metadata_error(format!(
                "without a client_name the client is named after the host of client_uri, {host:?}, which {e}"
            ))
        })
}

/// A list with a sane number of entries.
fn bounded<'a>(name: &str, list: Option<&'a [String]>) -> Result<&'a [String], OAuthError> {
    let list = list.unwrap_or_default();
    if list.len() > MAX_URIS {
        return Err(metadata_error(format!(
            "{name}: at most {MAX_URIS} entries"
        )));
    }
    Ok(list)
}

/// An absolute https URL without user information or fragment.
fn https_uri(name: &str, uri: Option<&str>) -> Result<Option<String>, OAuthError> {
    let Some(uri) = uri else {
        return Ok(None);
    };
    let bad = |why: &str| metadata_error(format!("{name}: {uri:?}: {why}"));
    if uri.len() > MAX_URI_LEN {
        return Err(bad("longer than 2048 characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad("not an absolute URI"))?;
    if url.scheme() != "https" || url.host().is_none() {
        return Err(bad("must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain user information"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    Ok(Some(uri.to_owned()))
}

/// A JWK Set with 1 to 10 public keys, each naming its type. Private
/// members are refused: a client that sends its private key has leaked it.
/// An RSA public key Latchkey will verify with: exponent 65537 (`AQAB`),
/// the only one in use, and a modulus of 2048 to 4096 bits. A huge
/// exponent or modulus makes every verification, forged ones included, an
/// expensive computation; an exponent of 1 makes the key forgeable.
pub fn rsa_key_refusal(e: &str, n: &str) -> Option<&'static str> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    if e != "AQAB" {
        return Some("RSA keys must use the public exponent 65537 (\"e\": \"AQAB\")");
    }
    let Ok(n) = URL_SAFE_NO_PAD.decode(n) else {
        return Some("an RSA key's \"n\" must be base64url");
    };
    let significant = n.iter().skip_while(|&&b| b == 0).count();
    if !(256..=512).contains(&significant) {
        return Some("RSA keys must have a modulus of 2048 to 4096 bits");
    }
    None
}

fn check_rsa_size(k: &serde_json::Map<String, Value>) -> Result<(), OAuthError> {
    let member = |m: &str| k.get(m).and_then(Value::as_str).unwrap_or_default();
    match rsa_key_refusal(member("e"), member("n")) {
        Some(why) => Err(metadata_error(format!("jwks: {why}"))),
        None => Ok(()),
    }
}

fn check_jwks(jwks: &Value) -> Result<String, OAuthError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| metadata_error("jwks must be a JWK Set: an object with a \"keys\" array"))?;
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(metadata_error("jwks must hold between 1 and 10 keys"));
    }
    for k in keys {
        let Some(k) = k.as_object() else {
            return Err(metadata_error("jwks: every key must be a JSON object"));
        };
        if !k.get("kty").is_some_and(Value::is_string) {
            return Err(metadata_error("jwks: every key needs a \"kty\""));
        }
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| k.contains_key(*m))
        {
            return Err(metadata_error(
                "jwks must hold public keys only (a private or symmetric key member was sent)",
            ));
        }
        if k.get("kty").and_then(Value::as_str) == Some("RSA") {
            check_rsa_size(k)?;
        }
    }
    let text = jwks.to_string();
    if text.len() > MAX_JWKS_BYTES {
        return Err(metadata_error("jwks is larger than 16 KiB"));
    }
    Ok(text)
}

/// An exact web origin: scheme, host and optional port, nothing else, in
/// its serialised form (`https://app.example.com`, `http://localhost:3000`).
/// https, or http on a loopback host.
pub fn exact_origin(o: &str) -> Result<String, &'static str> {
    if o.contains('*') {
        return Err("wildcards are not allowed");
    }
    let url = url::Url::parse(o).map_err(|_| "not an origin")?;
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => {}
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => {}
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => {}
        ("http", Some(url::Host::Domain("localhost"))) => {}
        ("http", Some(_)) => return Err("must use https (http only on a loopback host)"),
        _ => return Err("not an http(s) origin"),
    }
    let origin = url.origin().ascii_serialization();
    if origin != o {
        return Err(
            "must be exactly scheme://host[:port], without a path, query or trailing slash",
        );
    }
    Ok(origin)
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the
/// client's identifiers and credentials, then its registered metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientInformation {
    pub client_id: String,
    /// Only when a secret was just issued (registration or rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire. Present whenever the client has a
    /// secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// In the answers to the registration, a read and an update (RFC 7592
    /// §3): a new token each time, which replaces the one presented.
    /// Latchkey keeps only its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token_endpoint_auth_method: ClientAuthMethod,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub grant_types: Vec<GrantType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub response_types: Vec<ResponseType>,
    pub client_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cors_origins: Vec<String>,
    /// RFC 9126 §6.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// Latchkey's own, shown only by the admin API: whether an
    /// administrator allowed this client to introspect any token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspect: Option<bool>,
    /// Latchkey's own, shown only by the admin API: `required` (default)
    /// or `optional`, whether authorization requests must carry PKCE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub pkce: Option<Requirement>,
    /// Latchkey's own, shown only by the admin API: `required` (default)
    /// or `optional`, whether OpenID requests must carry a `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub nonce: Option<Requirement>,
    /// Latchkey's own, shown only by the admin API: whether every sign-in
    /// to the client needs a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa: Option<bool>,
    /// Latchkey's own, shown only by the admin API: the resources (RFC
    /// 8707) the client may ask tokens for beyond every client's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// Latchkey's own, shown only by the admin API: whether the client
    /// follows the FAPI 2.0 Security Profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fapi2: Option<bool>,
    /// Latchkey's own, shown only by the admin API: what the client's
    /// opt-outs from the strict defaults give up (empty when it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy() -> RegistrationPolicy {
        RegistrationPolicy {
            allowed_scope: Scope::parse("openid profile email offline_access api:read").unwrap(),
            id_token_algs: vec![SigningAlg::RS256, SigningAlg::ES256],
            internal_uris: false,
        }
    }

    fn meta(v: Value) -> ClientMetadata {
        ClientMetadata::from_json(v.to_string().as_bytes()).expect("parses")
    }

    fn web() -> Value {
        json!({ "redirect_uris": ["https://app.example.com/cb"], "client_name": "App" })
    }

    fn with(base: Value, extra: Value) -> Value {
        let mut b = base;
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    }

    fn ok(v: Value) -> ValidClientMetadata {
        meta(v.clone())
            .validate(&policy())
            .unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[track_caller]
    fn refused(v: Value, code: ErrorCode, needle: &str) {
        let e = meta(v.clone()).validate(&policy()).unwrap_err();
        assert_eq!(e.code, code, "{v}: {e}");
        let d = e.description.unwrap_or_default();
        assert!(d.contains(needle), "{v}: {d:?} lacks {needle:?}");
    }

    const META: ErrorCode = ErrorCode::InvalidClientMetadata;
    const REDIRECT: ErrorCode = ErrorCode::InvalidRedirectUri;

    #[test]
    fn defaults_fill_a_minimal_web_client() {
        let m = ok(web());
        assert_eq!(
            m.token_endpoint_auth_method,
            ClientAuthMethod::ClientSecretBasic
        );
        assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(m.response_types(), vec![ResponseType::Code]);
        assert_eq!(m.scope, policy().allowed_scope);
        assert!(m.uses_secret() && !m.is_public());
        assert_eq!(m.redirect_uris[0].as_str(), "https://app.example.com/cb");
    }

    #[test]
    fn unknown_members_are_ignored_and_wrong_types_refused() {
        let m = meta(with(
            web(),
            json!({"software_statement": "x.y.z", "is_admin": true, "client_secret": "mine"}),
        ));
        assert_eq!(m, meta(web()));
        let e =
            ClientMetadata::from_json(br#"{"redirect_uris": "https://a.example/cb"}"#).unwrap_err();
        assert_eq!(e.code, META);
        let e = ClientMetadata::from_json(b"[1]").unwrap_err();
        assert_eq!(e.code, META);
        let e = ClientMetadata::from_json(b"not json").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn redirect_uris_follow_rfc8252() {
        for good in [
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:8000/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            ok(with(web(), json!({ "redirect_uris": [good] })));
        }
        for (bad, why) in [
            ("http://app.example.com/cb", "https"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("/cb", "absolute"),
            ("https://user:pw@app.example.com/cb", "user information"),
            ("com.example.app:/cb", "private-use"),
            ("javascript:alert(1)", "absolute"),
        ] {
            refused(
                with(web(), json!({ "redirect_uris": [bad] })),
                REDIRECT,
                why,
            );
        }
        // Private-use schemes are for public (native) clients.
        ok(json!({"redirect_uris": ["com.example.app:/cb"], "token_endpoint_auth_method": "none"}));
        refused(json!({"client_name": "x"}), REDIRECT, "required");
        refused(json!({"redirect_uris": []}), REDIRECT, "required");
        let many: Vec<String> = (0..21).map(|i| format!("https://a.example/{i}")).collect();
        refused(json!({ "redirect_uris": many }), META, "at most");
        // Duplicates collapse; the text is kept exactly.
        let m = ok(json!({"redirect_uris": ["https://A.example/cb", "https://A.example/cb"]}));
        assert_eq!(m.redirect_uris.len(), 1);
        assert_eq!(m.redirect_uris[0].as_str(), "https://A.example/cb");
    }

    #[test]
    fn a_device_client_needs_no_redirect_uri_and_may_refresh() {
        let device = GrantType::DeviceCode.as_str();
        let m = ok(json!({
            "grant_types": [device, "refresh_token"],
            "token_endpoint_auth_method": "none",
        }));
        assert_eq!(
            m.grant_types,
            vec![GrantType::DeviceCode, GrantType::RefreshToken]
        );
        assert!(m.redirect_uris.is_empty() && m.response_types().is_empty());
        refused(
            json!({"grant_types": [device], "redirect_uris": ["https://a.example/cb"]}),
            META,
            "only used",
        );
        refused(json!({"grant_types": ["device_code"]}), META, device);
    }

    #[test]
    fn grant_and_response_types_must_agree() {
        let m = ok(with(
            web(),
            json!({"grant_types": ["authorization_code", "refresh_token", "authorization_code"]}),
        ));
        assert_eq!(
            m.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        let m = ok(json!({"grant_types": ["client_credentials"]}));
        assert!(m.response_types().is_empty());
        ok(json!({"grant_types": ["client_credentials"], "response_types": []}));
        ok(with(web(), json!({"response_types": ["code"]})));
        refused(
            with(web(), json!({"grant_types": ["implicit"]})),
            META,
            "implicit",
        );
        refused(
            with(web(), json!({"grant_types": ["password"]})),
            META,
            "password",
        );
        refused(with(web(), json!({"grant_types": []})), META, "empty");
        refused(
            with(web(), json!({"response_types": ["token"]})),
            META,
            "token",
        );
        refused(
            with(web(), json!({"response_types": ["code id_token"]})),
            META,
            "only",
        );
        refused(with(web(), json!({"response_types": []})), META, "disagree");
        refused(
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            META,
            "disagree",
        );
        refused(
            json!({"grant_types": ["refresh_token"]}),
            META,
            "refresh_token",
        );
        refused(
            json!({"grant_types": ["client_credentials"], "redirect_uris": ["https://a.example/cb"]}),
            META,
            "only used",
        );
    }

    #[test]
    fn auth_methods_and_keys() {
        for m in ClientAuthMethod::ALL {
            let extra = if m == ClientAuthMethod::PrivateKeyJwt {
                json!({"token_endpoint_auth_method": m, "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}})
            } else {
                json!({ "token_endpoint_auth_method": m })
            };
            assert_eq!(ok(with(web(), extra)).token_endpoint_auth_method, m);
        }
        refused(
            with(
                web(),
                json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            ),
            META,
            "not supported",
        );
        refused(
            with(
                web(),
                json!({"token_endpoint_auth_method": "tls_client_auth"}),
            ),
            META,
            "not supported",
        );
        let pkj = with(
            web(),
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
        );
        refused(pkj.clone(), META, "jwks or an https jwks_uri");
        let m = ok(with(
            pkj.clone(),
            json!({"jwks_uri": "https://app.example.com/jwks"}),
        ));
        assert_eq!(m.jwks_uri.as_deref(), Some("https://app.example.com/jwks"));
        assert!(!m.uses_secret());
        refused(
            with(
                pkj.clone(),
                json!({"jwks_uri": "http://app.example.com/jwks"}),
            ),
            META,
            "https",
        );
        refused(
            with(
                pkj.clone(),
                json!({"jwks_uri": "https://app.example.com/jwks", "jwks": {"keys": [{"kty": "EC"}]}}),
            ),
            META,
            "both",
        );
        for (jwks, why) in [
            (json!({"keys": []}), "between 1 and 10"),
            (json!([{"kty": "EC"}]), "JWK Set"),
            (json!({"keys": [{"crv": "P-256"}]}), "kty"),
            (json!({"keys": ["x"]}), "object"),
            (
                json!({"keys": [{"kty": "RSA", "n": "a", "e": "AQAB", "d": "secret"}]}),
                "public keys only",
            ),
            (
                json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
                "public keys only",
            ),
        ] {
            refused(with(pkj.clone(), json!({ "jwks": jwks })), META, why);
        }
        refused(
            with(web(), json!({"jwks": {"keys": [{"kty": "EC"}]}})),
            META,
            "only used with",
        );
        refused(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            META,
            "public client",
        );
    }

    #[test]
    fn scope_is_limited_to_the_policy() {
        let m = ok(with(web(), json!({"scope": "openid api:read"})));
        assert_eq!(m.scope.to_string(), "api:read openid");
        refused(with(web(), json!({"scope": "openid admin"})), META, "admin");
        refused(
            with(web(), json!({"scope": "openid  profile"})),
            META,
            "malformed",
        );
    }

    #[test]
    fn logout_uris_are_checked_like_redirect_uris() {
        let m = ok(with(
            web(),
            json!({
                "post_logout_redirect_uris": ["https://app.example.com/bye"],
                "backchannel_logout_uri": "https://app.example.com/bcl",
            }),
        ));
        assert_eq!(m.post_logout_redirect_uris.len(), 1);
        for bad in [
            "http://app.example.com/bye",
            "https://app.example.com/bye#x",
        ] {
            refused(
                with(web(), json!({ "post_logout_redirect_uris": [bad] })),
                META,
                "post_logout_redirect_uris",
            );
            refused(
                with(web(), json!({ "backchannel_logout_uri": bad })),
                META,
                "backchannel_logout_uri",
            );
        }
        // A back-channel receiver is a server: never a private-use scheme.
        refused(
            json!({
                "redirect_uris": ["com.example.app:/cb"],
                "token_endpoint_auth_method": "none",
                "backchannel_logout_uri": "com.example.app:/bcl",
            }),
            META,
            "private-use",
        );
    }

    #[test]
    fn urls_latchkey_connects_to_stay_outside_unless_the_policy_allows() {
        let pkj = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"});
        let inside = [
            "http://127.0.0.1:8080/any",
            "https://127.0.0.1:8443/any",
            "https://169.254.169.254/latest/meta-data",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://[fec0::1]/x",
            "https://0.1.2.3/x",
            "https://198.18.0.1/x",
            "https://foo.localhost/x",
            "http://localhost:3000/x",
        ];
        for uri in inside {
            refused(
                with(web(), json!({ "backchannel_logout_uri": uri })),
                META,
                "backchannel_logout_uri",
            );
            refused(
                with(pkj.clone(), json!({ "jwks_uri": uri })),
                META,
                "jwks_uri",
            );
        }
        let operator = RegistrationPolicy {
            internal_uris: true,
            ..policy()
        };
        let validate = |v: Value| meta(v.clone()).validate(&operator);
        for uri in inside {
            let m = validate(with(web(), json!({ "backchannel_logout_uri": uri }))).unwrap();
            assert_eq!(m.backchannel_logout_uri.as_deref(), Some(uri));
            if uri.starts_with("https:") {
                let m = validate(with(pkj.clone(), json!({ "jwks_uri": uri }))).unwrap();
                assert_eq!(m.jwks_uri.as_deref(), Some(uri));
            }
        }
        // Even an operator's jwks_uri is https.
        assert!(validate(with(pkj.clone(), json!({"jwks_uri": "http://127.0.0.1/x"}))).is_err());
        // URLs Latchkey never fetches are not kept at all.
        let m = ok(with(
            web(),
            json!({"sector_identifier_uri": "https://127.0.0.1/s", "request_uris": ["https://127.0.0.1/r"], "initiate_login_uri": "https://127.0.0.1/i"}),
        ));
        assert!(!format!("{m:?}").contains("127.0.0.1"));
    }

    #[test]
    fn informational_uris_must_be_https() {
        for name in ["logo_uri", "client_uri", "policy_uri", "tos_uri"] {
            let m = ok(with(web(), json!({ name: "https://app.example.com/x" })));
            assert!(format!("{m:?}").contains("https://app.example.com/x"));
            for bad in [
                "http://app.example.com/x",
                "javascript:alert(1)",
                "data:image/png;base64,AAAA",
                "https://u:p@app.example.com/x",
                "relative/path",
            ] {
                refused(with(web(), json!({ name: bad })), META, name);
            }
        }
    }

    #[test]
    fn cors_origins_are_exact() {
        let m = ok(with(
            web(),
            json!({"allowed_cors_origins": ["https://app.example.com", "http://localhost:3000", "https://app.example.com:8443"]}),
        ));
        assert_eq!(m.allowed_cors_origins.len(), 3);
        for bad in [
            "*",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "http://app.example.com",
            "https://APP.example.com",
            "null",
            "file:///etc",
        ] {
            refused(
                with(web(), json!({ "allowed_cors_origins": [bad] })),
                META,
                "allowed_cors_origins",
            );
        }
    }

    #[test]
    fn a_nameless_client_is_named_after_its_normalised_host_under_the_same_rules() {
        let named = |uri: &str| {
            let v = json!({ "redirect_uris": ["https://app.example.com/cb"], "client_uri": uri });
            meta(v).validate(&policy()).map(|m| m.client_name)
        };
        assert_eq!(
            named("https://App.Example.com:8443/x").unwrap().as_deref(),
            Some("app.example.com")
        );
        // IDNA drops invisible characters and spells other scripts as xn--.
        assert_eq!(
            named("https://a\u{200B}b.example/").unwrap().as_deref(),
            Some("ab.example")
        );
        assert_eq!(
            named("https://b\u{00FC}cher.example/").unwrap().as_deref(),
            Some("xn--bcher-kva.example")
        );
        for bad in [
            "https://latchkey/",
            "https://LATCHKEY.example/",
            "https://lat\u{00AD}chkey.example/",
            "https://latch\u{200D}key.example/",
        ] {
            let e = named(bad).unwrap_err();
            assert_eq!(e.code, META, "{bad:?}");
            assert!(
                e.description.unwrap_or_default().contains("client_uri"),
                "{bad:?}"
            );
        }
        // A client_name of its own takes precedence; no client_uri, no name.
        let m = ok(with(web(), json!({"client_uri": "https://latchkey/"})));
        assert_eq!(m.client_name.as_deref(), Some("App"));
        let m = ok(with(web(), json!({"client_name": null})));
        assert_eq!(m.client_name, None);
    }

    #[test]
    fn names_contacts_and_algorithms() {
        refused(
            with(web(), json!({"client_name": "  "})),
            META,
            "client_name",
        );
        refused(
            with(web(), json!({"client_name": "a\u{7}b"})),
            META,
            "client_name",
        );
        refused(
            with(web(), json!({"client_name": "x".repeat(201)})),
            META,
            "client_name",
        );
        let m = ok(with(web(), json!({"contacts": ["ops@example.com"]})));
        assert_eq!(m.contacts, vec!["ops@example.com"]);
        refused(
            with(web(), json!({"contacts": ["not an address"]})),
            META,
            "contacts",
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("a{i}@example.com")).collect();
        refused(
            with(web(), json!({ "contacts": eleven })),
            META,
            "at most 10",
        );
        let m = ok(with(
            web(),
            json!({"id_token_signed_response_alg": "ES256"}),
        ));
        assert_eq!(m.id_token_signed_response_alg, Some(SigningAlg::ES256));
        for alg in ["none", "HS256", "PS256"] {
            refused(
                with(web(), json!({ "id_token_signed_response_alg": alg })),
                META,
                "not enabled",
            );
        }
    }

    #[test]
    fn only_ordinary_rsa_keys_are_taken() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let n = |bytes: usize| URL_SAFE_NO_PAD.encode(vec![0xC5u8; bytes]);
        assert_eq!(rsa_key_refusal("AQAB", &n(256)), None);
        assert_eq!(rsa_key_refusal("AQAB", &n(512)), None);
        for (e, n) in [
            ("Aw".to_owned(), n(256)),
            ("AQ".to_owned(), n(256)),
            (n(384), n(384)),
            ("AQAB".to_owned(), n(255)),
            ("AQAB".to_owned(), n(513)),
            ("AQAB".to_owned(), "not base64!".to_owned()),
        ] {
            assert!(rsa_key_refusal(&e, &n).is_some(), "e={e} n={}", n.len());
        }
    }

    #[test]
    fn exact_origin_serialises() {
        assert_eq!(
            exact_origin("https://a.example").unwrap(),
            "https://a.example"
        );
        assert!(
            exact_origin("https://a.example:443").is_err(),
            "default port spelled out"
        );
    }
}
