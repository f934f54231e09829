//! What Latchkey stores, as typed values. Times are Unix seconds; secrets
//! (codes, session cookies, client secrets) appear only as their hashes.

pub use latchkey_protocol::authn::Methods;
use latchkey_protocol::authorize::ClientRules;
pub use latchkey_protocol::dpop::Jkt;
use latchkey_protocol::pkce::CodeChallenge;
pub use latchkey_protocol::resource::Resources;
pub use latchkey_protocol::user_claims::{Groups, RequestedClaims, StandardClaims};
pub use latchkey_protocol::{ClientAuthMethod, GrantType, Requirement};
use latchkey_protocol::{ClientId, Nonce, RedirectUri, Scope, SigningAlg};

use crate::ids::{FamilyId, Jti, SessionId, TokenHash, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub auth_method: ClientAuthMethod,
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
    pub id_token_signed_response_alg: Option<SigningAlg>,
    pub allowed_cors_origins: Vec<String>,
    /// A resource server an administrator allowed to introspect any token;
    /// other clients learn only about tokens issued to them or naming them
    /// in `aud`. Never set through dynamic registration.
    pub introspect: bool,
    /// Whether its authorization requests must carry a PKCE challenge.
    /// `Optional` only for confidential clients; set by an operator only.
    pub pkce: Requirement,
    /// Whether its OpenID requests must carry a `nonce`. `Optional` only
    /// for confidential clients; set by an operator only.
    pub nonce: Requirement,
    /// Every sign-in to it needs a second factor (users without one
    /// enrol). Set by an operator only.
    pub require_mfa: bool,
    /// Its authorization requests must be pushed (RFC 9126 §6,
    /// `require_pushed_authorization_requests`).
    pub require_par: bool,
    /// Its access tokens must be DPoP-bound (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`): a token request without a proof is
    /// refused.
    pub dpop_bound: bool,
    /// Resources (RFC 8707) it may ask tokens for, beyond those every
    /// client may (`resources`). Set by an operator only.
    pub resources: Resources,
    /// The client follows the FAPI 2.0 Security Profile: pushed requests,
    /// DPoP, `private_key_jwt` with PS256, ES256 or EdDSA. Set by an
    /// operator only (or for every client by `fapi2.required`).
    pub fapi2: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == ClientAuthMethod::None
    }

    /// The operator's opt-outs from Latchkey's strict defaults, each with
    /// what it gives up: shown on the client's admin views and logged at
    /// start-up. Empty for a client with the defaults.
    pub fn compat_warnings(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if self.pkce.is_optional() {
            w.push(
                "pkce=optional: authorization requests without PKCE are accepted, so its \
                 codes rest on the client secret alone (RFC 9700 §2.1.1)",
            );
        }
        if self.nonce.is_optional() {
            w.push(
                "nonce=optional: OpenID requests without a nonce are accepted, and their \
                 ID tokens carry none to bind them to the browser's request",
            );
        }
        w
    }

    /// What its authorization requests must carry. A public client gets the
    /// strict rules whatever its row says (an opt-out is refused for it
    /// where it is set; this is the second lock).
    pub fn authorization_rules(&self) -> ClientRules {
        if self.is_public() {
            return ClientRules::default();
        }
        ClientRules {
            pkce: self.pkce,
            nonce: self.nonce,
        }
    }

    /// Whether a token request for one of its codes must carry a
    /// `code_verifier` whatever the code was issued with.
    pub fn requires_pkce(&self) -> bool {
        !self.authorization_rules().pkce.is_optional()
    }

    /// Takes the opt-outs of `old` (the same client before its metadata
    /// was replaced) as far as they fit: one that became public drops them.
    /// Returns the settings that changed (`pkce=required`, ...).
    pub fn keep_compat_of(&mut self, old: &Client) -> Vec<String> {
        let (pkce, nonce) = if self.is_public() {
            (Requirement::Required, Requirement::Required)
        } else {
            (old.pkce, old.nonce)
        };
        self.pkce = pkce;
        self.nonce = nonce;
        let mut dropped = Vec::new();
        if old.pkce != pkce {
            dropped.push(format!("pkce={pkce}"));
        }
        if old.nonce != nonce {
            dropped.push(format!("nonce={nonce}"));
        }
        dropped
    }

    /// Checks that the opt-outs fit the client (see [`check_compat`]).
    pub fn check_compat(&self) -> Result<(), &'static str> {
        check_compat(self.auth_method, self.pkce, self.nonce)?;
        if self.fapi2 {
            self.check_fapi2()?;
        }
        Ok(())
    }

    /// Whether the client can follow the FAPI 2.0 Security Profile: a
    /// confidential client authenticating with `private_key_jwt`, its
    /// redirect URIs https, PKCE not optional.
    pub fn check_fapi2(&self) -> Result<(), &'static str> {
        if self.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(
                "the FAPI 2.0 profile needs a client that authenticates with private_key_jwt",
            );
        }
        if self
            .redirect_uris
            .iter()
            .any(|u| u.url().scheme() != "https")
        {
            return Err("the FAPI 2.0 profile needs https redirect URIs");
        }
        if self.pkce.is_optional() {
            return Err("the FAPI 2.0 profile needs PKCE: pkce=optional does not fit it");
        }
        Ok(())
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Exact, byte-for-byte redirect URI matching (RFC 9700 §2.1).
    pub fn registered_redirect_uri(&self, requested: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|r| r.as_str() == requested)
    }
}

