//! The port implementations, one file per port.

mod attempts;
mod audit;
mod authorization;
mod clients;
mod device;
mod factors;
mod families;
mod keys;
mod outbox;
mod registration;
mod revocation;
mod sessions;
mod sweep;
mod teardown;
mod used_once;
mod users;

pub(crate) use families::FamilyStatements;
use latchkey_domain::{Store, StoreResult};

use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl Store for SeaStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await.map_err(db_err("ping"))
    }

    fn pool_figures(&self) -> Option<latchkey_domain::PoolFigures> {
        use sea_orm::DatabaseConnection as C;
        let (open, idle, max) = match self.db.ungated() {
            C::SqlxPostgresPoolConnection(_) => {
                let p = self.db.ungated().get_postgres_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            C::SqlxSqlitePoolConnection(_) => {
                let p = self.db.ungated().get_sqlite_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            _ => return None,
        };
        Some(latchkey_domain::PoolFigures {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
            waits: self.db.waits(),
        })
    }
}

/// Converts an optional row, keeping a parse failure as an error.
fn read_opt<M, T>(
    row: Option<M>,
    into: impl FnOnce(M) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    row.map(into).transpose()
}

fn read_all<M, T>(rows: Vec<M>, into: impl Fn(M) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(into).collect()
}
