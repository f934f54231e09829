//! The account page's password change.

use latchkey_domain::{AuditEvent, RevokeReason};

use crate::admin::AdminError;
use crate::audit::Event;

service! {
    /// A signed-in user changing their own password.
    pub struct PasswordChange { store, clock, random, passwords, throttle, caches, audit, sessions }
}

impl PasswordChange<'_> {
    /// The account page's password change: the current password must be
    /// right, checked behind the sign-in throttle from `ip` (a stolen
    /// session is no way around it). Every session of the user ends, this
    /// one included, and every refresh family dies, so no token issued
    /// before the change survives it (an access token carries its session).
    /// This browser stays signed in with a new session: the returned cookie
    /// value replaces its old one, which an attacker may have copied.
    pub async fn change_own_password(
        &self,
        me: &crate::authorize::SignedIn,
        ip: &str,
        current: String,
        new: String,
    ) -> Result<String, AdminError> {
        let user = &me.user;
        self.throttle
            .password_turn(self.clock, &user.username, ip)
            .await
            .map_err(|wait_secs| AdminError::Throttled { wait_secs })?;
        if !self
            .passwords
            .verify(current, Some(user.password_hash.clone()))
            .await
        {
            return Err(AdminError::Invalid("the current password is wrong".into()));
        }
        self.throttle.succeeded(&user.username, ip).await;
        let hash = self
            .passwords
            .hash(new, crate::passwords::salt(self.random))
            .await?;
        let now = self.clock.unix();
        self.store.set_password(&user.id, &hash, now).await?;
        self.caches.forget_user(&user.id);
        self.sessions
            .end_sessions(&user.id, None, true, RevokeReason::PasswordChanged)
            .await?;
        let (cookie, session) = self
            .sessions
            .open_session(
                &user.id,
                &hash,
                me.session.methods,
                // The current password alone proves no more than the
                // session had: it stays as fresh as it was, so a change
                // of factors still needs the sign-in it needed before.
                me.session.auth_time,
                ip,
                me.session.user_agent.as_deref(),
            )
            .await?
            .ok_or_else(|| {
                AdminError::Invalid(
                    "the password was changed again meanwhile; sign in with the new one".into(),
                )
            })?;
        self.audit
            .record(Event {
                kind: AuditEvent::PasswordChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: format!(
                "by the user; every session and token ended, this browser continues as session {}",
                session.id
            ),
            })
            .await;
        Ok(cookie)
    }
}
