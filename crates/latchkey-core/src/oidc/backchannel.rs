//! The back-channel logout outbox (OIDC Back-Channel Logout 1.0 §2.5).
//! Deliveries were written in the same transaction as the logout, so a
//! restart loses none; each is claimed for a lease before it is sent, so of
//! several instances only one sends it; a slow or failing receiver is
//! retried with bounded exponential backoff and never holds up a user's
//! request. The sending itself goes through the [`LogoutSender`] port.

use latchkey_domain::{LogoutDelivery, LogoutSender, Reach, SendFailure};
use latchkey_protocol::ClientId;

use crate::error::CoreError;
use crate::support::metrics::DeliveryResult;

/// Seconds a claimed delivery belongs to the worker that claimed it; if
/// that worker dies, another picks the delivery up after this.
pub const LEASE_SECS: i64 = 30;

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// Deliveries taken from the outbox per run.
const BATCH: u64 = 50;

/// Seconds to wait after the `attempts`-th failure: 5 s doubling, at most
/// an hour.
pub fn backoff(attempts: i32) -> i64 {
    (5i64 << attempts.clamp(0, 20)).min(3600)
}

service! {
    /// The back-channel logout outbox (OIDC Back-Channel Logout 1.0): delivers
    /// queued logout tokens through the binary's [`LogoutSender`].
    pub struct Backchannel { store, clock, settings, metrics }
}

impl Backchannel<'_> {
    /// Sends every due delivery once; returns how many were delivered.
    pub async fn deliver(&self, sender: &dyn LogoutSender) -> usize {
        let now = self.clock.unix();
        let due = match self.store.due_deliveries(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the logout outbox");
                return 0;
            }
        };
        let mut mine = Vec::new();
        for d in due {
            match self
                .store
                .claim_delivery(&d.id, d.next_attempt_at, now + LEASE_SECS)
                .await
            {
                Ok(true) => mine.push(d),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim a logout delivery"),
            }
        }
        let sends = mine.into_iter().map(|d| self.deliver_logout(sender, d));
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count()
    }

    /// [`crate::Settings::reach_of`] the client's stored record.
    async fn client_reach(&self, id: &ClientId) -> Result<Reach, CoreError> {
        let registration = self.store.find_registration(id).await?;
        Ok(self.settings.reach_of(registration.as_ref()))
    }

    async fn deliver_logout(&self, sender: &dyn LogoutSender, d: LogoutDelivery) -> bool {
        let failure = match self.client_reach(&d.client_id).await {
            Ok(reach) => sender.send_logout(&d, reach).await.err(),
            Err(e) => Some(SendFailure {
                error: format!("cannot read the client's record: {e}"),
                again: true,
            }),
        };
        let now = self.clock.unix();
        let recorded = match &failure {
            None => {
                self.metrics.delivery(DeliveryResult::Delivered);
                self.store.mark_delivered(&d.id, now).await
            }
            Some(SendFailure { error, again }) => {
                let attempts = d.attempts + 1;
                let next = (*again && attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
                self.metrics.delivery(match next {
                    Some(_) => DeliveryResult::Failed,
                    None => DeliveryResult::GaveUp,
                });
                tracing::info!(client = %d.client_id, attempts, %error, "back-channel logout delivery failed");
                self.store.mark_failed(&d.id, attempts, next, error).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record a logout delivery's outcome");
        }
        failure.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(backoff(1), 10);
        assert_eq!(backoff(2), 20);
        assert!(backoff(7) > backoff(6));
        assert_eq!(backoff(30), 3600);
    }
}