/// Whether a client authenticating with `auth_method` may have these
/// requirements: a public client has no secret, so PKCE and nonce are all
/// that bind its codes and ID tokens to the browser that asked.
pub fn check_compat(
    auth_method: ClientAuthMethod,
    pkce: Requirement,
    nonce: Requirement,
) -> Result<(), &'static str> {
    if auth_method.is_public() && (pkce.is_optional() || nonce.is_optional()) {
        return Err(
            "pkce=optional and nonce=optional are for confidential clients only; \
             a public client must send PKCE and nonce",
        );
    }
    Ok(())
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The stable `sub`.
    pub id: UserId,
    pub username: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// What the user's ID tokens and UserInfo say about them (OIDC Core
    /// §5.1), each value checked on the way in.
    pub claims: StandardClaims,
    /// The groups the user is in (the `groups` claim).
    pub groups: Groups,
    pub disabled: bool,
    /// What the user may do besides signing in.
    pub role: Role,
    pub created_at: i64,
    pub password_changed_at: i64,
    /// When the user's claims last changed (the `updated_at` claim).
    pub updated_at: i64,
}

latchkey_protocol::vocabulary! {
    /// What a user may do besides signing in, stored as its name.
    pub enum Role as "role" {
        /// Signs in to clients and manages their own account.
        User = "user",
        /// Also operates Latchkey from the console under `/admin` (with a
        /// second factor).
        Admin = "admin",
    }
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
    pub id: SessionId,
    pub user_id: UserId,
    /// SHA-256 of the session cookie's value.
    pub token_hash: TokenHash,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When the user last proved who they are (OIDC `auth_time`).
    pub auth_time: i64,
    /// What the user proved, in the sign-in and any step-up since.
    pub methods: Methods,
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
    pub session_id: Option<SessionId>,
    /// SHA-256 of the id of the browser that started the request: only
    /// that browser may sign in or consent for it.
    pub browser_hash: Option<String>,
    /// The request came through the pushed authorization request endpoint
    /// (RFC 9126): a client that must push is refused otherwise.
    pub pushed: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An authorization request a client pushed (RFC 9126), checked and kept
/// for the one browser visit that names its `request_uri` (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequest {
    pub request_hash: TokenHash,
    pub client_id: ClientId,
    /// The request's parameters, as a query string.
    pub query: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An issued authorization code (stored by hash). It is single-use: the
/// first redemption marks it consumed and records the access token issued
/// from it, so a replay can revoke that token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub redirect_uri: RedirectUri,
    /// `None`: the request sent no PKCE challenge (a client with optional
    /// PKCE); then no `code_verifier` may be presented for it.
    pub code_challenge: Option<CodeChallenge>,
    pub nonce: Option<Nonce>,
    pub scope: Scope,
    /// The claims a `claims` request asked for by name (OIDC Core §5.5).
    pub claims: RequestedClaims,
    pub auth_time: i64,
    /// How the user signed in, and the `acr` the ID token carries.
    pub methods: Methods,
    pub acr: String,
    /// The key the request bound the code to (`dpop_jkt`, RFC 9449 §10):
    /// only a DPoP proof with that key redeems it.
    pub dpop_jkt: Option<Jkt>,
    /// The resources the request named (RFC 8707): the token request may
    /// narrow them, never widen them.
    pub resources: Resources,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: CodeState,
}

