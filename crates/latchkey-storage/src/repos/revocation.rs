use latchkey_domain::{RevocationRepository, RevokedToken, StoreResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::read_all;
use crate::entities::revoked_tokens::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl RevocationRepository for SeaStore {
    /// Revoking twice keeps the first record: the token is revoked either
    /// way, and the first reason is the one worth keeping.
    async fn revoke_token(&self, token: &RevokedToken) -> StoreResult<()> {
        Entity::insert(Model::from_domain(token))
            .on_conflict(OnConflict::column(Column::Jti).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("revoked_tokens.insert"))?;
        Ok(())
    }

    /// One indexed lookup for all the keys a token carries (its jti, family
    /// and session): this is on the hot path of every cache miss.
    async fn any_revoked(&self, keys: &[String]) -> StoreResult<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let hit: Option<String> = Entity::find()
            .select_only()
            .column(Column::Jti)
            .filter(Column::Jti.is_in(keys.iter().map(String::as_str)))
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(db_err("revoked_tokens.any"))?;
        Ok(hit.is_some())
    }

    async fn revocations_since(&self, since: i64, now: i64) -> StoreResult<Vec<RevokedToken>> {
        let rows = Entity::find()
            .filter(Column::RevokedAt.gte(since))
            .filter(Column::ExpiresAt.gt(now))
            .order_by_asc(Column::RevokedAt)
            .order_by_asc(Column::Jti)
            .all(&self.db)
            .await
            .map_err(db_err("revoked_tokens.since"))?;
        read_all(rows, Model::into_domain)
    }
}
