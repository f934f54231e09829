//! Signing keys as operators act on them: a rotation ahead of schedule and
//! the emergency revocation of a leaked key. Scheduled rotation is
//! [`crate::keys`]'s.

use latchkey_domain::keys::KeyState;
use latchkey_domain::{AuditEvent, Kid};

use super::AdminError;
use crate::audit::Event;
use crate::keys::KeyReport;

service! {
    /// Signing keys as operators act on them.
    pub struct AdminKeys { store, clock, audit, signing_keys }
}

impl AdminKeys<'_> {
    /// `latchkey keys rotate`: the rotation the schedule would make next,
    /// made now (audited as the operator's).
    pub async fn rotate(&self) -> Result<KeyReport, AdminError> {
        Ok(self.signing_keys.rotate().await?)
    }

    /// `latchkey keys revoke KID`, the emergency path for a leaked key: it
    /// leaves the JWKS and this instance's verifier at once (others at
    /// their next check), so every token it signed is refused from now on,
    /// and a replacement signs at once if it was signing.
    pub async fn revoke(&self, kid: &Kid) -> Result<KeyReport, AdminError> {
        let mut revoked = false;
        // A few attempts: a rotation may move the key between our read and
        // our conditional update.
        for _ in 0..3 {
            let records = self.store.list_keys().await?;
            let key = records
                .iter()
                .find(|r| r.kid == *kid)
                .ok_or(AdminError::NotFound("key"))?;
            if !key.state.is_published() {
                return Err(AdminError::Invalid(format!(
                    "key {kid} is already {}",
                    key.state.as_str()
                )));
            }
            if self
                .store
                .transition_key(kid, key.state, KeyState::Revoked, self.clock.unix())
                .await?
            {
                revoked = true;
                break;
            }
        }
        if !revoked {
            return Err(AdminError::Invalid(format!(
                "key {kid} kept changing state; try again"
            )));
        }
        tracing::warn!(kid = kid.as_str(), "signing key revoked");
        self.audit
            .record(Event {
                kind: AuditEvent::KeyRevoked,
                user_id: None,
                client_id: None,
                ip: None,
                detail: format!("kid {kid}"),
            })
            .await;
        let mut report = self.signing_keys.run_lifecycle(false).await?;
        report.revoked.push(kid.to_owned());
        Ok(report)
    }
}
