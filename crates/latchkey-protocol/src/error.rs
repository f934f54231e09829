//! The error codes of the protocols Latchkey speaks, each with its HTTP
//! status, written once. Endpoint-specific error enums in the core fold into
//! these; the HTTP layer turns an [`OAuthError`] into a response and nothing
//! else decides a status code.

use std::borrow::Cow;

use serde::Serialize;

/// One variant per error code Latchkey can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2: malformed or missing parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (401).
    InvalidClient,
    /// RFC 6749 §5.2: bad, expired, used or foreign code or refresh token.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1, §5.2.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the user or server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: only `code` is supported.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1; never carries internal detail.
    ServerError,
    /// RFC 6749 §4.1.2.1; also Latchkey's answer when storage is down (503).
    TemporarilyUnavailable,
    /// OIDC Core §3.1.2.6: `prompt=none` and no session.
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and consent needed.
    ConsentRequired,
    /// OIDC Core §3.1.2.6.
    InteractionRequired,
    /// OIDC Core §3.1.2.6: `request` objects are not supported.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: `request_uri` is not supported.
    RequestUriNotSupported,
    /// RFC 9126 §4, RFC 9101 §6.2: the `request_uri` is unknown, expired,
    /// used or another client's.
    InvalidRequestUri,
    /// RFC 9101 §6.2: the request object is malformed or fails its checks.
    InvalidRequestObject,
    /// RFC 9449 §5: the DPoP proof is missing, malformed or fails its checks.
    InvalidDpopProof,
    /// RFC 9449 §8: the DPoP proof must carry the server's current nonce
    /// (sent in the `DPoP-Nonce` header).
    UseDpopNonce,
    /// RFC 8707 §2: a `resource` that is malformed or not one the client
    /// may ask for.
    InvalidTarget,
    /// RFC 6750 §3.1 (401).
    InvalidToken,
    /// RFC 6750 §3.1 (403).
    InsufficientScope,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2.
    InvalidClientMetadata,
    /// RFC 8628 §3.5: the user has not answered the device's request yet.
    AuthorizationPending,
    /// RFC 8628 §3.5: the device polls too fast; its interval grew by 5 s.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired before the user answered.
    ExpiredToken,
    /// RFC 8628 §3.5: the user denied the device's request. The same wire
    /// name as [`ErrorCode::AccessDenied`], answered with 400 like every
    /// token endpoint error (RFC 6749 §5.2).
    DeviceAccessDenied,
    /// Not an OAuth code: a route that does not exist (404).
    NotFound,
    /// Not an OAuth code: a method the route does not take (405).
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        self.row().1
    }

    /// The single table of code → wire name → status.
    fn row(self) -> (&'static str, u16) {
        use ErrorCode::*;
        match self {
            InvalidRequest => ("invalid_request", 400),
            InvalidClient => ("invalid_client", 401),
            InvalidGrant => ("invalid_grant", 400),
            UnauthorizedClient => ("unauthorized_client", 400),
            UnsupportedGrantType => ("unsupported_grant_type", 400),
            InvalidScope => ("invalid_scope", 400),
            AccessDenied => ("access_denied", 403),
            UnsupportedResponseType => ("unsupported_response_type", 400),
            ServerError => ("server_error", 500),
            TemporarilyUnavailable => ("temporarily_unavailable", 503),
            LoginRequired => ("login_required", 400),
            ConsentRequired => ("consent_required", 400),
            InteractionRequired => ("interaction_required", 400),
            RequestNotSupported => ("request_not_supported", 400),
            RequestUriNotSupported => ("request_uri_not_supported", 400),
            InvalidRequestUri => ("invalid_request_uri", 400),
            InvalidRequestObject => ("invalid_request_object", 400),
            InvalidDpopProof => ("invalid_dpop_proof", 400),
            UseDpopNonce => ("use_dpop_nonce", 400),
            InvalidTarget => ("invalid_target", 400),
            InvalidToken => ("invalid_token", 401),
            InsufficientScope => ("insufficient_scope", 403),
            UnsupportedTokenType => ("unsupported_token_type", 400),
            InvalidRedirectUri => ("invalid_redirect_uri", 400),
            InvalidClientMetadata => ("invalid_client_metadata", 400),
            AuthorizationPending => ("authorization_pending", 400),
            SlowDown => ("slow_down", 400),
            ExpiredToken => ("expired_token", 400),
            DeviceAccessDenied => ("access_denied", 400),
            NotFound => ("not_found", 404),
            MethodNotAllowed => ("method_not_allowed", 405),
        }
    }
}

/// An error as it goes on the wire: `{"error": ..., "error_description": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    #[serde(rename = "error", serialize_with = "ser_code")]
    pub code: ErrorCode,
    #[serde(rename = "error_description", skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'static, str>>,
}

fn ser_code<S: serde::Serializer>(code: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.as_str())
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            code,
            description: Some(description.into()),
        }
    }

    pub fn bare(code: ErrorCode) -> Self {
        OAuthError {
            code,
            description: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {}", self.code.as_str(), d),
            None => f.write_str(self.code.as_str()),
        }
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_rfc6749_shape() {
        let e = OAuthError::new(ErrorCode::InvalidGrant, "code already used");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"error":"invalid_grant","error_description":"code already used"}"#
        );
        let bare = OAuthError::bare(ErrorCode::InvalidClient);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"error":"invalid_client"}"#
        );
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert_eq!(ErrorCode::TemporarilyUnavailable.status(), 503);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
        assert_eq!(ErrorCode::ServerError.status(), 500);
    }
}
