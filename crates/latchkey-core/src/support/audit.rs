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

/// The operator on whose behalf a change is made, recorded with every
/// event the change causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// `latchkey` commands on the server's host.
    CommandLine,
    /// A user with the admin role, in the console.
    Console { username: &'a str },
    /// A caller of the admin API, by the id of its admin token.
    ApiToken { id: &'a str },
}

impl Actor<'_> {
    /// As stored and shown: `cli`, `console:<username>`, `api:<token id>`.
    pub fn describe(&self) -> String {
        match self {
            Actor::CommandLine => "cli".to_owned(),
            Actor::Console { username } => format!("console:{username}"),
            Actor::ApiToken { id } => format!("api:{id}"),
        }
    }
}

/// The audit log: one row per security event, written beside the log
/// line, naming the operator when one acts.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    store: &'a dyn latchkey_domain::Store,
    clock: &'a dyn latchkey_domain::Clock,
    random: &'a dyn latchkey_domain::Random,
    metrics: &'a crate::support::metrics::Metrics,
    actor: Option<Actor<'a>>,
}

impl<'a> Audit<'a> {
    pub(crate) fn new(app: &'a crate::Latchkey) -> Audit<'a> {
        Audit {
            store: &*app.store,
            clock: &*app.clock,
            random: &*app.random,
            metrics: &app.metrics,
            actor: None,
        }
    }

    /// The same log, with every event recorded as `actor`'s doing.
    pub(crate) fn by(self, actor: Actor<'a>) -> Audit<'a> {
        Audit {
            actor: Some(actor),
            ..self
        }
    }

    /// Records an event. A failure to write it is logged, not returned: the
    /// request that caused it has already been decided.
    pub async fn record(&self, e: Event<'_>) {
        self.metrics.security_event(e.kind);
        let actor = self.actor.map(|a| a.describe());
        tracing::info!(
            target: "latchkey::audit",
            kind = e.kind.as_str(),
            user_id = e.user_id.map(UserId::as_str),
            client_id = e.client_id,
            ip = e.ip,
            detail = %e.detail,
            actor = actor.as_deref(),
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
            actor,
        };
        if let Err(err) = self.store.record(&event).await {
            tracing::error!(error = %err, kind = e.kind.as_str(), "could not write audit event");
        }
    }
}
