use latchkey_domain::{AuditFilter, AuditLog, AuditRecord, StoreResult};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

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

    /// Newest first.
    async fn search(&self, filter: &AuditFilter, limit: u64) -> StoreResult<Vec<AuditRecord>> {
        let mut q = Entity::find();
        if let Some(u) = &filter.user_id {
            q = q.filter(Column::UserId.eq(u.as_str()));
        }
        if let Some(c) = &filter.client_id {
            q = q.filter(Column::ClientId.eq(c.as_str()));
        }
        if let Some(k) = filter.kind {
            q = q.filter(Column::Kind.eq(k.as_str()));
        }
        if let Some(a) = &filter.actor {
            q = q.filter(Column::Actor.eq(a.as_str()));
        }
        if let Some(t) = filter.since {
            q = q.filter(Column::At.gte(t));
        }
        if let Some(t) = filter.until {
            q = q.filter(Column::At.lt(t));
        }
        let rows = q
            .order_by_desc(Column::At)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(db_err("audit_events.search"))?;
        read_all(rows, Model::into_domain)
    }
}
