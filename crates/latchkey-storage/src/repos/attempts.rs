//! The attempt counter on the database, for instances that share Postgres
//! without Redis. A hit is one `INSERT ... ON CONFLICT DO UPDATE ...
//! RETURNING` per batch of keys: the row lock (Postgres) or the write lock
//! (SQLite) makes each key's read-and-increment atomic, and every
//! expression of the update reads the row as it was, so the previous
//! attempt's time comes back with the new count.

use latchkey_domain::{AttemptCounter, CounterError, Hit, StoreError};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::sweep::delete_bounded;
use crate::entities::login_attempts::{Column, Entity};
use crate::error::db_err;
use crate::SeaStore;

fn counter_err(e: StoreError) -> CounterError {
    CounterError(e.to_string())
}

#[async_trait::async_trait]
impl AttemptCounter for SeaStore {
    async fn hit(
        &self,
        keys: &[String],
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Vec<Hit>, CounterError> {
        let op = db_err("login_attempts.hit");
        // Rows in one order for every caller, so two batches never wait on
        // each other's rows crosswise.
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let Some(_) = sorted.first() else {
            return Ok(Vec::new());
        };
        let mut insert = Query::insert();
        insert.into_table(Entity).columns([
            Column::Key,
            Column::Count,
            Column::LastAtMs,
            Column::PreviousAtMs,
        ]);
        for key in sorted {
            insert.values_panic([
                key.as_str().into(),
                1i64.into(),
                now_ms.into(),
                Option::<i64>::None.into(),
            ]);
        }
        // The stored row's columns, named with their table: unqualified
        // they are ambiguous with the proposed row's on Postgres.
        let stored = |c: Column| Expr::col((Entity, c));
        // A run idle for `idle_ms` starts over.
        let stale = || stored(Column::LastAtMs).lte(now_ms - idle_ms);
        insert
            .on_conflict(
                OnConflict::column(Column::Key)
                    .values([
                        (
                            Column::Count,
                            Expr::case(stale(), 1i64)
                                .finally(stored(Column::Count).add(1i64))
                                .into(),
                        ),
                        (
                            Column::PreviousAtMs,
                            Expr::case(stale(), Option::<i64>::None)
                                .finally(stored(Column::LastAtMs))
                                .into(),
                        ),
                        (Column::LastAtMs, Expr::value(now_ms)),
                    ])
                    .to_owned(),
            )
            .returning(Query::returning().columns([
                Column::Key,
                Column::Count,
                Column::PreviousAtMs,
            ]));
        let rows = self
            .db
            .query_all(self.db.get_database_backend().build(&insert))
            .await
            .map_err(&op)
            .map_err(counter_err)?;
        let mut counted = Vec::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get("", "key").map_err(&op).map_err(counter_err)?;
            let hit = Hit {
                count: row.try_get("", "count").map_err(&op).map_err(counter_err)?,
                previous_ms: row
                    .try_get("", "previous_at_ms")
                    .map_err(&op)
                    .map_err(counter_err)?,
            };
            counted.push((key, hit));
        }
        keys.iter()
            .map(|key| {
                counted
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, hit)| *hit)
                    .ok_or_else(|| CounterError("login_attempts.hit: a key was not counted".into()))
            })
            .collect()
    }

    async fn forgive(&self, key: &str) -> Result<(), CounterError> {
        Entity::update_many()
            .col_expr(Column::Count, Expr::col(Column::Count).sub(1i64))
            .filter(Column::Key.eq(key))
            .filter(Column::Count.gt(0i64))
            .exec(&self.db)
            .await
            .map_err(db_err("login_attempts.forgive"))
            .map_err(counter_err)?;
        Ok(())
    }

    async fn clear(&self, keys: &[String]) -> Result<(), CounterError> {
        Entity::delete_many()
            .filter(Column::Key.is_in(keys.iter().map(String::as_str)))
            .exec(&self.db)
            .await
            .map_err(db_err("login_attempts.clear"))
            .map_err(counter_err)?;
        Ok(())
    }

    async fn sweep(&self, now_ms: i64, idle_ms: i64, limit: u64) -> Result<u64, CounterError> {
        let rule = Condition::all().add(Column::LastAtMs.lte(now_ms - idle_ms));
        delete_bounded::<Entity>(&self.db, rule, limit, "login_attempts.sweep")
            .await
            .map_err(counter_err)
    }
}
