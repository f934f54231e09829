//! The gate in front of the connection pool: every statement and every
//! transaction passes it, holding one of as many permits as the pool has
//! connections. sqlx says how many connections are open and idle but not
//! who waits for one; the gate does, and times each wait, so the metrics
//! can tell a starved pool (requests queueing) from a busy one.
//!
//! Past the gate a connection is free, on its way back to the pool (sqlx
//! returns it on a task of its own), or can be opened, so the wait here is
//! the wait for a connection. A permit held by a transaction is held until
//! it commits or rolls back, as its connection is.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latchkey_domain::{PoolWaits, POOL_WAIT_BUCKETS};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, Statement, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError};

/// Counts waiters and their waits.
#[derive(Debug)]
struct Gate {
    permits: std::sync::Arc<Semaphore>,
    /// How long a caller may wait, as the pool's own acquire timeout.
    timeout: Duration,
    waiting: AtomicU32,
    /// Per bucket of [`POOL_WAIT_BUCKETS`], then one for longer waits.
    buckets: [AtomicU64; POOL_WAIT_BUCKETS.len() + 1],
    waited_nanos: AtomicU64,
    passed: AtomicU64,
}

/// Decrements the waiter count however the wait ends (a cancelled request
/// drops its future mid-wait).
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gate {
    fn record(&self, waited: Duration) {
        let secs = waited.as_secs_f64();
        let bucket = POOL_WAIT_BUCKETS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(POOL_WAIT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.passed.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits for a permit: at once when one is free (no clock read), else
    /// as a counted waiter, up to the timeout.
    async fn wait<P>(
        &self,
        now: impl FnOnce() -> Result<P, TryAcquireError>,
        later: impl std::future::Future<Output = Result<P, tokio::sync::AcquireError>>,
    ) -> Result<P, DbErr> {
        match now() {
            Ok(permit) => {
                self.record(Duration::ZERO);
                return Ok(permit);
            }
            Err(TryAcquireError::Closed) => return Err(closed()),
            Err(TryAcquireError::NoPermits) => {}
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let started = Instant::now();
        let got = tokio::time::timeout(self.timeout, later).await;
        self.record(started.elapsed());
        match got {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(closed()),
            Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        }
    }

    async fn enter(&self) -> Result<SemaphorePermit<'_>, DbErr> {
        self.wait(|| self.permits.try_acquire(), self.permits.acquire())
            .await
    }

    async fn enter_owned(&self) -> Result<OwnedSemaphorePermit, DbErr> {
        self.wait(
            || self.permits.clone().try_acquire_owned(),
            self.permits.clone().acquire_owned(),
        )
        .await
    }

    fn waits(&self) -> PoolWaits {
        PoolWaits {
            waiting: self.waiting.load(Ordering::Relaxed),
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            waited_seconds: Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed))
                .as_secs_f64(),
            count: self.passed.load(Ordering::Relaxed),
        }
    }
}

fn closed() -> DbErr {
    DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
}

/// The pool behind its gate. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    inner: DatabaseConnection,
    gate: std::sync::Arc<Gate>,
}

impl Db {
    /// `connections` permits: the pool's `max_connections`.
    pub(crate) fn new(inner: DatabaseConnection, connections: u32, timeout: Duration) -> Db {
        let permits = usize::try_from(connections.max(1)).unwrap_or(1);
        Db {
            inner,
            gate: std::sync::Arc::new(Gate {
                permits: std::sync::Arc::new(Semaphore::new(permits)),
                timeout,
                waiting: AtomicU32::new(0),
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                waited_nanos: AtomicU64::new(0),
                passed: AtomicU64::new(0),
            }),
        }
    }

    /// The pool itself, for what the gate does not count: migrations
    /// (run before serving) and the pool's own figures.
    pub(crate) fn ungated(&self) -> &DatabaseConnection {
        &self.inner
    }

    pub(crate) fn waits(&self) -> PoolWaits {
        self.gate.waits()
    }

    /// Starts a transaction; it holds its permit until it ends.
    pub(crate) async fn begin(&self) -> Result<Txn, DbErr> {
        let permit = self.gate.enter_owned().await?;
        let txn = self.inner.begin().await?;
        Ok(Txn {
            txn,
            _permit: permit,
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        let _permit = self.gate.enter().await?;
        self.inner.ping().await
    }

    /// Refuses every later caller, then closes the pool.
    pub(crate) async fn close(self) {
        self.gate.permits.close();
        let _ = self.inner.close().await;
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _permit = self.gate.enter().await?;
        self.inner.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _permit = self.gate.enter().await?;
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let _permit = self.gate.enter().await?;
        self.inner.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let _permit = self.gate.enter().await?;
        self.inner.query_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.inner.is_mock_connection()
    }
}

/// A transaction and the permit it holds.
pub(crate) struct Txn {
    txn: DatabaseTransaction,
    _permit: OwnedSemaphorePermit,
}

impl Txn {
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory(connections: u32, timeout: Duration) -> Db {
        let inner = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        Db::new(inner, connections, timeout)
    }

    #[tokio::test]
    async fn a_free_permit_is_a_wait_of_zero() {
        let db = memory(2, Duration::from_secs(1)).await;
        db.query_one(Statement::from_string(DbBackend::Sqlite, "SELECT 1"))
            .await
            .unwrap();
        let w = db.waits();
        assert_eq!((w.count, w.waiting, w.buckets[0]), (1, 0, 1));
        assert_eq!(w.waited_seconds, 0.0);
    }

    #[tokio::test]
    async fn a_caller_past_the_last_permit_is_counted_and_timed() {
        let db = memory(1, Duration::from_secs(5)).await;
        let txn = db.begin().await.unwrap();
        let waiter = {
            let db = db.clone();
            tokio::spawn(async move {
                db.query_one(Statement::from_string(DbBackend::Sqlite, "SELECT 1"))
                    .await
                    .map(|_| ())
            })
        };
        // The waiter shows up as waiting while the transaction holds the
        // only permit.
        let mut seen = 0;
        for _ in 0..200 {
            seen = db.waits().waiting;
            if seen == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(seen, 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        txn.commit().await.unwrap();
        waiter.await.unwrap().unwrap();
        let w = db.waits();
        assert_eq!((w.count, w.waiting), (2, 0));
        assert!(w.waited_seconds >= 0.03, "{w:?}");
        assert_eq!(w.buckets[0], 1, "the transaction did not wait: {w:?}");
    }

    #[tokio::test]
    async fn a_wait_past_the_timeout_is_a_timeout_and_is_no_longer_waiting() {
        let db = memory(1, Duration::from_millis(50)).await;
        let _txn = db.begin().await.unwrap();
        let err = db
            .query_one(Statement::from_string(DbBackend::Sqlite, "SELECT 1"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            "{err:?}"
        );
        let w = db.waits();
        assert_eq!(w.waiting, 0);
        assert_eq!(w.count, 2);
        assert!(w.waited_seconds >= 0.05);
    }

    #[tokio::test]
    async fn a_closed_gate_refuses() {
        let db = memory(1, Duration::from_secs(1)).await;
        let other = db.clone();
        db.close().await;
        let err = other.ping().await.unwrap_err();
        assert!(matches!(
            err,
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
        ));
    }
}
