//! The operator console's door and its audit view. The console's pages
//! act through the same services as the command line and the admin API;
//! what is the console's own is who may open it: a signed-in user with the
//! `admin` role whose sign-in proved a second factor.

use latchkey_domain::{AuditEvent, AuditFilter, AuditRecord, Role};
use latchkey_protocol::authn::Level;

use super::*;
use crate::authorize::SignedIn;
use crate::support::factors::Enrolled;

/// Whether a signed-in user may use the console, and if not, what they
/// can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleAccess {
    Granted,
    /// Not an administrator: nothing to do.
    NotAdmin,
    /// An administrator with a second factor whose session did not prove
    /// it: sign in again.
    StepUp,
    /// An administrator without a second factor: set one up first.
    Enrol,
}

/// The most audit records one search returns.
pub const AUDIT_PAGE: u64 = 200;

/// An audit search as an operator writes it (a username, an event kind's
/// name), the same from the console, the admin API and the command line.
/// Each field given narrows the search.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery<'q> {
    pub user: Option<&'q str>,
    pub client: Option<&'q str>,
    pub kind: Option<&'q str>,
    /// The operator who acted, exactly as recorded.
    pub actor: Option<&'q str>,
    /// From this Unix time on (inclusive).
    pub since: Option<i64>,
    /// Before this Unix time.
    pub until: Option<i64>,
}

service! {
    /// The console's door and its audit view.
    pub struct AdminConsole { store }
}

impl AdminConsole<'_> {
    /// Whether `me` may use the console now.
    pub async fn access(&self, me: &SignedIn) -> Result<ConsoleAccess, AdminError> {
        if me.user.role != Role::Admin || me.user.disabled {
            return Ok(ConsoleAccess::NotAdmin);
        }
        if me.session.methods.level() >= Level::MultiFactor {
            return Ok(ConsoleAccess::Granted);
        }
        let enrolled = Enrolled::of(self.store, &me.user.id).await?;
        Ok(if enrolled.has_second_factor() {
            ConsoleAccess::StepUp
        } else {
            ConsoleAccess::Enrol
        })
    }

    /// The newest audit records that answer `q` (at most [`AUDIT_PAGE`]).
    /// An unknown user or event kind is an error, not an empty answer.
    pub async fn search(&self, q: AuditQuery<'_>) -> Result<Vec<AuditRecord>, AdminError> {
        let user_id = match q.user {
            None => None,
            Some(name) => match self.store.find_user_by_username(name).await? {
                Some(u) => Some(u.id.as_str().to_owned()),
                None => return Err(AdminError::Invalid(format!("no user named {name:?}"))),
            },
        };
        let kind = q
            .kind
            .map(AuditEvent::parse)
            .transpose()
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        self.audit(&AuditFilter {
            user_id,
            client_id: q.client.map(str::to_owned),
            kind,
            actor: q.actor.map(str::to_owned),
            since: q.since,
            until: q.until,
        })
        .await
    }

    /// The newest audit records that pass `filter` (at most
    /// [`AUDIT_PAGE`]).
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, AdminError> {
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            if until <= since {
                return Err(AdminError::Invalid(
                    "the end of the time range must come after its start".into(),
                ));
            }
        }
        Ok(self.store.search(filter, AUDIT_PAGE).await?)
    }
}
