//! Slowing down password guessing without handing attackers a lock-out
//! button.
//!
//! Failures are counted under three keys: the (account, address) pair, the
//! address alone and the account alone. Past a threshold, each key imposes a
//! wait that doubles with every further failure up to a cap. The per-account
//! cap is short on purpose: an attacker spraying one account from many
//! addresses can delay its owner by seconds, never lock them out; the
//! (account, address) and address caps are long, because they only hurt the
//! guesser. Counters are in memory, per instance, and forgotten after a
//! quiet window.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before waits start, per (account, address).
    pub pair_threshold: u32,
    pub pair_cap_secs: i64,
    /// Failures allowed before waits start, per address over all accounts.
    pub ip_threshold: u32,
    pub ip_cap_secs: i64,
    /// Failures allowed before waits start, per account over all addresses.
    pub account_threshold: u32,
    pub account_cap_secs: i64,
    /// A key with no failure for this long starts over.
    pub window_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            pair_threshold: 5,
            pair_cap_secs: 300,
            ip_threshold: 30,
            ip_cap_secs: 300,
            account_threshold: 20,
            account_cap_secs: 10,
            window_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last_failure: i64,
}

pub struct LoginThrottle {
    policy: ThrottlePolicy,
    counters: Cache<String, Arc<std::sync::Mutex<Counter>>>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> LoginThrottle {
        let idle = Duration::from_secs(policy.window_secs.max(1) as u64);
        LoginThrottle {
            policy,
            counters: Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(idle)
                .build(),
        }
    }

    fn keys(account: &str, ip: &str) -> [(String, Kind); 3] {
        let account = account.to_lowercase();
        [
            (format!("p\0{account}\0{ip}"), Kind::Pair),
            (format!("i\0{ip}"), Kind::Ip),
            (format!("a\0{account}"), Kind::Account),
        ]
    }

    fn limits(&self, kind: Kind) -> (u32, i64) {
        let p = &self.policy;
        match kind {
            Kind::Pair => (p.pair_threshold, p.pair_cap_secs),
            Kind::Ip => (p.ip_threshold, p.ip_cap_secs),
            Kind::Account => (p.account_threshold, p.account_cap_secs),
        }
    }

    /// Seconds to wait before this attempt may be checked, or 0.
    pub fn wait_secs(&self, account: &str, ip: &str, now: i64) -> i64 {
        Self::keys(account, ip)
            .iter()
            .filter_map(|(key, kind)| {
                let c = *self.counters.get(key)?.lock().ok()?;
                Some(self.wait_for(c, *kind, now))
            })
            .max()
            .unwrap_or(0)
    }

    fn wait_for(&self, c: Counter, kind: Kind, now: i64) -> i64 {
        let (threshold, cap) = self.limits(kind);
        if now - c.last_failure > self.policy.window_secs || c.failures < threshold {
            return 0;
        }
        let exp = (c.failures - threshold).min(20);
        let delay = (1i64 << exp).min(cap);
        (c.last_failure + delay - now).max(0)
    }

    pub fn record_failure(&self, account: &str, ip: &str, now: i64) {
        for (key, _) in Self::keys(account, ip) {
            let entry = self.counters.get_with(key, || {
                Arc::new(std::sync::Mutex::new(Counter {
                    failures: 0,
                    last_failure: now,
                }))
            });
            if let Ok(mut c) = entry.lock() {
                if now - c.last_failure > self.policy.window_secs {
                    c.failures = 0;
                }
                c.failures = c.failures.saturating_add(1);
                c.last_failure = now;
            };
        }
    }

    /// A correct password clears the counters that concern this user from
    /// this address.
    pub fn record_success(&self, account: &str, ip: &str) {
        let [pair, _, account] = Self::keys(account, ip);
        self.counters.invalidate(&pair.0);
        self.counters.invalidate(&account.0);
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Pair,
    Ip,
    Account,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy::default())
    }

    #[test]
    fn no_wait_below_threshold() {
        let t = throttle();
        for _ in 0..4 {
            t.record_failure("alice", "10.0.0.1", 100);
        }
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 100), 0);
    }

    #[test]
    fn waits_double_and_are_capped() {
        let t = throttle();
        for _ in 0..5 {
            t.record_failure("alice", "10.0.0.1", 100);
        }
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 100), 1);
        t.record_failure("alice", "10.0.0.1", 100);
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 100), 2);
        for _ in 0..30 {
            t.record_failure("alice", "10.0.0.1", 100);
        }
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 100), 300);
        // Time passes: the wait runs out.
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 350), 50);
        assert_eq!(t.wait_secs("alice", "10.0.0.1", 401), 0);
    }

    #[test]
    fn attacker_elsewhere_delays_the_owner_only_briefly() {
        let t = throttle();
        // 200 failures on alice from 200 different addresses.
        for i in 0..200 {
            t.record_failure("alice", &format!("10.1.{}.{}", i / 256, i % 256), 1000);
        }
        let wait = t.wait_secs("alice", "192.168.7.7", 1000);
        assert!(wait > 0, "the account is slowed down");
        assert!(wait <= 10, "but never for long: {wait}");
    }

    #[test]
    fn window_forgets_old_failures() {
        let t = throttle();
        for _ in 0..10 {
            t.record_failure("bob", "10.0.0.2", 0);
        }
        assert!(t.wait_secs("bob", "10.0.0.2", 1) > 0);
        assert_eq!(t.wait_secs("bob", "10.0.0.2", 1000), 0);
    }

    #[test]
    fn success_clears_the_users_counters() {
        let t = throttle();
        for _ in 0..10 {
            t.record_failure("carol", "10.0.0.3", 5);
        }
        t.record_success("carol", "10.0.0.3");
        assert_eq!(t.wait_secs("carol", "10.0.0.3", 5), 0);
    }

    #[test]
    fn account_names_are_case_insensitive() {
        let t = throttle();
        for _ in 0..6 {
            t.record_failure("Dave", "10.0.0.4", 5);
        }
        assert!(t.wait_secs("dave", "10.0.0.4", 5) > 0);
    }
}
