//! The shared revocation cache on Redis: one key per revocation
//! (`{prefix}rev:{key}`, expiring when every token it concerns has expired)
//! and a pub/sub channel (`{prefix}revocations`) that tells every instance
//! at once, so each can add the revocation to its in-memory mirror.
//!
//! Redis is never the source of truth: the database is. Any Redis error is
//! returned to the caller, which then asks the database. This crate is the
//! only one that uses the redis client; it knows nothing of HTTP or SQL.
//!
//! On the same connection, [`RedisAttempts`] counts sign-in attempts for
//! every instance (the login throttle's shared counter).

mod attempts;

pub use attempts::RedisAttempts;

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use latchkey_domain::{CacheError, RevocationCache, RevokeReason, RevokedToken};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// How long one Redis call may take before the caller falls back to the
/// database.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct RedisRevocations {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

#[derive(Serialize, Deserialize)]
struct Message {
    key: String,
    expires_at: i64,
    revoked_at: i64,
}

fn err(e: impl std::fmt::Display) -> CacheError {
    CacheError(e.to_string())
}

impl RedisRevocations {
    /// Connects (failing fast if Redis does not answer); `prefix` keeps
    /// several deployments or tests apart on one Redis.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisRevocations, CacheError> {
        let client = redis::Client::open(url).map_err(err)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| CacheError("timed out connecting to Redis".into()))?
        .map_err(err)?;
        Ok(RedisRevocations {
            client,
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, k: &str) -> String {
        format!("{}rev:{k}", self.prefix)
    }

    /// The attempt counter, on this connection.
    pub fn attempts(&self) -> RedisAttempts {
        RedisAttempts::new(self.conn.clone(), &self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}revocations", self.prefix)
    }

    /// Listens for revocations published by any instance and hands each
    /// batch to `on_message`. Reconnects with backoff; runs until the
    /// process ends.
    pub async fn subscribe<F>(self, on_message: F)
    where
        F: Fn(Vec<RevokedToken>) + Send + Sync + 'static,
    {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(e) = pubsub.subscribe(self.channel()).await {
                        tracing::warn!(error = %e, "cannot subscribe to revocations");
                    } else {
                        delay = Duration::from_millis(100);
                        let mut stream = pubsub.on_message();
                        while let Some(msg) = stream.next().await {
                            let Ok(payload) = msg.get_payload::<String>() else {
                                continue;
                            };
                            match serde_json::from_str::<Vec<Message>>(&payload) {
                                Ok(batch) => on_message(
                                    batch
                                        .into_iter()
                                        .map(|m| RevokedToken {
                                            key: m.key,
                                            expires_at: m.expires_at,
                                            revoked_at: m.revoked_at,
                                            reason: RevokeReason::Propagated,
                                        })
                                        .collect(),
                                ),
                                Err(e) => {
                                    tracing::warn!(error = %e, "malformed revocation message")
                                }
                            }
                        }
                        tracing::warn!("revocation subscription ended; reconnecting");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach Redis for revocations; retrying")
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

#[async_trait]
impl RevocationCache for RedisRevocations {
    async fn any_revoked(&self, keys: &[String]) -> Result<bool, CacheError> {
        if keys.is_empty() {
            return Ok(false);
        }
        let mut conn = self.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let n: u64 = tokio::time::timeout(CALL_TIMEOUT, conn.exists(full))
            .await
            .map_err(|_| CacheError("Redis timed out".into()))?
            .map_err(err)?;
        Ok(n > 0)
    }

    async fn publish(&self, revocations: &[RevokedToken], now: i64) -> Result<(), CacheError> {
        if revocations.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for r in revocations {
            let ttl = (r.expires_at - now).max(1) as u64;
            pipe.set_ex(self.key(&r.key), 1, ttl).ignore();
        }
        let batch: Vec<Message> = revocations
            .iter()
            .map(|r| Message {
                key: r.key.clone(),
                expires_at: r.expires_at,
                revoked_at: r.revoked_at,
            })
            .collect();
        let payload = serde_json::to_string(&batch).map_err(err)?;
        pipe.publish(self.channel(), payload).ignore();
        let mut conn = self.conn.clone();
        tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| CacheError("Redis timed out".into()))?
            .map_err(err)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| CacheError("Redis timed out".into()))?
        .map(|_| ())
        .map_err(err)
    }
}
