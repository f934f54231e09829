//! The attempt counter on Redis: one hash per counter key
//! (`{prefix}attempts:{key}`, fields `n` and `last`), changed by a Lua
//! script so that each key's read and increment are one atomic step for
//! every instance. The key expires after the idle window, so Redis sweeps
//! it; the run itself restarts by the time the caller passes (its clock).

use async_trait::async_trait;
use latchkey_domain::{AttemptCounter, CounterError, Hit, UsedOnce};
use redis::aio::ConnectionManager;

use crate::CALL_TIMEOUT;

/// KEYS: the counters. ARGV: now (ms), idle window (ms). Returns, per key,
/// the new count and the previous attempt's time (-1: none).
const HIT: &str = r"
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for _, key in ipairs(KEYS) do
  local last = tonumber(redis.call('HGET', key, 'last'))
  local n = tonumber(redis.call('HGET', key, 'n')) or 0
  if last == nil or now - last >= idle then
    n, last = 0, -1
  end
  n = n + 1
  redis.call('HSET', key, 'n', n, 'last', now)
  redis.call('PEXPIRE', key, idle)
  table.insert(out, n)
  table.insert(out, last)
end
return out
";

/// KEYS[1]: the counter. Takes one attempt back, never below zero.
const FORGIVE: &str = r"
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 0
";

#[derive(Clone)]
pub struct RedisAttempts {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisAttempts {
    pub(crate) fn new(conn: ConnectionManager, prefix: &str) -> RedisAttempts {
        RedisAttempts {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, k: &str) -> String {
        format!("{}attempts:{k}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &str,
        keys: &[String],
        args: &[i64],
    ) -> Result<T, CounterError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len());
        for k in keys {
            cmd.arg(self.key(k));
        }
        for a in args {
            cmd.arg(*a);
        }
        let mut conn = self.conn.clone();
        tokio::time::timeout(CALL_TIMEOUT, cmd.query_async(&mut conn))
            .await
            .map_err(|_| CounterError("Redis timed out".into()))?
            .map_err(|e| CounterError(e.to_string()))
    }
}

#[async_trait]
impl AttemptCounter for RedisAttempts {
    async fn hit(
        &self,
        keys: &[String],
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Vec<Hit>, CounterError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let out: Vec<i64> = self.run(HIT, keys, &[now_ms, idle_ms.max(1)]).await?;
        if out.len() != keys.len() * 2 {
            return Err(CounterError("Redis answered for other keys".into()));
        }
        Ok(out
            .chunks_exact(2)
            .map(|pair| Hit {
                count: pair[0],
                previous_ms: (pair[1] >= 0).then_some(pair[1]),
            })
            .collect())
    }

    async fn forgive(&self, key: &str) -> Result<(), CounterError> {
        self.run::<i64>(FORGIVE, &[key.to_owned()], &[]).await?;
        Ok(())
    }

    async fn clear(&self, keys: &[String]) -> Result<(), CounterError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("DEL").arg(full).query_async::<()>(&mut conn),
        )
        .await
        .map_err(|_| CounterError("Redis timed out".into()))?
        .map_err(|e| CounterError(e.to_string()))
    }
}

/// Proof `jti`s and other values used once, shared by every instance:
/// `SET key 1 NX EX ttl`, which only one caller can win.
#[async_trait]
impl UsedOnce for RedisAttempts {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, CounterError> {
        // A value whose time is past is refused for its age by the caller;
        // keep it a second so the store never holds a dead key forever.
        let ttl = (expires_at - now).max(1);
        let mut conn = self.conn.clone();
        let set: Option<String> = tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("SET")
                .arg(format!("{}once:{key}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| CounterError("Redis timed out".into()))?
        .map_err(|e| CounterError(e.to_string()))?;
        Ok(set.is_some())
    }
}
