//! [`UsedOnce`] on the database: a row per value, unique by key, written
//! by one statement: an insert that, finding the key taken, replaces the
//! row only if it has expired. One row changed is a first use; none, a
//! second (the row lock, or SQLite's write lock, orders concurrent ones).

use latchkey_domain::{CounterError, UsedOnce};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Set};

use super::sweep::delete_bounded;
use crate::entities::used_once;
use crate::error::db_err;
use crate::SeaStore;

fn counter_err(e: latchkey_domain::StoreError) -> CounterError {
    CounterError(e.to_string())
}

#[async_trait::async_trait]
impl UsedOnce for SeaStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, CounterError> {
        let row = used_once::ActiveModel {
            key: Set(key.to_owned()),
            expires_at: Set(expires_at),
        };
        let inserted = used_once::Entity::insert(row)
            .on_conflict(
                OnConflict::column(used_once::Column::Key)
                    .update_column(used_once::Column::ExpiresAt)
                    .action_and_where(
                        Expr::col((used_once::Entity, used_once::Column::ExpiresAt)).lte(now),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| counter_err(db_err("used_once.insert")(e)))?;
        Ok(inserted == 1)
    }

    async fn sweep_used(&self, now: i64, limit: u64) -> Result<u64, CounterError> {
        let rule = Condition::all().add(used_once::Column::ExpiresAt.lte(now));
        delete_bounded::<used_once::Entity>(&self.db, rule, limit, "used_once.sweep")
            .await
            .map_err(counter_err)
    }
}
