use latchkey_domain::{LogoutDelivery, OutboxRepository, StoreResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::read_all;
use crate::entities::logout_deliveries::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

/// How much of a delivery error is kept (characters): enough to diagnose,
/// bounded whatever a receiver answers.
const MAX_ERROR_CHARS: usize = 500;

#[async_trait::async_trait]
impl OutboxRepository for SeaStore {
    /// Oldest first, so a backlog drains in order. A NULL `next_attempt_at`
    /// (given up) is never due.
    async fn due_deliveries(&self, now: i64, limit: u64) -> StoreResult<Vec<LogoutDelivery>> {
        let rows = Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::NextAttemptAt.is_not_null())
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db_err("logout_deliveries.due"))?;
        read_all(rows, Model::into_domain)
    }

    /// The first delivery time is kept if two workers both delivered.
    async fn claim_delivery(&self, id: &str, seen: i64, lease_until: i64) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::NextAttemptAt, Expr::value(lease_until))
            .filter(Column::Id.eq(id))
            .filter(Column::NextAttemptAt.eq(seen))
            .filter(Column::DeliveredAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("logout_deliveries.claim"))?;
        Ok(res.rows_affected == 1)
    }

    async fn mark_delivered(&self, id: &str, at: i64) -> StoreResult<()> {
        Entity::update_many()
            .col_expr(Column::DeliveredAt, Expr::value(at))
            .filter(Column::Id.eq(id))
            .filter(Column::DeliveredAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("logout_deliveries.mark_delivered"))?;
        Ok(())
    }

    /// A delivered row stays delivered: a late failure report from another
    /// worker does not reschedule it.
    async fn mark_failed(
        &self,
        id: &str,
        attempts: i32,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        Entity::update_many()
            .col_expr(Column::Attempts, Expr::value(attempts))
            .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
            .col_expr(Column::LastError, Expr::value(error))
            .filter(Column::Id.eq(id))
            .filter(Column::DeliveredAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("logout_deliveries.mark_failed"))?;
        Ok(())
    }

    /// Newest first.
    async fn list_deliveries(&self, limit: u64) -> StoreResult<Vec<LogoutDelivery>> {
        let rows = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db_err("logout_deliveries.list"))?;
        read_all(rows, Model::into_domain)
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        use sea_orm::PaginatorTrait;
        Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::NextAttemptAt.is_not_null())
            .count(&self.db)
            .await
            .map_err(db_err("logout_deliveries.backlog"))
    }
}
