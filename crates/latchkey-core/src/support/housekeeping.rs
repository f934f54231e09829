//! The periodic sweep: expired pending requests, codes, device requests
//! and revocation records, refresh families past their limits, spent
//! registration tokens.
//! The binary runs it every minute; tests call it after advancing the
//! clock, so every rule that must survive a sweep is checked after one.

use crate::error::CoreError;

service! {
    /// The periodic sweep.
    pub struct Housekeeping { store, clock, settings, throttle, used_once }
}

impl Housekeeping<'_> {
    /// One sweep at the clock's current time; returns how many rows went.
    pub async fn sweep(&self) -> Result<u64, CoreError> {
        let now = self.clock.unix();
        let s = &self.settings;
        let mut rows = self.store.sweep_expired(now).await?;
        rows += self.store.sweep_device_authorizations(now).await?;
        rows += self
            .store
            .sweep_families(now, s.refresh.idle_timeout, now - s.revocation_ttl())
            .await?;
        self.store.sweep_registration(now).await?;
        // Browser sessions: an ended one is kept as long as its revocation
        // record, an unended one until it has been expired as long.
        let keep = s.revocation_ttl();
        rows += self
            .store
            .sweep_sessions(now - keep, now - s.tokens.session_ttl - keep)
            .await?;
        // Sign-in attempt counters that went quiet (their own store; a
        // failure here leaves them for the next sweep).
        match self
            .throttle
            .sweep(self.clock.now().timestamp_millis())
            .await
        {
            Ok(n) => rows += n,
            Err(e) => tracing::warn!(error = %e, "sign-in attempt sweep failed"),
        }
        // DPoP proof jtis past the age at which a proof is refused anyway
        // (Redis expires its own).
        match self.used_once.sweep_used(now).await {
            Ok(n) => rows += n,
            Err(e) => tracing::warn!(error = %e, "DPoP jti sweep failed"),
        }
        Ok(rows)
    }
}
