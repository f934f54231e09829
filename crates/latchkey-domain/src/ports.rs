//! Storage ports: what the core needs from persistence, nothing about how.
//! Every method is one atomic operation; where a rule must hold under
//! concurrency (single-use codes), the method's contract says so and the
//! adapter enforces it in the database.

use async_trait::async_trait;
use latchkey_protocol::ClientId;

use crate::entities::*;
use crate::ids::{FamilyId, Kid, SessionId, TokenHash, UserId};
use crate::keys::{KeyState, SigningKeyRecord};

pub use crate::store_error::{StoreError, StoreResult};

#[async_trait]
pub trait ClientRepository: Send + Sync {
    async fn find_client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    async fn delete_client(&self, id: &ClientId) -> StoreResult<bool>;
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_password(&self, id: &UserId, password_hash: &str, at: i64) -> StoreResult<bool>;
    async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> StoreResult<bool>;
    /// Sets the user's role; false if there is no such user.
    async fn set_user_role(&self, id: &UserId, role: Role) -> StoreResult<bool>;
    /// Replaces the user's claims and groups, stamping `updated_at`;
    /// false if there is no such user.
    async fn set_user_claims(
        &self,
        id: &UserId,
        claims: &StandardClaims,
        groups: &Groups,
        updated_at: i64,
    ) -> StoreResult<bool>;
    /// Replaces the user's standard claims (never the groups) if their
    /// `updated_at` is still `expected_updated_at`, stamping `updated_at`;
    /// false if there is no such user or their claims changed meanwhile.
    async fn set_user_claims_if_unchanged(
        &self,
        id: &UserId,
        claims: &StandardClaims,
        expected_updated_at: i64,
        updated_at: i64,
    ) -> StoreResult<bool>;
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool>;
}

#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn insert_session(&self, session: &BrowserSession) -> StoreResult<()>;
    /// Inserts a session if, and only if, its user is enabled and still has
    /// the password hash `verified_hash` (false otherwise): a sign-in that
    /// checked a password a concurrent password change just replaced opens
    /// no session.
    async fn open_session_if_current(
        &self,
        session: &BrowserSession,
        verified_hash: &str,
    ) -> StoreResult<bool>;
    /// An active (not ended) session by its cookie hash.
    async fn find_active_session(
        &self,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<BrowserSession>>;
    async fn find_session(&self, id: &SessionId) -> StoreResult<Option<BrowserSession>>;
    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()>;
    /// Ends the session; false if it was already ended or unknown.
    async fn end_session(&self, id: &SessionId, at: i64) -> StoreResult<bool>;
    /// Raises an active session after the user proved more (step-up,
    /// re-authentication): its methods and `auth_time`; false if the
    /// session has ended.
    async fn raise_session(
        &self,
        id: &SessionId,
        methods: Methods,
        auth_time: i64,
    ) -> StoreResult<bool>;
    /// The user's sessions that have not ended, oldest first (ended ones
    /// are never read back: a logout's cost does not grow with history).
    async fn list_active_sessions(&self, user_id: &UserId) -> StoreResult<Vec<BrowserSession>>;
}

#[async_trait]
pub trait AuthorizationRepository: Send + Sync {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> StoreResult<()>;
    async fn find_pending(&self, id: &str) -> StoreResult<Option<PendingAuthorization>>;
    async fn attach_session(&self, pending_id: &str, session_id: &SessionId) -> StoreResult<bool>;
    /// Removes a pending request; false if it was already gone (answered
    /// by a concurrent request), so each pending request settles once.
    async fn delete_pending(&self, id: &str) -> StoreResult<bool>;

    async fn insert_pushed(&self, pushed: &PushedRequest) -> StoreResult<()>;
    /// Removes and returns a pushed request: of concurrent calls with one
    /// hash, at most one gets it (a `request_uri` is used once). Expiry is
    /// the caller's to check.
    async fn take_pushed(&self, request_hash: &TokenHash) -> StoreResult<Option<PushedRequest>>;

    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Consumes the code if, and only if, it is unused and `presenter`
    /// matches it, recording `issued` in the same statement. Of any number
    /// of concurrent calls with one code, exactly one gets `Redeemed`; a
    /// presenter that does not match changes nothing.
    async fn redeem_code(
        &self,
        code_hash: &TokenHash,
        presenter: &CodePresenter<'_>,
        now: i64,
        issued: &IssuedFromCode,
    ) -> StoreResult<CodeRedemption>;

    async fn find_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> StoreResult<Option<Consent>>;
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()>;
}

/// Second factors and sign-ins in progress.
#[async_trait]
pub trait FactorRepository: Send + Sync {
    async fn find_totp(&self, user_id: &UserId) -> StoreResult<Option<TotpCredential>>;
    /// Saves the user's authenticator app, replacing one they had.
    async fn save_totp(&self, totp: &TotpCredential) -> StoreResult<()>;
    async fn delete_totp(&self, user_id: &UserId) -> StoreResult<bool>;
    /// Accepts time step `step` for the user if, and only if, it is later
    /// than the last one accepted: of concurrent uses of one code, one
    /// wins; a replay of it loses.
    async fn use_totp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool>;