impl AuthorizationCode {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// What the redemption gave out, once redeemed.
    pub fn issued(&self) -> Option<&IssuedFromCode> {
        match &self.state {
            CodeState::Issued => None,
            CodeState::Redeemed { issued, .. } => Some(issued),
        }
    }

    pub fn redeemed_at(&self) -> Option<i64> {
        match self.state {
            CodeState::Issued => None,
            CodeState::Redeemed { at, .. } => Some(at),
        }
    }
}

/// Where a code is in its single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    Issued,
    /// Redeemed at `at`; `issued` names what the redemption gave out, so a
    /// replay can revoke it.
    Redeemed {
        at: i64,
        issued: IssuedFromCode,
    },
}

impl CodeState {
    /// `Issued` → `Redeemed`, once.
    pub fn redeem(self, at: i64, issued: IssuedFromCode) -> Result<CodeState, InvalidTransition> {
        match self {
            CodeState::Issued => Ok(CodeState::Redeemed { at, issued }),
            CodeState::Redeemed { .. } => Err(InvalidTransition("the code was already redeemed")),
        }
    }
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// This call consumed the code (it was unused).
    Redeemed(AuthorizationCode),
    /// The code had already been consumed, and was presented again by its
    /// own client with its own redirect URI and verifier: a replay.
    AlreadyUsed(AuthorizationCode),
    /// Presented by another client, or with another redirect URI or PKCE
    /// verifier: refused, and left as it was.
    WrongPresenter,
    NotFound,
}

/// What the presenter of a code must match: the code's client, redirect
/// URI and PKCE challenge (the S256 of the verifier it sent, `None` if it
/// sent none). A code issued without a challenge matches only a presenter
/// without a verifier, and one issued with a challenge only its verifier:
/// PKCE cannot be downgraded or added after the fact (RFC 9700 §2.1.1).
#[derive(Debug, Clone, Copy)]
pub struct CodePresenter<'a> {
    pub client_id: &'a ClientId,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a CodeChallenge>,
    /// The key of the request's DPoP proof, if it had one.
    pub dpop_jkt: Option<&'a Jkt>,
}

impl CodePresenter<'_> {
    pub fn matches(&self, code: &AuthorizationCode) -> bool {
        code.client_id == *self.client_id
            && code.redirect_uri.as_str() == self.redirect_uri
            && code.code_challenge.as_ref().map(CodeChallenge::as_str)
                == self.code_challenge.map(CodeChallenge::as_str)
            && code
                .dpop_jkt
                .as_ref()
                .is_none_or(|bound| Some(bound) == self.dpop_jkt)
    }
}

/// What a redemption records about the tokens it is about to issue, written
/// in the same statement that consumes the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedFromCode {
    pub access_token_jti: Jti,
    pub access_token_expires_at: i64,
    pub family_id: Option<FamilyId>,
}

/// A user's remembered consent for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: UserId,
    pub client_id: ClientId,
    pub scope: Scope,
    pub granted_at: i64,
}

/// A revocation, kept until every token it concerns would have expired
/// anyway. `key` is a [`RevocationKey`] in its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    pub key: String,
    pub expires_at: i64,
    pub revoked_at: i64,
    pub reason: crate::RevokeReason,
}

/// A security-relevant event for the audit trail. Never carries a token or
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: crate::AuditEvent,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
    /// The operator who acted (`cli`, `console:<username>`,
    /// `api:<admin token id>`); `None` when a user, a client or Latchkey
    /// itself did.
    pub actor: Option<String>,
}

/// Which audit records to read: each field given narrows the search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<crate::AuditEvent>,
    /// The operator who acted, exactly as recorded.
    pub actor: Option<String>,
    /// From this Unix time on (inclusive).
    pub since: Option<i64>,
    /// Before this Unix time (exclusive).
    pub until: Option<i64>,
}

/// One login grant's chain of refresh tokens (user, client, scope, browser
/// session). Every refresh adds the token of generation `generation + 1`,
/// and one token per generation is a database fact, so of two concurrent
/// refreshes exactly one wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    pub id: FamilyId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub session_id: SessionId,
    /// The scope granted at login; a refresh may narrow the access token's
    /// scope, never widen this.
    pub scope: Scope,
    /// The claims the login's `claims` request asked for by name (OIDC
    /// Core §5.5): every refresh keeps them.
    pub claims: RequestedClaims,
    pub auth_time: i64,
    /// The DPoP key a public client's refresh tokens are bound to (RFC
    /// 9449 §5): each refresh proves possession of it.
    pub dpop_jkt: Option<Jkt>,
    /// The resources granted at sign-in (RFC 8707): a refresh may narrow
    /// its access token's audience to some of them.
    pub resources: Resources,
    /// Generation of the newest refresh token.
    pub generation: i64,
    pub state: FamilyState,
    pub created_at: i64,
    /// When the newest refresh token was issued.
    pub last_used_at: i64,
    /// Absolute end of the family, whatever its use.
    pub expires_at: i64,
}

