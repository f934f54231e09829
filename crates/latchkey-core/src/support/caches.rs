//! Short-lived copies of the rows read on every token, introspection and
//! userinfo request, so those paths make no database round trip. Entries
//! expire by the injected [`Clock`], so tests move time forward to see a
//! copy go stale; moka's own (real-time) limit only bounds memory.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::Clock;
use moka::Equivalent;

/// A moka cache whose entries live `ttl` of the injected clock.
pub struct ClockCache<K, V> {
    inner: moka::sync::Cache<K, (i64, V)>,
    clock: Arc<dyn Clock>,
    ttl_ms: i64,
}

impl<K, V> ClockCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(clock: Arc<dyn Clock>, ttl: Duration, capacity: u64) -> ClockCache<K, V> {
        ClockCache {
            // Memory bound only: an entry the clock says is stale is never
            // served, whatever moka thinks.
            inner: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl * 10)
                .build(),
            clock,
            ttl_ms: ttl.as_millis() as i64,
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        let (expires, value) = self.inner.get(key)?;
        if self.now_ms() < expires {
            Some(value)
        } else {
            self.inner.invalidate(key);
            None
        }
    }

    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, (self.now_ms() + self.ttl_ms, value));
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.inner.invalidate(key);
    }

    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
    }
}

/// The copies the hot paths read. A client or user copy lives one second:
/// a change made at another instance (a client deleted, a user renamed)
/// shows within that second, and everything that must take effect at once
/// is also a revocation, checked on every request.
pub struct Caches {
    pub clients: ClockCache<String, Arc<latchkey_domain::Client>>,
    pub users: ClockCache<latchkey_domain::UserId, Arc<latchkey_domain::User>>,
    /// Access tokens already verified (by SHA-256 of the token), so a
    /// resource server polling introspection or userinfo with the same
    /// token pays for the signature once. Cleared when the key set changes.
    pub verified: ClockCache<[u8; 32], Arc<latchkey_protocol::claims::AccessTokenClaims>>,
    /// Every client's `allowed_cors_origins`, as one set (one entry).
    pub cors_origins: ClockCache<(), Arc<std::collections::HashSet<String>>>,
}

impl Caches {
    pub const TTL: Duration = Duration::from_secs(1);

    pub(crate) fn new(clock: Arc<dyn Clock>) -> Caches {
        Caches {
            clients: ClockCache::new(clock.clone(), Self::TTL, 10_000),
            users: ClockCache::new(clock.clone(), Self::TTL, 100_000),
            verified: ClockCache::new(clock.clone(), Duration::from_secs(300), 50_000),
            cors_origins: ClockCache::new(clock, Self::TTL, 1),
        }
    }

    /// Forgets a client at once (this instance changed or deleted it).
    pub fn forget_client(&self, id: &str) {
        self.clients.invalidate(id);
        self.cors_origins.invalidate_all();
    }

    pub fn forget_user(&self, id: &latchkey_domain::UserId) {
        self.users.invalidate(id);
    }
}

service! {
    /// Clients and users as the hot paths read them: the one-second copy
    /// when there is one, the store otherwise.
    pub struct Directory { store, caches }
}

impl Directory<'_> {
    /// A client, from the one-second copy when there is one (see
    /// [`Caches`]).
    pub(crate) async fn client(
        &self,
        id: &latchkey_protocol::ClientId,
    ) -> Result<Option<Arc<latchkey_domain::Client>>, crate::CoreError> {
        if let Some(c) = self.caches.clients.get(id.as_str()) {
            return Ok(Some(c));
        }
        let Some(c) = self.store.find_client(id).await? else {
            return Ok(None);
        };
        let c = Arc::new(c);
        self.caches
            .clients
            .insert(id.as_str().to_owned(), c.clone());
        Ok(Some(c))
    }

    /// A user, from the one-second copy when there is one (see [`Caches`]).
    pub(crate) async fn user(
        &self,
        id: &latchkey_domain::UserId,
    ) -> Result<Option<Arc<latchkey_domain::User>>, crate::CoreError> {
        if let Some(u) = self.caches.users.get(id) {
            return Ok(Some(u));
        }
        let Some(u) = self.store.find_user(id).await? else {
            return Ok(None);
        };
        let u = Arc::new(u);
        self.caches.users.insert(id.clone(), u.clone());
        Ok(Some(u))
    }
}

#[cfg(test)]
mod tests {
    use latchkey_domain::MockClock;

    use super::*;

    #[test]
    fn a_copy_lives_exactly_its_ttl_of_the_injected_clock() {
        let clock = Arc::new(MockClock::new(chrono::DateTime::UNIX_EPOCH));
        let cache: ClockCache<&str, u32> =
            ClockCache::new(clock.clone(), Duration::from_secs(1), 10);
        cache.insert("a", 1);
        clock.advance(Duration::from_millis(999));
        assert_eq!(cache.get(&"a"), Some(1), "still fresh 1 ms before expiry");
        clock.advance(Duration::from_millis(1));
        assert_eq!(cache.get(&"a"), None, "stale at its TTL");
        // Gone for good: moving the clock back does not revive it.
        cache.insert("b", 2);
        cache.invalidate(&"b");
        assert_eq!(cache.get(&"b"), None);
    }
}
