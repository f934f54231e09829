//! The attempt-counter port: how every instance agrees on how many sign-in
//! attempts a key (an account, an address, or the pair) has seen, so that
//! guesses spread over instances, or sent all at once, are counted before
//! any of them is checked.

use async_trait::async_trait;

/// One attempt, as the counter counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Attempts under the key in its current run, this one included.
    pub count: i64,
    /// When the attempt counted just before this one was (Unix
    /// milliseconds); none when this one started the run.
    pub previous_ms: Option<i64>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("attempt counter: {0}")]
pub struct CounterError(pub String);

/// Sign-in attempts counted under keys, shared by every instance (Redis or
/// the database) or kept by one (memory).
///
/// Each operation is atomic per key: of any number of concurrent hits on
/// one key, each sees a different `count`, and each sees as `previous_ms`
/// the time of the hit counted just before it. A key whose last hit is
/// `idle_ms` or more before `now_ms` starts a new run (count 1).
#[async_trait]
pub trait AttemptCounter: Send + Sync {
    /// Counts one attempt under each key, in order.
    async fn hit(
        &self,
        keys: &[String],
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Vec<Hit>, CounterError>;
    /// Takes one attempt back from `key`, never below zero: it turned out
    /// not to be a failure.
    async fn forgive(&self, key: &str) -> Result<(), CounterError>;
    /// Forgets the keys.
    async fn clear(&self, keys: &[String]) -> Result<(), CounterError>;
    /// Deletes at most `limit` runs idle since before `now_ms - idle_ms`
    /// (stores without their own expiry); returns how many.
    async fn sweep(&self, now_ms: i64, idle_ms: i64, limit: u64) -> Result<u64, CounterError> {
        let _ = (now_ms, idle_ms, limit);
        Ok(0)
    }
}

/// Values that may be used once across every instance: DPoP proof `jti`s
/// (RFC 9449 §11.1). Redis where configured, the database otherwise.
#[async_trait]
pub trait UsedOnce: Send + Sync {
    /// Records `key` until `expires_at` (Unix seconds). True if this is
    /// its first use: of concurrent calls with one key, exactly one gets
    /// true. An entry past its expiry no longer counts.
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, CounterError>;
    /// Deletes at most `limit` entries expired at `now` (stores without
    /// their own expiry); returns how many.
    async fn sweep_used(&self, now: i64, limit: u64) -> Result<u64, CounterError> {
        let _ = (now, limit);
        Ok(0)
    }
}
