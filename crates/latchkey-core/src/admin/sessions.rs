//! A user's sessions, as an operator sees and ends them.

use latchkey_domain::{RevokeReason, SessionId};

use super::*;
use crate::Latchkey;

impl Latchkey {
    /// A user's active sessions, for an operator.
    pub async fn admin_list_sessions(
        &self,
        username: &str,
    ) -> Result<Vec<crate::sessions::SessionView>, AdminError> {
        let user = self.user_by_name(username).await?;
        Ok(self.list_sessions(&user.id, None).await?)
    }

    /// Ends one session (its refresh families die, its clients are told
    /// through back-channel logout).
    pub async fn admin_end_session(&self, session_id: &SessionId) -> Result<(), AdminError> {
        let session = match self.store.find_session(session_id).await? {
            Some(s) if s.is_active() => s,
            _ => return Err(AdminError::NotFound("session")),
        };
        self.end_sessions(
            &session.user_id,
            Some(vec![session.id.clone()]),
            false,
            RevokeReason::SessionEndedByOperator,
        )
        .await?;
        Ok(())
    }
}
