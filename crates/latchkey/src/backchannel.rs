//! Delivers back-channel logout tokens from the outbox (OIDC Back-Channel
//! Logout 1.0 §2.5). Deliveries were written in the same transaction as the
//! logout, so a restart loses none; a slow or failing receiver is retried
//! with bounded exponential backoff and never holds up a user's request.
//! A receiver is reached only where its client's reach allows
//! ([`crate::egress`]); a delivery to a refused address is given up at
//! once, without a connection.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_domain::LogoutDelivery;

use crate::egress::{describe, is_refused, Egress, Lookup};

/// Seconds a claimed delivery belongs to the worker that claimed it; if
/// that worker dies, another picks the delivery up after this.
pub const LEASE_SECS: i64 = 30;

/// Why an attempt failed, and whether another may succeed: a receiver
/// that is down may come back, a refused address stays refused.
struct Failure {
    error: String,
    again: bool,
}

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// Seconds to wait after the `attempts`-th failure: 5 s doubling, at most
/// an hour.
pub fn backoff(attempts: i32) -> i64 {
    (5i64 << attempts.clamp(0, 20)).min(3600)
}

pub struct Deliverer {
    core: Arc<Latchkey>,
    egress: Egress,
}

impl Deliverer {
    pub fn new(core: Arc<Latchkey>, lookup: Arc<dyn Lookup>) -> anyhow::Result<Deliverer> {
        let egress = Egress::new(lookup, Ok)?;
        Ok(Deliverer { core, egress })
    }

    /// Sends every due delivery once; returns how many were delivered.
    pub async fn run_once(&self) -> usize {
        let now = self.core.clock.unix();
        let due = match self.core.store.due_deliveries(now, 50).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the logout outbox");
                return 0;
            }
        };
        // Several instances poll the same outbox: each delivery is claimed
        // for a lease first, so only one of them sends it.
        let mut mine = Vec::new();
        for d in due {
            match self
                .core
                .store
                .claim_delivery(&d.id, d.next_attempt_at, now + LEASE_SECS)
                .await
            {
                Ok(true) => mine.push(d),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim a logout delivery"),
            }
        }
        let sends = mine.into_iter().map(|d| self.deliver(d));
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count()
    }

    async fn deliver(&self, d: LogoutDelivery) -> bool {
        let failure = self.send(&d).await.err();
        let now = self.core.clock.unix();
        let store = &self.core.store;
        let recorded = match &failure {
            None => store.mark_delivered(&d.id, now).await,
            Some(Failure { error: err, again }) => {
                let attempts = d.attempts + 1;
                let next = (*again && attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
                tracing::info!(client = %d.client_id, attempts, error = %err, "back-channel logout delivery failed");
                store.mark_failed(&d.id, attempts, next, err).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record a logout delivery's outcome");
        }
        failure.is_none()
    }

    /// One attempt: Ok if the receiver took the token.
    async fn send(&self, d: &LogoutDelivery) -> Result<(), Failure> {
        let reach = self
            .core
            .client_reach(&d.client_id)
            .await
            .map_err(|e| Failure {
                error: format!("cannot read the client's record: {e}"),
                again: true,
            })?;
        let refused = |error: String| Failure {
            error,
            again: false,
        };
        let (http, url) = self
            .egress
            .prepare(&d.uri, reach)
            .map_err(|e| refused(e.to_string()))?;
        match http
            .post(url)
            .form(&[("logout_token", d.logout_token.as_str())])
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(Failure {
                error: format!("receiver answered {}", r.status()),
                again: true,
            }),
            Err(e) if is_refused(&e) => Err(refused(describe(&e))),
            Err(e) => Err(Failure {
                error: format!("request failed: {}", describe(&e)),
                again: true,
            }),
        }
    }

    /// Runs forever, polling the outbox every `every`.
    pub async fn run(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            self.run_once().await;
        }
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
