//! Sends back-channel logout tokens over HTTP: the binary's side of the
//! core's [`LogoutSender`] port. The outbox rules (leases, retries,
//! backoff) are the core's ([`latchkey_core::oidc::backchannel`]). A
//! receiver is reached only where its client's reach allows
//! ([`crate::egress`]); a delivery to a refused address is given up at
//! once, without a connection.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::Latchkey;
use latchkey_domain::{LogoutDelivery, LogoutSender, Reach, SendFailure};

use crate::egress::{describe, is_refused, Egress, Lookup};

/// POSTs logout tokens through the egress rules.
pub struct HttpLogoutSender {
    egress: Egress,
}

#[async_trait]
impl LogoutSender for HttpLogoutSender {
    async fn send_logout(&self, d: &LogoutDelivery, reach: Reach) -> Result<(), SendFailure> {
        let refused = |error: String| SendFailure {
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
            Ok(r) => Err(SendFailure {
                error: format!("receiver answered {}", r.status()),
                again: true,
            }),
            Err(e) if is_refused(&e) => Err(refused(describe(&e))),
            Err(e) => Err(SendFailure {
                error: format!("request failed: {}", describe(&e)),
                again: true,
            }),
        }
    }
}

/// The outbox worker: the core's delivery rules with the HTTP sender.
pub struct Deliverer {
    core: Arc<Latchkey>,
    sender: HttpLogoutSender,
}

impl Deliverer {
    pub fn new(core: Arc<Latchkey>, lookup: Arc<dyn Lookup>) -> anyhow::Result<Deliverer> {
        let egress = Egress::new(lookup, Ok)?;
        Ok(Deliverer {
            core,
            sender: HttpLogoutSender { egress },
        })
    }

    /// Sends every due delivery once; returns how many were delivered.
    pub async fn run_once(&self) -> usize {
        self.core.backchannel().deliver(&self.sender).await
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
