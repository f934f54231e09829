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
mod prepared;
mod repos;

pub use connect::{connect, PoolOptions};

use latchkey_domain::StoreError;
use latchkey_migration::{Migrator, MigratorTrait};
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Every storage port over one connection pool. Cheap to clone (the pool
/// and the prepared statements are shared).
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    refresh_statements: Arc<repos::FamilyStatements>,
}

impl SeaStore {
    fn new(db: DatabaseConnection) -> Result<Self, StoreError> {
        let refresh_statements = Arc::new(repos::FamilyStatements::new(db.get_database_backend())?);
        Ok(SeaStore {
            db,
            refresh_statements,
        })
    }

    /// Applies every migration not yet applied; a no-op when up to date.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(error::db_err("migrate"))
    }
}

#[cfg(test)]
mod tests;
