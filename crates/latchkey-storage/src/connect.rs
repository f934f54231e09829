//! Opening the pool: SQLite tuned for one writer with many readers, Postgres
//! with per-connection settings passed at start-up.

use std::str::FromStr;
use std::time::Duration;

use latchkey_domain::StoreError;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{Database, Pool};
use sea_orm::{ConnectionTrait, SqlxPostgresConnector, SqlxSqliteConnector, Statement};

use crate::error::{db_err, map_sqlx_err};
use crate::SeaStore;

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection-pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long opening the pool may take (the first connection).
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection.
    pub acquire_timeout: Duration,
    /// Postgres only: the server cancels statements running longer.
    pub statement_timeout: Option<Duration>,
    /// Postgres only: the schema to use (created if missing), as
    /// `[a-z0-9_]+`. None uses the server's default search path.
    pub schema: Option<String>,
    /// Postgres only: `plan_cache_mode=force_generic_plan` on every
    /// connection. sqlx prepares each statement once per connection, but
    /// by default Postgres may still plan it again on every execution (it
    /// did for the refresh lookup, doubling Postgres's CPU per rotation).
    pub generic_plans: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            schema: None,
            generic_plans: true,
        }
    }
}

/// Opens a pool on `sqlite:` or `postgres:`/`postgresql:` URLs and checks
/// that one connection can be made. Does not migrate.
pub async fn connect(url: &str, opts: &PoolOptions) -> Result<SeaStore, StoreError> {
    // Only the scheme ever goes into a message: the URL may hold a password.
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    match scheme {
        "sqlite" => connect_sqlite(url, opts).await,
        "postgres" | "postgresql" => connect_postgres(url, opts).await,
        "" => Err(StoreError::Other(
            "database URL has no scheme: expected sqlite:, postgres: or postgresql:".into(),
        )),
        other => Err(StoreError::Other(format!(
            "unsupported database URL scheme {other:?}: expected sqlite:, postgres: or postgresql:"
        ))),
    }
}

async fn connect_sqlite(url: &str, opts: &PoolOptions) -> Result<SeaStore, StoreError> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|e| map_sqlx_err("connect.sqlite", &e))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);
    // As for Postgres: no per-statement log lines (a slow statement under
    // load would otherwise print a warning on every command's stderr).
    options = sea_orm::sqlx::ConnectOptions::disable_statement_logging(options);
    let mut pool = SqlitePoolOptions::new()
        .max_connections(opts.max_connections)
        .acquire_timeout(opts.acquire_timeout)
        .test_before_acquire(false);
    if in_memory {
        // An in-memory database lives as long as one connection does.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        // WAL: readers never block the writer, and concurrent writers wait
        // (busy_timeout) instead of failing.
        options = options.journal_mode(SqliteJournalMode::Wal);
        private_database_file(options.get_filename()).map_err(|e| {
            StoreError::Other(format!(
                "connect.sqlite: cannot create the database file: {}",
                e.kind()
            ))
        })?;
    }
    let pool = pool.connect_lazy_with(options);
    first_connection("connect.sqlite", &pool, opts.connect_timeout).await?;
    SeaStore::new(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool), opts)
}

/// The database holds password hashes, e-mail addresses and the audit
/// log's addresses: a directory it creates is 0700 and the file 0600
/// (SQLite gives its `-wal` and `-shm` files the file's mode). An existing
/// file readable by others is reported at start, not changed.
fn private_database_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if std::fs::metadata(path)?.mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the SQLite database is readable by other users; chmod 600 it (and its directory 700)"
                );
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn connect_postgres(url: &str, opts: &PoolOptions) -> Result<SeaStore, StoreError> {
    let schema = match &opts.schema {
        Some(s) => Some(valid_schema(s)?),
        None => None,
    };
    let mut options =
        PgConnectOptions::from_str(url).map_err(|e| map_sqlx_err("connect.postgres", &e))?;
    options = sea_orm::sqlx::ConnectOptions::disable_statement_logging(options);
    // Start-up parameters apply to every connection the pool opens, with no
    // extra round trip (unlike SET in an after-connect hook).
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(schema) = schema {
        params.push(("search_path", schema.to_owned()));
    }
    if let Some(timeout) = opts.statement_timeout {
        params.push(("statement_timeout", timeout.as_millis().to_string()));
    }
    if opts.generic_plans {
        params.push(("plan_cache_mode", "force_generic_plan".to_owned()));
    }
    if !params.is_empty() {
        options = options.options(params);
    }
    // No ping before each use: it doubles the round trips of every
    // statement. A connection that died (Postgres restarted) fails its next
    // statement, which answers 503 with nothing committed, and the pool
    // drops it; the following request gets a fresh one.
    let pool = PgPoolOptions::new()
        .max_connections(opts.max_connections)
        .acquire_timeout(opts.acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(options);
    first_connection("connect.postgres", &pool, opts.connect_timeout).await?;
    let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    if let Some(schema) = schema {
        // The name was checked to be [a-z0-9_]+, so quoting it is enough;
        // sea-query has no CREATE SCHEMA builder.
        let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        match db
            .execute(Statement::from_string(db.get_database_backend(), sql))
            .await
            .map_err(db_err("connect.create_schema"))
        {
            // Another process created it at the same moment: fine.
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    SeaStore::new(db, opts)
}

fn valid_schema(s: &str) -> Result<&str, StoreError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s)
    } else {
        Err(StoreError::Other(
            "invalid Postgres schema name: expected 1 to 63 characters of [a-z0-9_]".into(),
        ))
    }
}

/// Opens one connection within `timeout`, so a wrong URL or a database that
/// is down fails at start-up rather than at the first request.
async fn first_connection<DB: Database>(
    op: &str,
    pool: &Pool<DB>,
    timeout: Duration,
) -> Result<(), StoreError> {
    match tokio::time::timeout(timeout, pool.acquire()).await {
        Ok(Ok(_conn)) => Ok(()),
        Ok(Err(e)) => Err(map_sqlx_err(op, &e)),
        Err(_) => Err(StoreError::Unavailable(format!(
            "{op}: no connection within {} ms",
            timeout.as_millis()
        ))),
    }
}