/// Where a refresh family is in its life. A revoked family stays revoked:
/// there is no way back to `Active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyState {
    Active,
    Revoked {
        at: i64,
        reason: crate::RevokeReason,
    },
}

/// A state change an entity does not allow (revoking twice, redeeming a
/// redeemed code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid state transition: {0}")]
pub struct InvalidTransition(pub &'static str);

impl FamilyState {
    /// `Active` → `Revoked`; a revoked family keeps its first reason.
    pub fn revoke(
        self,
        at: i64,
        reason: crate::RevokeReason,
    ) -> Result<FamilyState, InvalidTransition> {
        match self {
            FamilyState::Active => Ok(FamilyState::Revoked { at, reason }),
            FamilyState::Revoked { .. } => Err(InvalidTransition("the family is already revoked")),
        }
    }

    pub fn is_active(self) -> bool {
        self == FamilyState::Active
    }
}

impl RefreshFamily {
    pub fn is_revoked(&self) -> bool {
        !self.state.is_active()
    }

    pub fn revoked_at(&self) -> Option<i64> {
        match self.state {
            FamilyState::Active => None,
            FamilyState::Revoked { at, .. } => Some(at),
        }
    }

    pub fn revoked_reason(&self) -> Option<crate::RevokeReason> {
        match self.state {
            FamilyState::Active => None,
            FamilyState::Revoked { reason, .. } => Some(reason),
        }
    }

    /// Why the family can no longer be used at `now`, if it cannot.
    pub fn unusable(&self, now: i64, idle_timeout: i64) -> Option<&'static str> {
        if !self.state.is_active() {
            Some("family revoked")
        } else if now >= self.expires_at {
            Some("family reached its absolute lifetime")
        } else if now - self.last_used_at > idle_timeout {
            Some("family idle for too long")
        } else {
            None
        }
    }
}

/// One refresh token of a family (stored by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: TokenHash,
    pub family_id: FamilyId,
    pub generation: i64,
    pub created_at: i64,
    /// When the token was exchanged (or superseded by a recovery): the
    /// creation time of its successor, if it has one.
    pub used_at: Option<i64>,
    /// The access token issued with it.
    pub access_token_jti: Jti,
    pub access_token_expires_at: i64,
}

/// What a presented refresh token is, relative to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPresentation {
    /// The newest token, unused: rotate.
    Current,
    /// The token just before the newest, re-presented within the recovery
    /// window while its successor was never used: a lost response.
    Retry,
    /// Anything else: a used token presented again. The family is revoked.
    Reuse,
}

impl RefreshToken {
    /// Classifies this token against its family. `successor_used` says
    /// whether the family's newest token has been used; `recovery_window`
    /// is 0 when recovery is off.
    pub fn presentation(
        &self,
        family: &RefreshFamily,
        successor_used: bool,
        now: i64,
        recovery_window: i64,
    ) -> RefreshPresentation {
        match self.used_at {
            None if self.generation == family.generation => RefreshPresentation::Current,
            Some(used)
                if recovery_window > 0
                    && self.generation + 1 == family.generation
                    && !successor_used
                    && now - used <= recovery_window =>
            {
                RefreshPresentation::Retry
            }
            _ => RefreshPresentation::Reuse,
        }
    }
}

/// What a revocation is recorded against. Access tokens carry their `jti`,
/// and, where they have them, their refresh family and browser session, so
/// revoking any of the three refuses the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevocationKey {
    Token(Jti),
    Family(FamilyId),
    Session(SessionId),
    /// Every token of a client (it was deleted).
    Client(String),
}

impl RevocationKey {
    /// The stored form: a one-letter kind and the id.
    pub fn to_key(&self) -> String {
        match self {
            RevocationKey::Token(id) => format!("t:{id}"),
            RevocationKey::Family(id) => format!("f:{id}"),
            RevocationKey::Session(id) => format!("s:{id}"),
            RevocationKey::Client(id) => format!("c:{id}"),
        }
    }
}

