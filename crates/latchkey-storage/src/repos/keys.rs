use latchkey_domain::keys::{KeyState, SigningKeyRecord};
use latchkey_domain::{KeyRepository, StoreResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::read_all;
use crate::entities::signing_keys::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl KeyRepository for SeaStore {
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = Entity::find()
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Kid)
            .all(&self.db)
            .await
            .map_err(db_err("signing_keys.list"))?;
        read_all(rows, Model::into_domain)
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        Entity::insert(Model::from_domain(key))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("signing_keys.insert"))?;
        Ok(())
    }

    /// Guarded by the current state, so when several instances rotate at
    /// once only one moves each key.
    async fn transition_key(
        &self,
        kid: &str,
        from: KeyState,
        to: KeyState,
        at: i64,
    ) -> StoreResult<bool> {
        let mut update = Entity::update_many().col_expr(Column::State, Expr::value(to.as_str()));
        update = match to {
            KeyState::Retired => update.col_expr(Column::RetiredAt, Expr::value(at)),
            KeyState::Removed | KeyState::Revoked => {
                update.col_expr(Column::RemovedAt, Expr::value(at))
            }
            KeyState::Next | KeyState::Current => update,
        };
        let res = update
            .filter(Column::Kid.eq(kid))
            .filter(Column::State.eq(from.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("signing_keys.transition"))?;
        Ok(res.rows_affected == 1)
    }
}
