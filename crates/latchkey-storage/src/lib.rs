//! The sea-orm storage adapter: `SeaStore` implements every storage port of
//! `latchkey-domain` on SQLite and Postgres with the same queries, built with
//! sea-query so nothing is written for one backend only. This crate owns the
//! connection pool, the row types (`entities`, private) and their conversion
//! to and from domain values, and the mapping of database errors to
//! `StoreError`. The schema itself lives in `latchkey-migration`. It must not
//! depend on HTTP, JOSE or the core use cases, and no sea-orm type appears in
//! its public API, so callers only ever see the ports.
//!
//! Rules that must hold under concurrency (a code is redeemed once, a
//! refresh token rotates once and never after its family is revoked, a
//! session ends once, a key leaves a state once) are conditional UPDATEs
//! whose affected-row count decides the outcome, not read-then-write. A
//! transaction that writes starts with its first write, so on SQLite it
//! takes the write lock (waiting out `busy_timeout`) instead of upgrading a
//! read snapshot, which fails at once under contention.

mod connect;
mod entities;
mod error;
mod gate;
mod prepared;
mod repos;

pub use connect::{connect, PoolOptions};

use latchkey_domain::StoreError;
use latchkey_migration::{Migrator, MigratorTrait};
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection};

use gate::Db;

/// Every storage port over one connection pool. Cheap to clone (the pool
/// and the prepared statements are shared).
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: Db,
    refresh_statements: Arc<repos::FamilyStatements>,
}

impl SeaStore {
    fn new(db: DatabaseConnection, opts: &PoolOptions) -> Result<Self, StoreError> {
        let db = Db::new(db, opts.max_connections, opts.acquire_timeout);
        let refresh_statements = Arc::new(repos::FamilyStatements::new(db.get_database_backend())?);
        Ok(SeaStore {
            db,
            refresh_statements,
        })
    }

    /// Applies every migration not yet applied; a no-op when up to date.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(self.db.ungated(), None)
            .await
            .map_err(error::db_err("migrate"))
    }

    /// SQLite only: writes a consistent copy of the whole database to
    /// `path` (`VACUUM INTO`), while the server keeps serving: the copy is
    /// one read transaction's view. `path` must not exist.
    pub async fn backup_into(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
            return Err(StoreError::Other(
                "backup copies the SQLite database; back PostgreSQL up with pg_dump".into(),
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Other("the backup path is not UTF-8".into()))?;
        self.db
            .execute(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Sqlite,
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await
            .map_err(error::db_err("backup"))?;
        Ok(())
    }

    /// Closes the pool: every connection finishes and lets go of the file
    /// (SQLite checkpoints its write-ahead log as the last one closes).
    pub async fn close(self) {
        self.db.close().await;
    }

    /// Whether this is a sound Latchkey database: SQLite's integrity check
    /// passes and Latchkey's migrations have been applied to it. Returns
    /// how many migrations it has.
    pub async fn check_latchkey_database(&self) -> Result<usize, StoreError> {
        if self.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            let row = self
                .db
                .query_one(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Sqlite,
                    "PRAGMA integrity_check",
                ))
                .await
                .map_err(error::db_err("integrity_check"))?;
            let verdict: String = row
                .map(|r| r.try_get_by_index(0))
                .transpose()
                .map_err(error::db_err("integrity_check"))?
                .unwrap_or_default();
            if verdict != "ok" {
                return Err(StoreError::Corrupt(format!(
                    "the database fails SQLite's integrity check: {verdict}"
                )));
            }
        }
        let applied = Migrator::get_applied_migrations(self.db.ungated())
            .await
            .map_err(|_| StoreError::Corrupt("not a Latchkey database (no migrations)".into()))?;
        if applied.is_empty() {
            return Err(StoreError::Corrupt(
                "not a Latchkey database (no migrations)".into(),
            ));
        }
        Ok(applied.len())
    }
}

#[cfg(test)]
mod tests;
