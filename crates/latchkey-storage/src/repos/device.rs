//! Device requests (RFC 8628). Each answer and the redemption is one
//! conditional UPDATE guarded by the state it leaves: the database lets
//! exactly one concurrent caller match, and rows affected says which.

use latchkey_domain::{
    DeviceApproval, DeviceAuthorization, DeviceRepository, DeviceState, StoreError, StoreResult,
    TokenHash,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::read_opt;
use crate::entities::device_authorizations as device;
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl DeviceRepository for SeaStore {
    async fn insert_device_authorization(&self, d: &DeviceAuthorization) -> StoreResult<()> {
        if d.state != DeviceState::Pending {
            return Err(StoreError::Other(
                "device_authorizations.insert: only a pending request is inserted".into(),
            ));
        }
        device::Entity::insert(device::Model::from_domain(d))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("device_authorizations.insert"))?;
        Ok(())
    }

    async fn find_device_by_code(
        &self,
        device_code_hash: &TokenHash,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let row = device::Entity::find()
            .filter(device::Column::DeviceCodeHash.eq(device_code_hash.as_str()))
            .one(&self.db)
            .await
            .map_err(db_err("device_authorizations.find_by_code"))?;
        read_opt(row, device::Model::into_domain)
    }

    async fn find_device_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        let row = device::Entity::find()
            .filter(device::Column::UserCodeHash.eq(user_code_hash))
            .one(&self.db)
            .await
            .map_err(db_err("device_authorizations.find_by_user_code"))?;
        read_opt(row, device::Model::into_domain)
    }

    async fn find_device(&self, id: &str) -> StoreResult<Option<DeviceAuthorization>> {
        let row = device::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err("device_authorizations.find"))?;
        read_opt(row, device::Model::into_domain)
    }

    async fn record_device_poll(&self, id: &str, at: i64, interval: i64) -> StoreResult<()> {
        device::Entity::update_many()
            .col_expr(device::Column::LastPolledAt, Expr::value(at))
            .col_expr(device::Column::PollInterval, Expr::value(interval))
            .filter(device::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("device_authorizations.poll"))?;
        Ok(())
    }

    async fn decide_device(
        &self,
        id: &str,
        approval: Option<&DeviceApproval>,
        at: i64,
    ) -> StoreResult<bool> {
        let mut update = device::Entity::update_many()
            .col_expr(device::Column::DecidedAt, Expr::value(at))
            .filter(device::Column::Id.eq(id))
            .filter(device::Column::State.eq(device::PENDING))
            .filter(device::Column::ExpiresAt.gt(at));
        update = match approval {
            Some(a) => update
                .col_expr(device::Column::State, Expr::value(device::APPROVED))
                .col_expr(device::Column::UserId, Expr::value(a.user_id.as_str()))
                .col_expr(
                    device::Column::SessionId,
                    Expr::value(a.session_id.as_str()),
                )
                .col_expr(device::Column::AuthTime, Expr::value(a.auth_time))
                .col_expr(device::Column::Methods, Expr::value(a.methods.to_string()))
                .col_expr(device::Column::Acr, Expr::value(a.acr.as_str())),
            None => update.col_expr(device::Column::State, Expr::value(device::DENIED)),
        };
        let res = update
            .exec(&self.db)
            .await
            .map_err(db_err("device_authorizations.decide"))?;
        Ok(res.rows_affected == 1)
    }

    async fn redeem_device(&self, id: &str, at: i64) -> StoreResult<bool> {
        let res = device::Entity::update_many()
            .col_expr(device::Column::State, Expr::value(device::REDEEMED))
            .col_expr(device::Column::RedeemedAt, Expr::value(at))
            .filter(device::Column::Id.eq(id))
            .filter(device::Column::State.eq(device::APPROVED))
            .filter(device::Column::ExpiresAt.gt(at))
            .exec(&self.db)
            .await
            .map_err(db_err("device_authorizations.redeem"))?;
        Ok(res.rows_affected == 1)
    }
}
