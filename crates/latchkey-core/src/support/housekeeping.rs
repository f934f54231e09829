//! The periodic sweep, one kind at a time ([`SweepKind`]): expired pending
//! requests, codes, device requests and revocation records, refresh
//! families past their limits, ended sessions, spent registration tokens,
//! used assertion and DPoP `jti`s, quiet attempt counters and settled
//! back-channel logout deliveries.
//!
//! Each call removes one bounded batch, so no sweep holds a long lock. The
//! binary runs every kind on its own timer; tests call [`Housekeeping::sweep`]
//! after advancing the clock, so every rule that must survive a sweep is
//! checked after one.

use latchkey_domain::{Sweep, SweepKind};

use crate::error::CoreError;

/// The batch size of [`Housekeeping::sweep`].
const BATCH: u64 = 1000;

service! {
    /// The periodic sweep.
    pub struct Housekeeping { store, clock, settings, throttle, used_once, metrics }
}

/// What one batch, or one run of batches, of a kind removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub kind: SweepKind,
    /// Rows removed (for refresh families: revoked or removed).
    pub rows: u64,
}

impl Housekeeping<'_> {
    /// One batch of `kind` at the clock's current time: at most `limit`
    /// rows; returns how many went. Fewer than `limit`: nothing was left.
    pub async fn sweep_kind(&self, kind: SweepKind, limit: u64) -> Result<u64, CoreError> {
        Ok(self.batch(kind, limit).await?.rows)
    }

    /// Batches of `kind` until one comes back short or `max_batches` have
    /// run; the total. A failure ends the run, keeping what went before it
    /// (the next run carries on).
    pub async fn sweep_run(
        &self,
        kind: SweepKind,
        limit: u64,
        max_batches: u32,
    ) -> Result<SweepOutcome, CoreError> {
        let mut total = SweepOutcome { kind, rows: 0 };
        for _ in 0..max_batches {
            let rows = self.batch(kind, limit).await?.rows;
            total.rows += rows;
            if rows < limit {
                break;
            }
        }
        Ok(total)
    }

    /// Every kind, each to completion; what each removed, in
    /// [`SweepKind::ALL`] order. A failing attempt counter or DPoP `jti`
    /// store (possibly Redis) is logged and left for the next sweep, as
    /// the binary's tasks would.
    pub async fn sweep_report(&self) -> Result<Vec<SweepOutcome>, CoreError> {
        let mut report = Vec::with_capacity(SweepKind::ALL.len());
        for kind in SweepKind::ALL {
            match self.sweep_run(kind, BATCH, u32::MAX).await {
                Ok(outcome) => report.push(outcome),
                Err(e) if matches!(kind, SweepKind::AttemptCounters | SweepKind::DpopJtis) => {
                    tracing::warn!(kind = kind.as_str(), error = %e, "sweep failed");
                    report.push(SweepOutcome { kind, rows: 0 });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Every kind to completion at the clock's current time; how many rows
    /// went in all.
    pub async fn sweep(&self) -> Result<u64, CoreError> {
        Ok(self.sweep_report().await?.iter().map(|o| o.rows).sum())
    }

    /// One batch. Every sweep, whichever caller, goes through here: the
    /// one place to count what each kind removed.
    async fn batch(&self, kind: SweepKind, limit: u64) -> Result<SweepOutcome, CoreError> {
        let rows = match self.rule(kind) {
            Some(sweep) => self.store.sweep_batch(&sweep, limit).await?,
            None if kind == SweepKind::AttemptCounters => self
                .throttle
                .sweep(self.clock.now().timestamp_millis(), limit)
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            // DPoP proof jtis past the age at which a proof is refused
            // anyway (Redis expires its own).
            None => self
                .used_once
                .sweep_used(self.clock.unix(), limit)
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?,
        };
        self.metrics.swept(kind.as_str(), rows);
        Ok(SweepOutcome { kind, rows })
    }

    /// The database rule of `kind` at the clock's current time; none for
    /// the kinds with a port of their own.
    fn rule(&self, kind: SweepKind) -> Option<Sweep> {
        let now = self.clock.unix();
        let s = &self.settings;
        // Revocation records, and what they concern, are kept this long.
        let keep = s.revocation_ttl();
        Some(match kind {
            SweepKind::PendingRequests => Sweep::PendingRequests { now },
            SweepKind::PushedRequests => Sweep::PushedRequests { now },
            SweepKind::Codes => Sweep::Codes { now },
            SweepKind::Revocations => Sweep::Revocations { now },
            SweepKind::LoginChallenges => Sweep::LoginChallenges { now },
            SweepKind::DeviceRequests => Sweep::DeviceRequests { now },
            SweepKind::RefreshFamilies => Sweep::RefreshFamilies {
                now,
                idle_timeout: s.refresh.idle_timeout,
                purge_before: now - keep,
            },
            // An ended session is kept as long as its revocation record, an
            // unended one until it has been expired as long.
            SweepKind::Sessions => Sweep::Sessions {
                ended_before: now - keep,
                started_before: now - s.tokens.session_ttl - keep,
            },
            SweepKind::RegistrationTokens => Sweep::RegistrationTokens { now },
            SweepKind::AssertionJtis => Sweep::AssertionJtis { now },
            // A settled delivery is kept as long as the revocation of the
            // session it announced, for operators to look back on.
            SweepKind::Outbox => Sweep::Outbox {
                settled_before: now - keep,
            },
            SweepKind::AttemptCounters | SweepKind::DpopJtis => return None,
        })
    }
}
