//! `[passwords]`: the argon2id cost of password hashes. The core's
//! password hasher takes this section as its parameters.

use serde::Deserialize;

use crate::error::{invalid, ConfigError};

/// argon2id cost parameters (OWASP's second recommended set by default).
/// The keys carry the algorithm's name: `argon2_memory_kib`, ...
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Passwords {
    #[serde(rename = "argon2_memory_kib")]
    pub memory_kib: u32,
    #[serde(rename = "argon2_iterations")]
    pub iterations: u32,
    #[serde(rename = "argon2_parallelism")]
    pub parallelism: u32,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Passwords {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.memory_kib < 8 * self.parallelism.max(1)
            || self.iterations == 0
            || self.parallelism == 0
        {
            return Err(invalid(
                "passwords.argon2_*",
                "argon2 parameters out of range",
            ));
        }
        // OWASP's password storage minimum for argon2id: 19 MiB with 2
        // passes, or one of its equivalents trading memory for passes
        // (46/1, 12/3, 9/4, 7/5 MiB/passes). Below it a stolen database is
        // cheap to crack.
        let work = u64::from(self.memory_kib) * u64::from(self.iterations);
        if self.memory_kib < 7 * 1024 || work < 7 * 1024 * 5 {
            return Err(invalid(
                "passwords.argon2_*",
                "argon2 settings below OWASP's minimum: 19 MiB (19456 KiB) with 2 passes, or 46 MiB/1, 12 MiB/3, 9 MiB/4, 7 MiB/5",
            ));
        }
        Ok(())
    }
}
