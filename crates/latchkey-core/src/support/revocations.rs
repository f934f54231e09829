//! The revocation check on the hot path (userinfo, introspection).
//!
//! The database is the source of truth. Each instance keeps an in-memory
//! mirror of every unexpired revocation: loaded at start, updated at once by
//! this instance's own revocations and by messages from the shared cache
//! (Redis pub/sub), and synced from the database every second. While the
//! mirror is fresh, absence from it is an answer; when it is stale (sync
//! failing), the check asks the shared cache, then the database, and never
//! assumes "not revoked".

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use latchkey_domain::{Jti, RevocationKey, RevokeReason, RevokedToken};
use latchkey_domain::{Teardown, TeardownResult};

use crate::error::CoreError;

#[derive(Default)]
pub struct RevocationMirror {
    /// Revocation key → expires_at.
    entries: RwLock<HashMap<String, i64>>,
    /// When the last successful sync from the database happened (or
    /// i64::MIN if never).
    synced_at: AtomicI64,
    /// Sync resumes from here (the newest `revoked_at` seen, minus overlap).
    watermark: AtomicI64,
}

impl RevocationMirror {
    pub fn new() -> RevocationMirror {
        RevocationMirror {
            entries: RwLock::default(),
            synced_at: AtomicI64::new(i64::MIN),
            watermark: AtomicI64::new(0),
        }
    }

    pub fn insert(&self, entries: &[RevokedToken]) {
        let mut map = match self.entries.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for e in entries {
            map.insert(e.key.clone(), e.expires_at);
        }
    }

    pub fn contains_any(&self, keys: &[String]) -> bool {
        let map = match self.entries.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        keys.iter().any(|k| map.contains_key(k))
    }

    fn prune(&self, now: i64) {
        let mut map = match self.entries.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.retain(|_, exp| *exp > now);
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_fresh(&self, now: i64, staleness: i64) -> bool {
        let at = self.synced_at.load(Ordering::Acquire);
        at != i64::MIN && now - at <= staleness
    }
}

/// Seconds of overlap between syncs, so a revocation committed with a
/// slightly older timestamp than the last one seen is not missed.
const SYNC_OVERLAP: i64 = 5;

service! {
    /// Revoking and checking revocations: the database first, then this
    /// instance's mirror and the shared cache.
    pub struct Revocations { store, clock, settings, mirror, cache, metrics }
}

impl Revocations<'_> {
    /// Applies a teardown (one transaction), then spreads its revocations
    /// to the in-memory mirror and the shared cache.
    pub async fn teardown(&self, t: Teardown) -> Result<TeardownResult, CoreError> {
        let ttl = self.settings.revocation_ttl();
        let result = self.store.apply_teardown(&t, ttl).await?;
        self.metrics.revocation(t.reason);
        let mut spread: Vec<RevokedToken> = t.revocations.clone();
        let entry = |key: RevocationKey| RevokedToken {
            key: key.to_key(),
            expires_at: t.now + ttl,
            revoked_at: t.now,
            reason: t.reason,
        };
        spread.extend(
            result
                .ended_sessions
                .iter()
                .map(|s| entry(RevocationKey::Session(s.clone()))),
        );
        spread.extend(
            result
                .revoked_families
                .iter()
                .map(|f| entry(RevocationKey::Family(f.clone()))),
        );
        self.spread(&spread).await;
        Ok(result)
    }

    /// Revocations another instance published (through the shared cache):
    /// into the mirror at once, ahead of the next sync.
    pub fn receive(&self, entries: &[RevokedToken]) {
        self.mirror.insert(entries);
        let now = self.clock.unix();
        for e in entries {
            self.metrics.revocation_arrived(now - e.revoked_at);
        }
    }

    /// Whether any of these revocation keys is revoked.
    pub async fn is_revoked(&self, keys: &[String]) -> Result<bool, CoreError> {
        if self.mirror.contains_any(keys) {
            return Ok(true);
        }
        let now = self.clock.unix();
        if self
            .mirror
            .is_fresh(now, self.settings.revocations.max_staleness_secs)
        {
            return Ok(false);
        }
        if let Some(cache) = self.cache {
            match cache.any_revoked(keys).await {
                Ok(true) => return Ok(true),
                // The shared cache may have missed a publish: only the
                // database can say "not revoked".
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "revocation cache unavailable; asking the database")
                }
            }
        }
        Ok(self.store.any_revoked(keys).await?)
    }

    /// Catches the mirror up with the database. Run every second.
    pub async fn sync(&self) -> Result<usize, CoreError> {
        let now = self.clock.unix();
        let since = self.mirror.watermark.load(Ordering::Acquire);
        let rows = self.store.revocations_since(since, now).await?;
        if let Some(newest) = rows.iter().map(|r| r.revoked_at).max() {
            self.mirror
                .watermark
                .fetch_max(newest - SYNC_OVERLAP, Ordering::AcqRel);
        }
        self.mirror.insert(&rows);
        self.mirror.prune(now);
        self.mirror.synced_at.store(now, Ordering::Release);
        Ok(rows.len())
    }

    /// Records revocations already committed to the database in the mirror
    /// and the shared cache. A cache failure is logged: the database has
    /// them, and every instance's sync will find them.
    pub(crate) async fn spread(&self, entries: &[RevokedToken]) {
        if entries.is_empty() {
            return;
        }
        self.mirror.insert(entries);
        if let Some(cache) = self.cache {
            if let Err(e) = cache.publish(entries, self.clock.unix()).await {
                tracing::warn!(error = %e, "could not publish revocations to the shared cache");
            }
        }
    }

    /// Revokes one access token by `jti` (database first, then caches).
    pub(crate) async fn revoke_jti(
        &self,
        jti: &Jti,
        expires_at: i64,
        reason: RevokeReason,
    ) -> Result<(), CoreError> {
        let entry = RevokedToken {
            key: latchkey_domain::RevocationKey::Token(jti.clone()).to_key(),
            expires_at: expires_at + self.settings.revocation_leeway(),
            revoked_at: self.clock.unix(),
            reason,
        };
        self.store.revoke_token(&entry).await?;
        self.metrics.revocation(reason);
        self.spread(&[entry]).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, exp: i64) -> RevokedToken {
        RevokedToken {
            key: key.into(),
            expires_at: exp,
            revoked_at: 0,
            reason: RevokeReason::Logout,
        }
    }

    #[test]
    fn mirror_answers_and_prunes() {
        let m = RevocationMirror::new();
        assert!(!m.is_fresh(10, 5), "never synced is never fresh");
        m.insert(&[entry("t:a", 100), entry("f:b", 50)]);
        assert!(m.contains_any(&["x".into(), "t:a".into()]));
        assert!(!m.contains_any(&["t:z".into()]));
        m.prune(60);
        assert!(!m.contains_any(&["f:b".into()]));
        assert!(m.contains_any(&["t:a".into()]));
        m.synced_at.store(10, Ordering::Release);
        assert!(m.is_fresh(14, 5));
        assert!(!m.is_fresh(16, 5));
    }
}
