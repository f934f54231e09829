//! Users: create, list, show, set a password, disable or delete. Every
//! change that weakens a sign-in ends the user's sessions.

use latchkey_domain::{AuditEvent, RevokeReason};
use latchkey_domain::{Groups, Role, StandardClaims, StoreError, User};
use serde_json::{Map, Value};

use super::*;
use crate::audit::Event;

/// Changes to a user's claims: each named claim (OIDC Core §5.1) set to a
/// JSON value (`null` clears it), and the groups, replaced when given.
/// Whatever is not named stays as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub claims: Map<String, Value>,
    pub groups: Option<Vec<String>>,
}

impl UserChanges {
    /// The claims and groups after these changes, each value checked.
    fn apply(
        self,
        claims: &StandardClaims,
        groups: &Groups,
    ) -> Result<(StandardClaims, Groups), AdminError> {
        let mut claims = claims.clone();
        claims
            .apply(self.claims)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let groups = match self.groups {
            Some(names) => Groups::parse(names).map_err(|e| AdminError::Invalid(e.to_string()))?,
            None => groups.clone(),
        };
        Ok((claims, groups))
    }
}

service! {
    /// Users, as operators manage them.
    pub struct AdminUsers { store, clock, random, passwords, caches, audit, sessions }
}

impl AdminUsers<'_> {
    pub async fn create(
        &self,
        username: &str,
        password: String,
        changes: UserChanges,
    ) -> Result<User, AdminError> {
        self.create_with_role(username, password, changes, Role::User)
            .await
    }

    /// Creates a user with `role` (`latchkey user add --role admin`).
    pub async fn create_with_role(
        &self,
        username: &str,
        password: String,
        changes: UserChanges,
        role: Role,
    ) -> Result<User, AdminError> {
        let username = username.trim();
        if username.is_empty()
            || username.len() > 128
            || username
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(AdminError::Invalid(
                "username must be 1-128 characters without spaces or control characters".into(),
            ));
        }
        let (claims, groups) = changes.apply(&StandardClaims::default(), &Groups::default())?;
        if self.store.find_user_by_username(username).await?.is_some() {
            return Err(AdminError::Exists("user"));
        }
        let hash = self
            .passwords
            .hash(password, crate::passwords::salt(self.random))
            .await?;
        let now = self.clock.unix();
        let user = User {
            id: uuid_like(self.random),
            username: username.to_owned(),
            password_hash: hash,
            claims,
            groups,
            disabled: false,
            role,
            created_at: now,
            password_changed_at: now,
            updated_at: now,
        };
        match self.store.insert_user(&user).await {
            Err(StoreError::Conflict(_)) => return Err(AdminError::Exists("user")),
            r => r?,
        }
        self.audit
            .record(Event {
                kind: AuditEvent::UserCreated,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: format!("{} (role {})", user.username, user.role.as_str()),
            })
            .await;
        Ok(user)
    }

    /// Changes a user's claims and groups; what `changes` does not name
    /// stays as it is.
    pub async fn update(&self, username: &str, changes: UserChanges) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        let (claims, groups) = changes.apply(&user.claims, &user.groups)?;
        // `updated_at` always moves forward, even within a second: a
        // user's profile edit writes only over the version it read.
        let now = self.clock.unix().max(user.updated_at + 1);
        if !self
            .store
            .set_user_claims(&user.id, &claims, &groups, now)
            .await?
        {
            return Err(AdminError::NotFound("user"));
        }
        self.caches.forget_user(&user.id);
        self.audit
            .record(Event {
                kind: AuditEvent::UserClaimsChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: String::new(),
            })
            .await;
        Ok(User {
            claims,
            groups,
            updated_at: now,
            ..user
        })
    }

    pub async fn list(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.list_users().await?)
    }

    pub(crate) async fn user_by_name(&self, username: &str) -> Result<User, AdminError> {
        self.store
            .find_user_by_username(username)
            .await?
            .ok_or(AdminError::NotFound("user"))
    }

    /// Sets a new password and ends every session of the user, so a stolen
    /// session does not outlive the password it was opened with.
    pub async fn set_password(&self, username: &str, password: String) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        let hash = self
            .passwords
            .hash(password, crate::passwords::salt(self.random))
            .await?;
        let now = self.clock.unix();
        self.store.set_password(&user.id, &hash, now).await?;
        self.caches.forget_user(&user.id);
        self.sessions
            .end_sessions(&user.id, None, true, RevokeReason::PasswordChanged)
            .await?;
        self.audit
            .record(Event {
                kind: AuditEvent::PasswordChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: "all sessions ended, all refresh families revoked".into(),
            })
            .await;
        Ok(user)
    }

    /// Disables or enables a user. Disabling ends every session and
    /// revokes every refresh family: a disabled user's tokens stop working.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        self.store.set_user_disabled(&user.id, disabled).await?;
        self.caches.forget_user(&user.id);
        if disabled {
            self.sessions
                .end_sessions(&user.id, None, true, RevokeReason::UserDisabled)
                .await?;
        }
        self.audit
            .record(Event {
                kind: if disabled {
                    AuditEvent::UserDisabled
                } else {
                    AuditEvent::UserEnabled
                },
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: String::new(),
            })
            .await;
        Ok(user)
    }

    /// Gives a user a role. Taking the admin role away ends the user's
    /// sessions, so an open console does not outlive the right to use it.
    pub async fn set_role(&self, username: &str, role: Role) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        if user.role == role {
            return Ok(user);
        }
        if !self.store.set_user_role(&user.id, role).await? {
            return Err(AdminError::NotFound("user"));
        }
        self.caches.forget_user(&user.id);
        if user.role == Role::Admin {
            self.sessions
                .end_sessions(&user.id, None, false, RevokeReason::SessionEndedByOperator)
                .await?;
        }
        self.audit
            .record(Event {
                kind: AuditEvent::UserRoleChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: format!("{} -> {}", user.role, role),
            })
            .await;
        Ok(User { role, ..user })
    }

    pub async fn delete(&self, username: &str) -> Result<(), AdminError> {
        let user = self.user_by_name(username).await?;
        // Record the revocations before the rows go: tokens already issued
        // must stop working too.
        self.sessions
            .end_sessions(&user.id, None, true, RevokeReason::UserDeleted)
            .await?;
        self.caches.forget_user(&user.id);
        if !self.store.delete_user(&user.id).await? {
            return Err(AdminError::NotFound("user"));
        }
        self.audit
            .record(Event {
                kind: AuditEvent::UserDeleted,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: String::new(),
            })
            .await;
        Ok(())
    }

    pub async fn show(&self, username: &str) -> Result<User, AdminError> {
        self.user_by_name(username).await
    }

    /// The second factors a user has set up (never their secrets).
    pub async fn factors(
        &self,
        user: &User,
    ) -> Result<crate::support::factors::Enrolled, AdminError> {
        Ok(crate::support::factors::Enrolled::of(self.store, &user.id).await?)
    }

    /// Removes every second factor of the user (authenticator app,
    /// recovery codes, passkeys) and ends their sessions: for a user who
    /// lost their devices. Returns how many factors were removed.
    pub async fn reset_factors(&self, username: &str) -> Result<u64, AdminError> {
        let user = self.user_by_name(username).await?;
        let removed = self.store.reset_factors(&user.id).await?;
        self.sessions
            .end_sessions(&user.id, None, true, RevokeReason::FactorsChanged)
            .await?;
        self.audit
            .record(Event {
                kind: AuditEvent::FactorsChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: format!("reset by an operator: {removed} removed, every session ended"),
            })
            .await;
        Ok(removed)
    }
}
