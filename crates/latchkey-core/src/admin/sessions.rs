//! A user's sessions, as an operator sees and ends them.

use latchkey_domain::{RevokeReason, SessionId};

use super::*;

service! {
    /// Any user's sessions, as operators see and end them.
    pub struct AdminSessions { store, sessions, users }
}

impl AdminSessions<'_> {
    /// A user's active sessions, for an operator.
    pub async fn list(
        &self,
        username: &str,
    ) -> Result<Vec<crate::sessions::SessionView>, AdminError> {
        let user = self.users.user_by_name(username).await?;
        Ok(self.sessions.list_sessions(&user.id, None).await?)
    }

    /// Ends one session (its refresh families die, its clients are told
    /// through back-channel logout).
    pub async fn end(&self, session_id: &SessionId) -> Result<(), AdminError> {
        let session = match self.store.find_session(session_id).await? {
            Some(s) if s.is_active() => s,
            _ => return Err(AdminError::NotFound("session")),
        };
        self.sessions
            .end_sessions(
                &session.user_id,
                Some(vec![session.id.clone()]),
                false,
                RevokeReason::SessionEndedByOperator,
            )
            .await?;
        Ok(())
    }
}
