//! Time and randomness as parameters: every expiry rule takes its "now" from
//! a [`Clock`], every secret comes from a [`Random`].

use std::sync::atomic::{AtomicI64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Unix seconds.
    fn unix(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct MockClock {
    millis: AtomicI64,
}

impl MockClock {
    pub fn new(start: DateTime<Utc>) -> MockClock {
        MockClock {
            millis: AtomicI64::new(start.timestamp_millis()),
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.millis
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

pub trait Random: Send + Sync {
    fn fill(&self, buf: &mut [u8]);

    /// A 256-bit secret as 43 base64url characters: codes, refresh tokens,
    /// session cookies, client secrets.
    fn secret(&self) -> String {
        let mut b = [0u8; 32];
        self.fill(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }

    /// A 128-bit identifier as 22 base64url characters: `jti`, `sid`, ids.
    fn id(&self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // The OS source failing is not recoverable: no secret may be weak.
        getrandom::getrandom(buf).expect("the operating system's random source failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_when_told() {
        let c = MockClock::new(DateTime::from_timestamp(1_000, 0).unwrap());
        assert_eq!(c.unix(), 1_000);
        c.advance(std::time::Duration::from_secs(61));
        assert_eq!(c.unix(), 1_061);
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let r = OsRandom;
        let a = r.secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, r.secret());
        assert_eq!(r.id().len(), 22);
    }
}