    /// Replaces the user's recovery codes (by hash).
    async fn replace_recovery_codes(
        &self,
        user_id: &UserId,
        hashes: &[String],
        at: i64,
    ) -> StoreResult<()>;
    /// Uses a recovery code if, and only if, it is the user's and unused.
    async fn use_recovery_code(&self, user_id: &UserId, hash: &str, at: i64) -> StoreResult<bool>;
    /// How many unused recovery codes the user has.
    async fn unused_recovery_codes(&self, user_id: &UserId) -> StoreResult<u64>;

    async fn list_passkeys(&self, user_id: &UserId) -> StoreResult<Vec<PasskeyRecord>>;
    async fn find_passkey(&self, id: &str) -> StoreResult<Option<PasskeyRecord>>;
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()>;
    async fn rename_passkey(&self, user_id: &UserId, id: &str, name: &str) -> StoreResult<bool>;
    async fn delete_passkey(&self, user_id: &UserId, id: &str) -> StoreResult<bool>;
    /// Records a use: the credential as updated (its counter) and when.
    async fn passkey_used(&self, id: &str, credential: &str, at: i64) -> StoreResult<()>;

    /// Removes every factor of the user (authenticator app, recovery
    /// codes, passkeys); returns how many.
    async fn reset_factors(&self, user_id: &UserId) -> StoreResult<u64>;

