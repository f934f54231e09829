//! What Latchkey stores, as typed values. Times are Unix seconds; secrets
//! (codes, session cookies, client secrets) appear only as their hashes.

use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::{ClientId, Nonce, RedirectUri, Scope};

/// A grant a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// A public client: no secret; PKCE protects its codes.
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub auth_method: AuthMethod,
    /// Keyed hash of the current secret (confidential clients).
    pub secret_hash: Option<String>,
    /// When the current secret stops working (`client_secret_expires_at`).
    pub secret_expires_at: Option<i64>,
    /// The secret it replaced, still accepted until `previous_secret_expires_at`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    /// The scopes this client may ask for.
    pub scope: Scope,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub allowed_cors_origins: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Exact, byte-for-byte redirect URI matching (RFC 9700 §2.1).
    pub fn registered_redirect_uri(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.as_str() == requested)
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The stable `sub`.
    pub id: String,
    pub username: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A browser's signed-in session at Latchkey (the `sid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the session cookie's value.
    pub token_hash: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When the user last proved who they are (OIDC `auth_time`).
    pub auth_time: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub ended_at: Option<i64>,
}

impl BrowserSession {
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// An authorization request waiting for the user to sign in or consent.
/// The validated request is kept as its query string and parsed again when
/// the flow resumes, so the same rules apply on both sides of the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub id: String,
    pub client_id: ClientId,
    pub query: String,
    /// The session that signed in for this request, once one has.
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An issued authorization code (stored by hash). It is single-use: the
/// first redemption marks it consumed and records the access token issued
/// from it, so a replay can revoke that token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: ClientId,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: RedirectUri,
    pub code_challenge: CodeChallenge,
    pub nonce: Option<Nonce>,
    pub scope: Scope,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// `jti` and expiry of the access token issued when it was redeemed.
    pub access_token_jti: Option<String>,
    pub access_token_expires_at: Option<i64>,
}

impl AuthorizationCode {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// This call consumed the code (it was unused).
    Redeemed(AuthorizationCode),
    /// The code had already been consumed: a replay.
    AlreadyUsed(AuthorizationCode),
    NotFound,
}

/// What a redemption records about the tokens it is about to issue, written
/// in the same statement that consumes the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedFromCode {
    pub access_token_jti: String,
    pub access_token_expires_at: i64,
}

/// A user's remembered consent for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: ClientId,
    pub scope: Scope,
    pub granted_at: i64,
}

/// A revoked access token, kept until it would have expired anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    pub jti: String,
    pub expires_at: i64,
    pub revoked_at: i64,
    pub reason: String,
}

/// A security-relevant event for the audit trail. Never carries a token or
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}
