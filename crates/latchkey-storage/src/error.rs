//! The one place database errors become `StoreError`s.
//!
//! Messages name the operation and the kind of failure, never a row value or
//! a driver message (Postgres echoes offending input in some messages), so a
//! `StoreError` is always safe to log.

use latchkey_domain::StoreError;
use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

/// `map_err` adapter: `.map_err(db_err("clients.insert"))`.
pub(crate) fn db_err(op: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |err| map_db_err(op, err)
}

pub(crate) fn map_db_err(op: &str, err: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        return StoreError::Conflict(format!(
            "{op}: a row with the same unique key already exists"
        ));
    }
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
            StoreError::Unavailable(format!("{op}: timed out waiting for a database connection"))
        }
        DbErr::ConnectionAcquire(_) => {
            StoreError::Unavailable(format!("{op}: the connection pool is closed"))
        }
        DbErr::Conn(RuntimeErr::SqlxError(e)) => map_sqlx_err(op, &e),
        DbErr::Conn(_) => StoreError::Unavailable(format!("{op}: cannot reach the database")),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            map_sqlx_err(op, &e)
        }
        // sea-orm's own messages about migrations describe the schema's
        // history, not rows, and are what an operator needs to see.
        DbErr::Migration(msg) | DbErr::Custom(msg) => StoreError::Other(format!("{op}: {msg}")),
        other => StoreError::Other(format!("{op}: {}", db_err_kind(&other))),
    }
}

/// Also used directly while connecting, where errors come from sqlx.
pub(crate) fn map_sqlx_err(op: &str, err: &sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let unavailable = |why: &str| StoreError::Unavailable(format!("{op}: {why}"));
    match err {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
            unavailable("cannot reach the database")
        }
        E::PoolTimedOut => unavailable("timed out waiting for a database connection"),
        E::PoolClosed => unavailable("the connection pool is closed"),
        E::Configuration(e) => {
            StoreError::Other(format!("{op}: invalid database configuration: {e}"))
        }
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if is_transient(db.as_ref(), &code) {
                return unavailable(&format!("the database is busy or timed out (code {code})"));
            }
            // 22021 character_not_in_repertoire: PostgreSQL's answer to a
            // NUL in text, which SQLite stores. Input, not a fault.
            if code == "22021" {
                return StoreError::Unstorable(format!(
                    "{op}: a value holds a character the database cannot store"
                ));
            }
            let constraint = db
                .constraint()
                .map(|c| format!(", constraint {c}"))
                .unwrap_or_default();
            StoreError::Other(format!("{op}: database error (code {code}{constraint})"))
        }
        E::RowNotFound => StoreError::Other(format!("{op}: row not found")),
        E::ColumnNotFound(c) => StoreError::Other(format!("{op}: column {c} not found")),
        E::ColumnDecode { index, .. } => {
            StoreError::Other(format!("{op}: cannot decode column {index}"))
        }
        _ => StoreError::Other(format!("{op}: database driver error")),
    }
}

/// Errors that say "try again later" rather than "this cannot work": lock
/// waits, timeouts, a server going away.
fn is_transient(db: &dyn sqlx::error::DatabaseError, code: &str) -> bool {
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // 08: connection exception; 57014: statement timeout / cancelled;
        // 57P0x: shutdown or not yet accepting; 53300: too many connections;
        // 40001/40P01: serialization failure / deadlock.
        return code.starts_with("08")
            || matches!(
                code,
                "57014" | "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
            );
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes; the low byte is the primary code.
        // 5 = SQLITE_BUSY (busy_timeout ran out), 6 = SQLITE_LOCKED.
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    false
}

fn db_err_kind(err: &DbErr) -> &'static str {
    match err {
        DbErr::TryIntoErr { .. } | DbErr::Type(_) => "a value has an unexpected type",
        DbErr::Json(_) => "invalid JSON",
        DbErr::RecordNotFound(_) => "row not found",
        DbErr::RecordNotInserted => "row not inserted",
        DbErr::RecordNotUpdated => "row not updated",
        _ => "database error",
    }
}
