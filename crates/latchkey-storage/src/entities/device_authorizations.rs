use latchkey_domain::{
    DeviceApproval, DeviceAuthorization, DeviceState, SessionId, StoreError, TokenHash, UserId,
};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::{corrupt, parse_client_id, parse_scope};

const TABLE: &str = "device_authorizations";

pub(crate) const PENDING: &str = "pending";
pub(crate) const APPROVED: &str = "approved";
pub(crate) const DENIED: &str = "denied";
pub(crate) const REDEEMED: &str = "redeemed";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub device_code_hash: String,
    #[sea_orm(column_type = "Text")]
    pub user_code_hash: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub poll_interval: i64,
    pub last_polled_at: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub state: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub session_id: Option<String>,
    pub auth_time: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub methods: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub acr: Option<String>,
    pub decided_at: Option<i64>,
    pub redeemed_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    fn approval(&self) -> Result<DeviceApproval, StoreError> {
        let missing = || corrupt(TABLE, "user_id", "an approved request without its approval");
        Ok(DeviceApproval {
            user_id: UserId::new(self.user_id.clone().ok_or_else(missing)?),
            session_id: SessionId::new(self.session_id.clone().ok_or_else(missing)?),
            auth_time: self.auth_time.ok_or_else(missing)?,
            methods: super::parse_methods(TABLE, self.methods.as_deref().ok_or_else(missing)?)?,
            acr: self.acr.clone().ok_or_else(missing)?,
            at: self.decided_at.ok_or_else(missing)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<DeviceAuthorization, StoreError> {
        let state = match self.state.as_str() {
            PENDING => DeviceState::Pending,
            APPROVED => DeviceState::Approved(self.approval()?),
            DENIED => DeviceState::Denied {
                at: self
                    .decided_at
                    .ok_or_else(|| corrupt(TABLE, "decided_at", "a denial without its time"))?,
            },
            REDEEMED => DeviceState::Redeemed {
                at: self.redeemed_at.ok_or_else(|| {
                    corrupt(TABLE, "redeemed_at", "a redemption without its time")
                })?,
                approval: self.approval()?,
            },
            _ => return Err(corrupt(TABLE, "state", "unknown state")),
        };
        Ok(DeviceAuthorization {
            client_id: parse_client_id(TABLE, "client_id", &self.client_id)?,
            scope: parse_scope(TABLE, "scope", &self.scope)?,
            id: self.id,
            device_code_hash: TokenHash::new(self.device_code_hash),
            user_code_hash: self.user_code_hash,
            interval: self.poll_interval,
            last_polled_at: self.last_polled_at,
            created_at: self.created_at,
            expires_at: self.expires_at,
            state,
        })
    }

    /// A new request's row (its state is written by the conditional
    /// updates, never here, so only a pending request is inserted).
    pub(crate) fn from_domain(d: &DeviceAuthorization) -> ActiveModel {
        ActiveModel {
            id: Set(d.id.clone()),
            device_code_hash: Set(d.device_code_hash.as_str().to_owned()),
            user_code_hash: Set(d.user_code_hash.clone()),
            client_id: Set(d.client_id.as_str().to_owned()),
            scope: Set(d.scope.to_string()),
            poll_interval: Set(d.interval),
            last_polled_at: Set(d.last_polled_at),
            state: Set(PENDING.to_owned()),
            user_id: Set(None),
            session_id: Set(None),
            auth_time: Set(None),
            methods: Set(None),
            acr: Set(None),
            decided_at: Set(None),
            redeemed_at: Set(None),
            created_at: Set(d.created_at),
            expires_at: Set(d.expires_at),
        }
    }
}
