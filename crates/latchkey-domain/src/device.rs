//! The device authorization grant (RFC 8628): a device's request waiting
//! for a user to answer it on another screen, its state machine, and its
//! storage port.
//!
//! The device code is stored as its SHA-256 ([`TokenHash`]) and the user
//! code as a keyed hash (the server's pepper): the user code is short, so
//! an unkeyed hash of it could be reversed by trying every code.

use async_trait::async_trait;
use latchkey_protocol::{ClientId, Scope};

use crate::entities::{InvalidTransition, Methods};
use crate::ids::{SessionId, TokenHash, UserId};
use crate::ports::StoreResult;

/// A device's request (RFC 8628 §3.1) and where the user's answer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub id: String,
    pub device_code_hash: TokenHash,
    /// Keyed hash of the normalized user code.
    pub user_code_hash: String,
    pub client_id: ClientId,
    pub scope: Scope,
    /// Seconds the device must wait between polls; grows by 5 with each
    /// poll that comes too early (RFC 8628 §3.5 `slow_down`).
    pub interval: i64,
    pub last_polled_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: DeviceState,
}

impl DeviceAuthorization {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Whether a poll at `now` comes before the interval since the last
    /// one has passed.
    pub fn polled_too_soon(&self, now: i64) -> bool {
        self.last_polled_at
            .is_some_and(|last| now < last + self.interval)
    }
}

/// Who approved a device's request, with how they signed in: what its
/// tokens carry (`sub`, `sid`, `auth_time`, `acr`, `amr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub auth_time: i64,
    pub methods: Methods,
    pub acr: String,
    pub at: i64,
}

/// Where a device's request is: waiting for the user, answered once
/// (approved or denied), and, once approved, redeemed once for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved(DeviceApproval),
    Denied { at: i64 },
    Redeemed { at: i64, approval: DeviceApproval },
}

impl DeviceState {
    /// The stored name of the state.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Approved(_) => "approved",
            DeviceState::Denied { .. } => "denied",
            DeviceState::Redeemed { .. } => "redeemed",
        }
    }

    /// `Pending` → `Approved` or `Denied`, once.
    pub fn decide(
        self,
        decision: Option<DeviceApproval>,
        at: i64,
    ) -> Result<DeviceState, InvalidTransition> {
        match (self, decision) {
            (DeviceState::Pending, Some(approval)) => Ok(DeviceState::Approved(approval)),
            (DeviceState::Pending, None) => Ok(DeviceState::Denied { at }),
            _ => Err(InvalidTransition("the device request was already answered")),
        }
    }

    /// `Approved` → `Redeemed`, once.
    pub fn redeem(self, at: i64) -> Result<DeviceState, InvalidTransition> {
        match self {
            DeviceState::Approved(approval) => Ok(DeviceState::Redeemed { at, approval }),
            _ => Err(InvalidTransition(
                "only an approved device request can be redeemed",
            )),
        }
    }
}

/// Device requests in storage.
#[async_trait]
pub trait DeviceRepository: Send + Sync {
    /// Stores a new request; `Conflict` if its device or user code hash is
    /// taken (the caller draws new codes).
    async fn insert_device_authorization(&self, d: &DeviceAuthorization) -> StoreResult<()>;
    async fn find_device_by_code(
        &self,
        device_code_hash: &TokenHash,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    async fn find_device_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    async fn find_device(&self, id: &str) -> StoreResult<Option<DeviceAuthorization>>;
    /// Records a poll at `at` with the interval the device must keep from
    /// now on.
    async fn record_device_poll(&self, id: &str, at: i64, interval: i64) -> StoreResult<()>;
    /// Records the user's answer (`approval`, or `None` for a denial) if,
    /// and only if, the request is still pending and unexpired at `at`:
    /// of concurrent answers, exactly one is recorded.
    async fn decide_device(
        &self,
        id: &str,
        approval: Option<&DeviceApproval>,
        at: i64,
    ) -> StoreResult<bool>;
    /// Marks an approved, unexpired request redeemed. Of any number of
    /// concurrent calls, exactly one gets true.
    async fn redeem_device(&self, id: &str, at: i64) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> DeviceApproval {
        DeviceApproval {
            user_id: UserId::new("u"),
            session_id: SessionId::new("s"),
            auth_time: 1,
            methods: Methods::PASSWORD,
            acr: "0".into(),
            at: 2,
        }
    }

    #[test]
    fn answered_once_redeemed_once() {
        let approved = DeviceState::Pending.decide(Some(approval()), 2).unwrap();
        assert!(approved.clone().decide(None, 3).is_err());
        let redeemed = approved.redeem(4).unwrap();
        assert!(redeemed.clone().redeem(5).is_err());
        assert_eq!(redeemed.name(), "redeemed");
        let denied = DeviceState::Pending.decide(None, 2).unwrap();
        assert!(denied.clone().redeem(3).is_err());
        assert!(denied.decide(Some(approval()), 3).is_err());
        assert!(DeviceState::Pending.redeem(1).is_err());
    }
}
