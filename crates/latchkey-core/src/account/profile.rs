//! The account profile page: a signed-in user editing the standard claims
//! the operator lets users edit (`account.editable_claims`).

use latchkey_domain::{AuditEvent, User};
use latchkey_protocol::profile::{edit_profile, EditableClaims, ProfileError};
use latchkey_protocol::user_claims::UserClaim;

use crate::audit::Event;
use crate::authorize::SignedIn;
use crate::error::CoreError;

/// Why a profile edit was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ProfileUpdateError {
    /// A field the form never has, or values that break their rule.
    #[error(transparent)]
    Refused(#[from] ProfileError),
    /// The claims changed since they were read (an operator's change, or
    /// the user's own in another tab): nothing was stored.
    #[error("your profile was changed meanwhile; check it and save again")]
    Conflict,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for ProfileUpdateError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        ProfileUpdateError::Core(e.into())
    }
}

service! {
    /// A signed-in user's own claims.
    pub struct Profile { store, clock, settings, caches, audit }
}

impl Profile<'_> {
    /// The claims users may edit.
    pub fn editable(&self) -> &EditableClaims {
        &self.settings.account.editable_claims
    }

    /// Applies the posted profile form (`fields`, the form less its CSRF
    /// token) to the signed-in user's claims, with the checks of the
    /// command line and the admin API. Only the standard claims are
    /// written, and only over the version read: a change made meanwhile
    /// (an operator revoking `email_verified`, say) is never overwritten
    /// with an older copy. Returns the user as stored and the claims that
    /// changed (none: nothing was written).
    pub async fn update_own_claims<'f>(
        &self,
        me: &SignedIn,
        ip: &str,
        fields: impl IntoIterator<Item = (&'f str, &'f str)>,
    ) -> Result<(User, Vec<UserClaim>), ProfileUpdateError> {
        let user = &me.user;
        let edit = edit_profile(&user.claims, self.editable(), fields)?;
        if edit.changed.is_empty() {
            return Ok((user.clone(), edit.changed));
        }
        // `updated_at` always moves forward, so that the next edit's
        // comparison sees this one even within the same second.
        let now = self.clock.unix().max(user.updated_at + 1);
        if !self
            .store
            .set_user_claims_if_unchanged(&user.id, &edit.claims, user.updated_at, now)
            .await?
        {
            return Err(ProfileUpdateError::Conflict);
        }
        self.caches.forget_user(&user.id);
        let names: Vec<&str> = edit.changed.iter().map(|c| c.as_str()).collect();
        self.audit
            .record(Event {
                kind: AuditEvent::UserClaimsChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: Some(ip),
                detail: format!("by the user: {}", names.join(", ")),
            })
            .await;
        Ok((
            User {
                claims: edit.claims,
                updated_at: now,
                ..user.clone()
            },
            edit.changed,
        ))
    }
}
