use latchkey_domain::{AuditLog, AuditRecord, StoreResult};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use super::read_all;
use crate::entities::audit_events::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl AuditLog for SeaStore {
    async fn record(&self, event: &AuditRecord) -> StoreResult<()> {
        Entity::insert(Model::from_domain(event))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("audit_events.insert"))?;
        Ok(())
    }

    /// Newest first.
    async fn recent(&self, limit: u64) -> StoreResult<Vec<AuditRecord>> {
        let rows = Entity::find()
            .order_by_desc(Column::At)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db_err("audit_events.recent"))?;
        read_all(rows, Model::into_domain)
    }
}
