//! Security events: written to the audit table and logged as structured
//! fields. Callers pass identifiers and reasons, never tokens or secrets.

use latchkey_domain::{AuditEvent, AuditRecord, UserId};

pub struct Event<'a> {
    pub kind: AuditEvent,
    pub user_id: Option<&'a UserId>,
    pub client_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub detail: String,
}

impl<'a> Event<'a> {
    /// An event about a client, with no user or address behind it (an
    /// operator's or a registrant's change, a replayed assertion).
    pub fn about_client(kind: AuditEvent, client_id: &'a str, detail: impl Into<String>) -> Self {
        Event {
            kind,
            user_id: None,
            client_id: Some(client_id),
            ip: None,
            detail: detail.into(),
        }
    }
}

service! {
    /// The audit log: one row per security event, written beside the log
    /// line.
    pub struct Audit { store, clock, random, metrics }
}

impl Audit<'_> {
    /// Records an event. A failure to write it is logged, not returned: the
    /// request that caused it has already been decided.
    pub async fn record(&self, e: Event<'_>) {
        self.metrics.security_event(e.kind);
        tracing::info!(
            target: "latchkey::audit",
            kind = e.kind.as_str(),
            user_id = e.user_id.map(UserId::as_str),
            client_id = e.client_id,
            ip = e.ip,
            detail = %e.detail,
            "security event"
        );
        let event = AuditRecord {
            id: self.random.id(),
            at: self.clock.unix(),
            kind: e.kind,
            user_id: e.user_id.map(|u| u.as_str().to_owned()),
            client_id: e.client_id.map(str::to_owned),
            ip: e.ip.map(str::to_owned),
            detail: e.detail,
        };
        if let Err(err) = self.store.record(&event).await {
            tracing::error!(error = %err, kind = e.kind.as_str(), "could not write audit event");
        }
    }
}
