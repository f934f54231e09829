//! Housekeeping: the closed set of things that expire and are swept, and
//! the port through which the database's are deleted, a bounded batch at a
//! time so that no sweep holds a long lock or a large transaction.

use async_trait::async_trait;

use crate::store_error::StoreResult;

latchkey_protocol::vocabulary! {
    /// What the housekeeping sweeps: each kind has its own background task
    /// and its own count of rows removed.
    pub enum SweepKind as "sweep kind" {
        /// Authorization requests waiting for sign-in or consent, once
        /// expired.
        PendingRequests = "pending_requests",
        /// Pushed authorization requests (RFC 9126), once expired.
        PushedRequests = "pushed_requests",
        /// Authorization codes, once expired and (if redeemed) once the
        /// access token issued from them has expired too, so that a replay
        /// can still find and revoke that token until then.
        Codes = "codes",
        /// Revocation records of tokens that have expired anyway.
        Revocations = "revocations",
        /// Second-factor sign-ins in progress, once expired.
        LoginChallenges = "login_challenges",
        /// Device authorization requests (RFC 8628), once expired.
        DeviceRequests = "device_requests",
        /// Refresh families: revoked when their lifetime or idle timeout
        /// passes, deleted (with their tokens) a revocation lifetime later.
        RefreshFamilies = "refresh_families",
        /// Browser sessions, a revocation lifetime after they ended or
        /// expired.
        Sessions = "sessions",
        /// Initial access tokens for registration, once expired or used up.
        RegistrationTokens = "registration_tokens",
        /// Client assertion `jti`s, once the assertion has expired.
        AssertionJtis = "assertion_jtis",
        /// DPoP proof `jti`s, once a proof that old is refused anyway.
        DpopJtis = "dpop_jtis",
        /// Sign-in attempt counters that went quiet.
        AttemptCounters = "attempt_counters",
        /// Back-channel logout deliveries, delivered or given up, once
        /// older than their retention.
        Outbox = "outbox",
    }
}

/// One kind of database row to sweep, with the times its rule compares
/// against. The attempt counters and DPoP `jti`s have ports of their own
/// (they may live in Redis) and are not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// `expires_at <= now`.
    PendingRequests { now: i64 },
    /// `expires_at <= now`.
    PushedRequests { now: i64 },
    /// `expires_at <= now`, and the access token issued from the code (if
    /// any) expired at `now` too.
    Codes { now: i64 },
    /// `expires_at <= now`.
    Revocations { now: i64 },
    /// `expires_at <= now`.
    LoginChallenges { now: i64 },
    /// `expires_at <= now`.
    DeviceRequests { now: i64 },
    /// First revokes active families whose absolute limit (`expires_at <=
    /// now`) or idle limit (newest token older than `now - idle_timeout`)
    /// has passed, then deletes families revoked, or expired, before
    /// `purge_before`: a family is always revoked before it is purged.
    RefreshFamilies {
        now: i64,
        idle_timeout: i64,
        purge_before: i64,
    },
    /// Sessions that ended before `ended_before` or began before
    /// `started_before`.
    Sessions {
        ended_before: i64,
        started_before: i64,
    },
    /// Initial access tokens expired at `now` or with no uses left.
    RegistrationTokens { now: i64 },
    /// `expires_at <= now`.
    AssertionJtis { now: i64 },
    /// Deliveries delivered before `settled_before`, and deliveries given
    /// up for good that were queued before it. Pending ones always stay.
    Outbox { settled_before: i64 },
}

impl Sweep {
    pub fn kind(&self) -> SweepKind {
        match self {
            Sweep::PendingRequests { .. } => SweepKind::PendingRequests,
            Sweep::PushedRequests { .. } => SweepKind::PushedRequests,
            Sweep::Codes { .. } => SweepKind::Codes,
            Sweep::Revocations { .. } => SweepKind::Revocations,
            Sweep::LoginChallenges { .. } => SweepKind::LoginChallenges,
            Sweep::DeviceRequests { .. } => SweepKind::DeviceRequests,
            Sweep::RefreshFamilies { .. } => SweepKind::RefreshFamilies,
            Sweep::Sessions { .. } => SweepKind::Sessions,
            Sweep::RegistrationTokens { .. } => SweepKind::RegistrationTokens,
            Sweep::AssertionJtis { .. } => SweepKind::AssertionJtis,
            Sweep::Outbox { .. } => SweepKind::Outbox,
        }
    }
}

#[async_trait]
pub trait SweepRepository: Send + Sync {
    /// One bounded batch: changes at most `limit` rows that `sweep`'s rule
    /// selects, in statements that each stay within the limit, and returns
    /// how many it changed. Fewer than `limit` means nothing was left at
    /// the time the statements ran. For refresh families the revocations
    /// and the deletions share the limit (revocations first).
    async fn sweep_batch(&self, sweep: &Sweep, limit: u64) -> StoreResult<u64>;
}
