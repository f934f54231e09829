//! User passwords: argon2id, computed off the async executor.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id cost parameters (OWASP's second recommended set by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of nothing, verified when the user does not exist so that a
    /// failed login takes the same time either way.
    dummy: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be between 8 and 1024 characters")]
    BadLength,
    #[error("hashing failed: {0}")]
    Hash(String),
}

impl PasswordHasher {
    pub fn new(p: Argon2Params) -> PasswordHasher {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .unwrap_or_else(|_| Params::default());
        let mut h = PasswordHasher {
            params,
            dummy: String::new(),
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

    pub async fn hash(&self, password: String, salt: [u8; 16]) -> Result<String, PasswordError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.hash_blocking(&password, &salt))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.verify_blocking(&password, stored.as_deref()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
