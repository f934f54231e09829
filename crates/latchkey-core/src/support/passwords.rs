//! User passwords: argon2id, computed off the async executor, at most one
//! per core at a time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// argon2id cost parameters: the `[passwords]` configuration section.
pub use latchkey_config::Passwords as Argon2Params;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of nothing, verified when the user does not exist so that a
    /// failed login takes the same time either way.
    dummy: String,
    /// Each hash holds `memory_kib` for its duration: without a bound a
    /// burst of N logins takes N times that at once (19 MiB each by
    /// default), and fills the blocking pool. Waiting hashes queue here.
    running: Arc<Semaphore>,
    #[cfg(test)]
    gauge: Arc<tests::Gauge>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be between 8 and 1024 characters")]
    BadLength,
    #[error("hashing failed: {0}")]
    Hash(String),
}

impl PasswordHasher {
    /// At most one hash per core at a time.
    pub fn new(p: Argon2Params) -> PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_concurrency(p, cores)
    }

    /// At most `concurrent` (at least 1) hashes at a time.
    pub fn with_concurrency(p: Argon2Params, concurrent: usize) -> PasswordHasher {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .unwrap_or_else(|_| Params::default());
        let mut h = PasswordHasher {
            params,
            dummy: String::new(),
            running: Arc::new(Semaphore::new(concurrent.max(1))),
            #[cfg(test)]
            gauge: Arc::default(),
        };
        let mut salt = [0u8; 16];
        latchkey_domain::OsRandom.fill_salt(&mut salt);
        h.dummy = h
            .hash_with_salt("latchkey-dummy-password", &salt)
            .unwrap_or_default();
        h
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn check_policy(password: &str) -> Result<(), PasswordError> {
        let n = password.chars().count();
        if !(8..=1024).contains(&n) {
            return Err(PasswordError::BadLength);
        }
        Ok(())
    }

    /// Hashes a new password (blocking: call from a blocking thread).
    pub fn hash_blocking(&self, password: &str, salt: &[u8; 16]) -> Result<String, PasswordError> {
        Self::check_policy(password)?;
        self.hash_with_salt(password, salt)
    }

    fn hash_with_salt(&self, password: &str, salt: &[u8; 16]) -> Result<String, PasswordError> {
        let salt = SaltString::encode_b64(salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Verifies `password` against a stored PHC string, or against the dummy
    /// hash when there is no user (and then always fails).
    pub fn verify_blocking(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or(&self.dummy);
        let Ok(parsed) = PasswordHash::new(target) else {
            return false;
        };
        let ok = self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored.is_some()
    }

    /// Runs `work` on a blocking thread once one of the permits is free.
    /// The permit goes with the work, so a caller that gives up waiting
    /// (the client left) still counts until its hash is done.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            #[cfg(test)]
            let _seen = tests::Gauge::enter(&me.gauge);
            work(&me)
        })
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    pub async fn hash(&self, password: String, salt: [u8; 16]) -> Result<String, PasswordError> {
        self.bounded(move |me| me.hash_blocking(&password, &salt))
            .await?
    }

    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        self.bounded(move |me| me.verify_blocking(&password, stored.as_deref()))
            .await
            .unwrap_or(false)
    }
}

trait FillSalt {
    fn fill_salt(&self, buf: &mut [u8; 16]);
}

impl FillSalt for latchkey_domain::OsRandom {
    fn fill_salt(&self, buf: &mut [u8; 16]) {
        latchkey_domain::Random::fill(self, buf)
    }
}

/// A fresh salt for a password hash.
pub(crate) fn salt(random: &dyn latchkey_domain::Random) -> [u8; 16] {
    let mut s = [0u8; 16];
    random.fill(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The hashes of one hasher running now, and the most seen at once.
    #[derive(Default)]
    pub(super) struct Gauge {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    pub(super) struct Running(Arc<Gauge>);

    impl Gauge {
        pub(super) fn enter(gauge: &Arc<Gauge>) -> Running {
            let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.most.fetch_max(now, Ordering::SeqCst);
            Running(Arc::clone(gauge))
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.0.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_allowed() {
        let h = PasswordHasher::with_concurrency(
            Argon2Params {
                memory_kib: 4096,
                iterations: 2,
                parallelism: 1,
            },
            2,
        );
        let stored = h.hash("correct horse".into(), [7; 16]).await.unwrap();
        let tries = (0..12).map(|i| {
            let (h, stored) = (h.clone(), stored.clone());
            tokio::spawn(async move {
                let password = if i % 2 == 0 {
                    "correct horse"
                } else {
                    "wrong horse!"
                };
                (i, h.verify(password.into(), Some(stored)).await)
            })
        });
        for t in tries.collect::<Vec<_>>() {
            let (i, ok) = t.await.unwrap();
            assert_eq!(ok, i % 2 == 0, "try {i}");
        }
        let most = h.gauge.most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} hashes ran at once");
    }

    fn fast() -> PasswordHasher {
        PasswordHasher::new(Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = fast();
        let stored = h.hash_blocking("correct horse", &[1; 16]).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify_blocking("correct horse", Some(&stored)));
        assert!(!h.verify_blocking("correct horsf", Some(&stored)));
    }

    #[test]
    fn unknown_user_never_verifies() {
        let h = fast();
        assert!(!h.verify_blocking("latchkey-dummy-password", None));
    }

    #[test]
    fn policy_refuses_short_passwords() {
        assert!(PasswordHasher::check_policy("short").is_err());
        assert!(PasswordHasher::check_policy("long enough").is_ok());
    }
}