    async fn insert_challenge(&self, challenge: &LoginChallenge) -> StoreResult<()>;
    async fn find_challenge(&self, id: &str) -> StoreResult<Option<LoginChallenge>>;
    /// Stores a challenge's progress (user, methods, password hash,
    /// ceremony) if it is still there.
    async fn update_challenge(&self, challenge: &LoginChallenge) -> StoreResult<bool>;
    /// Takes a challenge's WebAuthn state out, if, and only if, it is still
    /// `ceremony`: of two answers to one state, one wins.
    async fn take_ceremony(&self, id: &str, ceremony: &str) -> StoreResult<bool>;
    /// Counts a try at a proof, before it is checked; returns the tries so
    /// far, at least this one's own count (0 if the challenge is gone). Of
    /// concurrent tries, at most `n` see a count of `n` or less.
    async fn count_challenge_try(&self, id: &str) -> StoreResult<i64>;
    /// Removes the user's challenges but `except`: sign-ins in progress
    /// end when the user's factors change. Returns how many.
    async fn delete_user_challenges(
        &self,
        user_id: &UserId,
        except: Option<&str>,
    ) -> StoreResult<u64>;
    /// Removes a challenge; false if it was already gone, so each
    /// challenge completes once.
    async fn delete_challenge(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait RevocationRepository: Send + Sync {
    /// Records a revocation; recording the same key twice keeps the first.
    async fn revoke_token(&self, token: &RevokedToken) -> StoreResult<()>;
    /// Whether any of these revocation keys is recorded (expired records
    /// included until swept: a revoked token stays revoked).
    async fn any_revoked(&self, keys: &[String]) -> StoreResult<bool>;
    /// Unexpired revocations recorded at or after `since` (seconds), oldest
    /// first: how an in-memory mirror catches up.
    async fn revocations_since(&self, since: i64, now: i64) -> StoreResult<Vec<RevokedToken>>;
}

#[async_trait]
pub trait FamilyRepository: Send + Sync {
    /// Creates a family and its first refresh token together, if and only
    /// if the family's browser session has not ended (false otherwise): a
    /// logout racing a code exchange never leaves a live family behind.
    async fn create_family(
        &self,
        family: &RefreshFamily,
        first: &RefreshToken,
    ) -> StoreResult<bool>;
    /// A refresh token by hash, with its family.
    async fn find_refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshToken, RefreshFamily)>>;
    /// The family's token of a given generation.
    async fn find_family_token(
        &self,
        family_id: &FamilyId,
        generation: i64,
    ) -> StoreResult<Option<RefreshToken>>;
    async fn find_family(&self, family_id: &FamilyId) -> StoreResult<Option<RefreshFamily>>;
    /// Rotation: inserts `next` (generation `seen + 1`) only if `consumed`
    /// is the family's token of generation `seen`, no token of generation
    /// `seen + 1` exists yet, and the family is unrevoked. Returns false,
    /// changing nothing, when any condition fails (another rotation or a
    /// revocation won the race). The family's generation and last use are
    /// those of its newest token, so this one write is the whole rotation.
    async fn rotate_refresh(
        &self,
        family_id: &FamilyId,
        seen: i64,
        consumed: &TokenHash,
        next: &RefreshToken,
    ) -> StoreResult<bool>;
    async fn list_user_families(&self, user_id: &UserId) -> StoreResult<Vec<RefreshFamily>>;
}

#[async_trait]
pub trait TeardownRepository: Send + Sync {
    /// Applies a teardown in one transaction: ends the sessions, revokes the
    /// selected active families, records the revocations (including one per
    /// ended session and revoked family, with `revocation_ttl` seconds to
    /// live) and queues the deliveries.
    async fn apply_teardown(
        &self,
        teardown: &Teardown,
        revocation_ttl: i64,
    ) -> StoreResult<TeardownResult>;
    /// Records that a client obtained a code in a session (for back-channel
    /// logout); recording twice is harmless.
    async fn record_session_client(
        &self,
        session_id: &SessionId,
        client_id: &ClientId,
        at: i64,
    ) -> StoreResult<()>;
    /// The clients that obtained codes in a session.
    async fn session_clients(&self, session_id: &SessionId) -> StoreResult<Vec<ClientId>>;
}

#[async_trait]
pub trait OutboxRepository: Send + Sync {
    /// Undelivered deliveries due at `now`, oldest first.
    async fn due_deliveries(&self, now: i64, limit: u64) -> StoreResult<Vec<LogoutDelivery>>;
    /// Takes a due delivery for this worker until `lease_until`: moves its
    /// `next_attempt_at` from `seen` to `lease_until` only if it is still
    /// `seen` and undelivered, so of several instances exactly one sends it.
    async fn claim_delivery(&self, id: &str, seen: i64, lease_until: i64) -> StoreResult<bool>;
    async fn mark_delivered(&self, id: &str, at: i64) -> StoreResult<()>;
    /// Records a failed attempt; `next_attempt_at` None gives up for good.
    async fn mark_failed(
        &self,
        id: &str,
        attempts: i32,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
    async fn list_deliveries(&self, limit: u64) -> StoreResult<Vec<LogoutDelivery>>;
    /// Deliveries still to be made (not delivered, not given up).
    async fn outbox_backlog(&self) -> StoreResult<u64>;
}

#[async_trait]
pub trait KeyRepository: Send + Sync {
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    async fn insert_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Publishes `key` (state `Next`) as the successor of `after`, in one
    /// conditional statement: only if its algorithm has no next key and
    /// its only current key is `after` (no current key, for `None`).
    /// False, inserting nothing, when another instance changed the keys
    /// since the caller read them. Of concurrent calls for one algorithm,
    /// at most one succeeds.
    async fn insert_next_key(
        &self,
        key: &SigningKeyRecord,
        after: Option<&Kid>,
    ) -> StoreResult<bool>;
    /// Moves a key from one state to another; false if it was not in `from`.
    async fn transition_key(
        &self,
        kid: &Kid,
        from: KeyState,
        to: KeyState,
        at: i64,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, event: &AuditRecord) -> StoreResult<()>;
    async fn recent(&self, limit: u64) -> StoreResult<Vec<AuditRecord>>;
    /// The newest `limit` records that pass `filter`, newest first.
    async fn search(&self, filter: &AuditFilter, limit: u64) -> StoreResult<Vec<AuditRecord>>;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("revocation cache: {0}")]
pub struct CacheError(pub String);

/// A revocation cache shared by every instance (Redis). It speeds up and
/// spreads revocations; the database stays the source of truth, so an
/// error here makes the caller ask the database.
#[async_trait]
pub trait RevocationCache: Send + Sync {
    async fn any_revoked(&self, keys: &[String]) -> Result<bool, CacheError>;
    /// Stores the revocations (each with a TTL until `expires_at`) and tells
    /// the other instances.
    async fn publish(&self, revocations: &[RevokedToken], now: i64) -> Result<(), CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
}

/// Every port, as one handle the core is built from.
#[async_trait]
pub trait Store:
    ClientRepository
    + UserRepository
    + SessionRepository
    + AuthorizationRepository
    + FactorRepository
    + RevocationRepository
    + FamilyRepository
    + TeardownRepository
    + OutboxRepository
    + KeyRepository
    + AuditLog
    + crate::registration::RegistrationRepository
    + crate::device::DeviceRepository
    + crate::sweep::SweepRepository
{
    /// Checks that the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// The connection pool's figures, for metrics; `None` if the backend
    /// keeps no pool.
    fn pool_figures(&self) -> Option<PoolFigures>;
}

/// A database connection pool's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolFigures {
    /// Connections open, busy or idle.
    pub open: u32,
    pub idle: u32,
    /// The most the pool may open.
    pub max: u32,
    pub waits: PoolWaits,
}

/// Upper bounds, in seconds, of the buckets counting how long a statement
/// or transaction waited for a connection; `0` is no wait at all.
pub const POOL_WAIT_BUCKETS: [f64; 10] = [0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0];

/// Who waits for a connection, and how long everyone has waited since
/// start.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoolWaits {
    /// Callers waiting now.
    pub waiting: u32,
    /// Waits per bucket of [`POOL_WAIT_BUCKETS`] (not cumulative), then
    /// the waits longer than the last bound.
    pub buckets: [u64; POOL_WAIT_BUCKETS.len() + 1],
    pub waited_seconds: f64,
    /// Every caller that passed or gave up.
    pub count: u64,
}