/// A back-channel logout token waiting to be delivered (the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: ClientId,
    pub uri: String,
    /// The signed logout token (a JWT; not a bearer credential).
    pub logout_token: String,
    pub created_at: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Everything one logout, session end, password change or revocation
/// changes, applied in one transaction so a crash leaves all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teardown {
    pub now: i64,
    pub reason: crate::RevokeReason,
    /// Sessions to end.
    pub end_sessions: Vec<SessionId>,
    /// Revoke every active family of these sessions.
    pub families_of_sessions: Vec<SessionId>,
    /// Revoke every active family of this user.
    pub families_of_user: Option<UserId>,
    /// Revoke these families.
    pub families: Vec<FamilyId>,
    /// Extra revocations to record (tokens, sessions).
    pub revocations: Vec<RevokedToken>,
    /// Back-channel logout tokens to queue.
    pub deliveries: Vec<LogoutDelivery>,
}

impl Teardown {
    /// A teardown that changes nothing yet.
    pub fn new(now: i64, reason: crate::RevokeReason) -> Teardown {
        Teardown {
            now,
            reason,
            end_sessions: Vec::new(),
            families_of_sessions: Vec::new(),
            families_of_user: None,
            families: Vec::new(),
            revocations: Vec::new(),
            deliveries: Vec::new(),
        }
    }
}

/// What a teardown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeardownResult {
    pub ended_sessions: Vec<SessionId>,
    pub revoked_families: Vec<FamilyId>,
}

#[cfg(test)]
mod tests {
    use latchkey_protocol::pkce::CodeChallenge;

    use super::*;
    use crate::RevokeReason;

    fn family(state: FamilyState) -> RefreshFamily {
        RefreshFamily {
            id: FamilyId::new("f"),
            user_id: UserId::new("u"),
            client_id: ClientId::parse("c").unwrap(),
            session_id: SessionId::new("s"),
            scope: Scope::parse("openid offline_access").unwrap(),
            claims: RequestedClaims::default(),
            auth_time: 0,
            dpop_jkt: None,
            resources: Resources::default(),
            generation: 2,
            state,
            created_at: 0,
            last_used_at: 100,
            expires_at: 1_000,
        }
    }

    fn token(generation: i64, used_at: Option<i64>) -> RefreshToken {
        RefreshToken {
            token_hash: TokenHash::new(format!("h{generation}")),
            family_id: FamilyId::new("f"),
            generation,
            created_at: 0,
            used_at,
            access_token_jti: Jti::new("j"),
            access_token_expires_at: 0,
        }
    }

    #[test]
    fn a_family_is_revoked_once_and_keeps_its_first_reason() {
        let revoked = FamilyState::Active
            .revoke(10, RevokeReason::Logout)
            .unwrap();
        assert_eq!(
            revoked,
            FamilyState::Revoked {
                at: 10,
                reason: RevokeReason::Logout
            }
        );
        assert!(revoked.revoke(20, RevokeReason::PasswordChanged).is_err());
        let f = family(revoked);
        assert!(f.is_revoked());
        assert_eq!(
            (f.revoked_at(), f.revoked_reason()),
            (Some(10), Some(RevokeReason::Logout))
        );
    }

    #[test]
    fn a_family_dies_revoked_at_its_lifetime_or_idle() {
        let idle = 50;
        assert_eq!(family(FamilyState::Active).unusable(149, idle), None);
        assert!(family(FamilyState::Active).unusable(151, idle).is_some());
        assert!(family(FamilyState::Active)
            .unusable(1_000, 10_000)
            .is_some());
        let revoked = FamilyState::Revoked {
            at: 1,
            reason: RevokeReason::RevokedByClient,
        };
        assert!(family(revoked).unusable(101, idle).is_some());
    }

    #[test]
    fn presentations_are_current_retry_or_reuse() {
        let f = family(FamilyState::Active);
        assert_eq!(
            token(2, None).presentation(&f, false, 200, 30),
            RefreshPresentation::Current
        );
        // The previous token, its successor unused, within the window.
        assert_eq!(
            token(1, Some(190)).presentation(&f, false, 200, 30),
            RefreshPresentation::Retry
        );
        // Out of the window, with recovery off, or once the successor was
        // used: reuse.
        for (used_at, successor_used, window) in
            [(100, false, 30), (190, false, 0), (190, true, 30)]
        {
            assert_eq!(
                token(1, Some(used_at)).presentation(&f, successor_used, 200, window),
                RefreshPresentation::Reuse
            );
        }
        assert_eq!(
            token(0, Some(150)).presentation(&f, false, 160, 30),
            RefreshPresentation::Reuse,
            "two generations back is always reuse"
        );
    }

