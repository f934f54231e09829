use latchkey_domain::{RevocationRepository, RevokedToken, StoreResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

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

    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let n = Entity::find()
            .filter(Column::Jti.eq(jti))
            .count(&self.db)
            .await
            .map_err(db_err("revoked_tokens.find"))?;
        Ok(n > 0)
    }
}
