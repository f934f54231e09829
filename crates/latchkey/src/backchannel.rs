//! Delivers back-channel logout tokens from the outbox (OIDC Back-Channel
//! Logout 1.0 §2.5). Deliveries were written in the same transaction as the
//! logout, so a restart loses none; a slow or failing receiver is retried
//! with bounded exponential backoff and never holds up a user's request.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_domain::LogoutDelivery;

/// Seconds a claimed delivery belongs to the worker that claimed it; if
/// that worker dies, another picks the delivery up after this.
pub const LEASE_SECS: i64 = 30;

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// Seconds to wait after the `attempts`-th failure: 5 s doubling, at most
/// an hour.
pub fn backoff(attempts: i32) -> i64 {
    (5i64 << attempts.clamp(0, 20)).min(3600)
}

pub struct Deliverer {
    core: Arc<Latchkey>,
    http: reqwest::Client,
}

impl Deliverer {
    pub fn new(core: Arc<Latchkey>) -> Deliverer {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client builds with static settings");
        Deliverer { core, http }
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
        let result = self
            .http
            .post(&d.uri)
            .form(&[("logout_token", d.logout_token.as_str())])
            .send()
            .await;
        let now = self.core.clock.unix();
        let failure = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("receiver answered {}", r.status())),
            Err(e) => Some(format!("request failed: {e}")),
        };
        let store = &self.core.store;
        let recorded = match &failure {
            None => store.mark_delivered(&d.id, now).await,
            Some(err) => {
                let attempts = d.attempts + 1;
                let next = (attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
                tracing::info!(client = %d.client_id, attempts, error = %err, "back-channel logout delivery failed");
                store.mark_failed(&d.id, attempts, next, err).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record a logout delivery's outcome");
        }
        failure.is_none()
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