    #[test]
    fn a_code_is_redeemed_once() {
        let issued = IssuedFromCode {
            access_token_jti: Jti::new("j"),
            access_token_expires_at: 99,
            family_id: Some(FamilyId::new("f")),
        };
        let redeemed = CodeState::Issued.redeem(5, issued.clone()).unwrap();
        assert!(redeemed.clone().redeem(6, issued.clone()).is_err());
        let code = AuthorizationCode {
            code_hash: TokenHash::new("h"),
            client_id: ClientId::parse("c").unwrap(),
            user_id: UserId::new("u"),
            session_id: SessionId::new("s"),
            redirect_uri: RedirectUri::parse("https://app.example/cb").unwrap(),
            code_challenge: Some(CodeChallenge::from_stored(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            )),
            nonce: None,
            scope: Scope::parse("openid").unwrap(),
            claims: RequestedClaims::default(),
            auth_time: 0,
            methods: Methods::PASSWORD,
            acr: "urn:latchkey:acr:pwd".into(),
            dpop_jkt: None,
            resources: Resources::default(),
            created_at: 0,
            expires_at: 60,
            state: redeemed,
        };
        assert_eq!(
            (code.redeemed_at(), code.issued()),
            (Some(5), Some(&issued))
        );
        assert!(code.is_expired(60) && !code.is_expired(59));

        // PKCE is bound to what the code was issued with, both ways.
        let challenge = code.code_challenge.clone().unwrap();
        let presenter = |c| CodePresenter {
            client_id: &code.client_id,
            redirect_uri: "https://app.example/cb",
            code_challenge: c,
            dpop_jkt: None,
        };
        assert!(presenter(Some(&challenge)).matches(&code));
        assert!(!presenter(None).matches(&code));
        let without = AuthorizationCode {
            code_challenge: None,
            ..code.clone()
        };
        assert!(presenter(None).matches(&without));
        assert!(!presenter(Some(&challenge)).matches(&without));

        // A code bound to a DPoP key matches only a proof of that key; an
        // unbound code matches with or without one.
        let key = Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs").unwrap();
        let other = Jkt::parse("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I").unwrap();
        let bound = AuthorizationCode {
            dpop_jkt: Some(key.clone()),
            ..code.clone()
        };
        let with_key = |k| CodePresenter {
            dpop_jkt: k,
            ..presenter(Some(&challenge))
        };
        assert!(with_key(Some(&key)).matches(&bound));
        assert!(!with_key(Some(&other)).matches(&bound));
        assert!(!with_key(None).matches(&bound));
        assert!(with_key(Some(&other)).matches(&code));
    }
}

/// A user's authenticator app (RFC 6238): the shared secret, encrypted under
/// the key-encryption key, and the last time step a code was accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCredential {
    pub user_id: UserId,
    /// The encrypted secret, base64.
    pub secret: String,
    pub last_step: i64,
    pub created_at: i64,
}

/// A registered passkey (WebAuthn credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id, base64url.
    pub id: String,
    pub user_id: UserId,
    /// The user's name for it ("YubiKey", "Phone").
    pub name: String,
    /// The credential as the WebAuthn library serialises it.
    pub credential: String,
    /// Synced between devices by a platform (backup eligible): `swk`.
    pub synced: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A sign-in between its first and its last factor, bound to the browser
/// that started it. `user_id` is unknown only before a passwordless
/// passkey names the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    pub id: String,
    pub user_id: Option<UserId>,
    /// SHA-256 of the id of the browser that started it.
    pub browser_hash: String,
    /// The authorization request to resume afterwards, if any.
    pub pending_id: Option<String>,
    /// The session to raise (step-up, re-authentication); `None` opens a
    /// new session.
    pub session_id: Option<SessionId>,
    /// What was proved so far.
    pub methods: Methods,
    /// The password hash that was verified, so that a password changed
    /// meanwhile opens nothing.
    pub password_hash: Option<String>,
    /// A WebAuthn ceremony's state, or an authenticator app being enrolled
    /// (encrypted), between two requests.
    pub ceremony: Option<String>,
    pub failures: i64,
    pub created_at: i64,
    pub expires_at: i64,
}
