//! Slowing down password guessing without handing attackers a lock-out
//! button.
//!
//! Every password check (sign-in, and the current password at a password
//! change) is counted *before* the slow hash, under three keys: the
//! (account, address) pair, the address alone and the account alone. An
//! attempt is presumed a failure until its password proves right, so
//! guesses sent all at once are counted one by one, and each sees the count
//! of those before it. Counting is atomic in the shared [`AttemptCounter`]
//! (Redis, or the database), so guesses spread over instances add up too;
//! a single instance without either keeps the counts in memory.
//!
//! Past a threshold, each key asks for a quiet time after its last attempt
//! that doubles with every further attempt, up to a cap. The pair and
//! address keys only ever hurt the guesser, so an attempt that comes too
//! early is refused (429), refused attempts counting too. The account key
//! is shared with the owner, so it never refuses: it *delays* the answer,
//! by at most its short cap. An attacker spraying one account from many
//! addresses slows its owner down by seconds, never locks them out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_domain::{AttemptCounter, CounterError, Hit};
use moka::sync::Cache;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Attempts allowed before waits start, per (account, address).
    pub pair_threshold: u32,
    pub pair_cap_secs: i64,
    /// Attempts allowed before waits start, per address over all accounts.
    pub ip_threshold: u32,
    pub ip_cap_secs: i64,
    /// Attempts allowed before answers are delayed, per account over all
    /// addresses.
    pub account_threshold: u32,
    /// The longest the account key delays an answer: the most an attacker
    /// elsewhere can slow the owner down.
    pub account_cap_secs: i64,
    /// A key with no attempt for this long starts over.
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

/// Whether an attempt may go on to the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password after waiting this long (milliseconds).
    Go { delay_ms: i64 },
    /// Too many attempts: refuse; the next may come after this many seconds.
    Refused { wait_secs: i64 },
}

/// A key's threshold and cap.
#[derive(Debug, Clone, Copy)]
struct Limit {
    threshold: u32,
    cap_secs: i64,
}

impl Limit {
    /// Seconds of quiet asked for after the `n`-th attempt: none before the
    /// threshold, then 1, 2, 4, ... up to the cap.
    fn quiet_after(self, n: i64) -> i64 {
        let over = n - i64::from(self.threshold);
        if over < 0 {
            return 0;
        }
        (1i64 << over.min(30)).min(self.cap_secs)
    }

    /// Milliseconds this attempt is early by: the quiet time the attempts
    /// before it asked for, less the time since the last of them.
    fn early_ms(self, hit: Hit, now_ms: i64) -> i64 {
        let quiet = self.quiet_after(hit.count - 1) * 1000;
        match hit.previous_ms {
            Some(previous) if quiet > 0 => (previous + quiet - now_ms).clamp(0, quiet),
            _ => 0,
        }
    }
}

/// The counter keys of one attempt. Account names and addresses are hashed:
/// the shared store holds neither, and a key's length does not depend on
/// what an attacker typed.
struct Keys {
    pair: String,
    ip: String,
    account: String,
    /// One-time codes tried on the account, from anywhere.
    codes: String,
}

impl Keys {
    fn new(account: &str, ip: &str) -> Keys {
        let account = account.to_lowercase();
        let ip = address_bucket(ip);
        let key = |kind: &str, parts: &[&str]| {
            let mut h = Sha256::new();
            for p in parts {
                h.update(p.as_bytes());
                h.update([0]);
            }
            format!("{kind}:{}", URL_SAFE_NO_PAD.encode(&h.finalize()[..18]))
        };
        Keys {
            pair: key("p", &[&account, &ip]),
            ip: key("i", &[&ip]),
            account: key("a", &[&account]),
            codes: key("c", &[&account]),
        }
    }
}

/// The address an attempt is counted under. An IPv6 client usually holds a
/// whole /64, so IPv6 addresses count by their /64: one address each would
/// give a single client 2^64 budgets.
fn address_bucket(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>().map(|a| a.to_canonical()) {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

pub struct LoginThrottle {
    policy: ThrottlePolicy,
    /// The shared counter (Redis or the database), or this instance's own.
    counter: Arc<dyn AttemptCounter>,
    /// This instance's own counts, used while the shared counter fails: a
    /// Redis or database outage must not turn the limit off.
    fallback: MemoryAttempts,
}

impl LoginThrottle {
    /// Counts in `shared` when given, else in memory.
    pub fn new(policy: ThrottlePolicy, shared: Option<Arc<dyn AttemptCounter>>) -> LoginThrottle {
        let fallback = MemoryAttempts::new(policy.window_secs);
        LoginThrottle {
            counter: shared.unwrap_or_else(|| Arc::new(fallback.clone())),
            fallback,
            policy,
        }
    }

    fn idle_ms(&self) -> i64 {
        self.policy.window_secs.max(1) * 1000
    }

    async fn hit(&self, keys: &[String], now_ms: i64) -> Vec<Hit> {
        match self.counter.hit(keys, now_ms, self.idle_ms()).await {
            Ok(hits) if hits.len() == keys.len() => return hits,
            Ok(_) => tracing::warn!("attempt counter answered for other keys; counting locally"),
            Err(e) => tracing::warn!(error = %e, "attempt counter failed; counting locally"),
        }
        // Infallible: the memory counter never errs.
        self.fallback
            .hit(keys, now_ms, self.idle_ms())
            .await
            .unwrap_or_default()
    }

    /// Counts an attempt on `account` from `ip` at `now_ms` and says whether
    /// it may go on to the password check, and after how long.
    pub async fn admit(&self, account: &str, ip: &str, now_ms: i64) -> Admission {
        let p = &self.policy;
        let keys = Keys::new(account, ip);
        let hard = [
            Limit {
                threshold: p.pair_threshold,
                cap_secs: p.pair_cap_secs,
            },
            Limit {
                threshold: p.ip_threshold,
                cap_secs: p.ip_cap_secs,
            },
        ];
        let hits = self.hit(&[keys.pair, keys.ip], now_ms).await;
        if hard
            .iter()
            .zip(&hits)
            .any(|(limit, hit)| limit.early_ms(*hit, now_ms) > 0)
        {
            // This refused attempt counted: the next must wait from now.
            let wait_secs = hard
                .iter()
                .zip(&hits)
                .map(|(limit, hit)| limit.quiet_after(hit.count))
                .max()
                .unwrap_or(1)
                .max(1);
            return Admission::Refused { wait_secs };
        }
        let account_limit = Limit {
            threshold: p.account_threshold,
            cap_secs: p.account_cap_secs,
        };
        let delay_ms = self
            .hit(&[keys.account], now_ms)
            .await
            .first()
            .map_or(0, |hit| account_limit.early_ms(*hit, now_ms));
        Admission::Go { delay_ms }
    }

    /// The password was right: the attempt was no failure. The pair's and
    /// the account's counts start over; the address only gets this attempt
    /// back, so a guesser cannot wipe their address's count by signing in
    /// to an account of their own.
    pub async fn succeeded(&self, account: &str, ip: &str) {
        let keys = Keys::new(account, ip);
        let cleared = [keys.pair, keys.account, keys.codes];
        let shared = async {
            self.counter.clear(&cleared).await?;
            self.counter.forgive(&keys.ip).await
        };
        if let Err(e) = shared.await {
            tracing::warn!(error = %e, "attempt counter failed; clearing locally");
            let _ = self.fallback.clear(&cleared).await;
            let _ = self.fallback.forgive(&keys.ip).await;
        }
    }

    /// Deletes at most `limit` idle counts from stores that do not expire
    /// them themselves.
    pub async fn sweep(&self, now_ms: i64, limit: u64) -> Result<u64, CounterError> {
        self.counter.sweep(now_ms, self.idle_ms(), limit).await
    }
}

impl LoginThrottle {
    /// Counts a password check on `account` from `ip` before it is made,
    /// then waits out the account's delay. `Err(wait_secs)`: refused.
    pub(crate) async fn password_turn(
        &self,
        clock: &dyn latchkey_domain::Clock,
        account: &str,
        ip: &str,
    ) -> Result<(), i64> {
        let now_ms = clock.now().timestamp_millis();
        match self.admit(account, ip, now_ms).await {
            Admission::Refused { wait_secs } => Err(wait_secs),
            Admission::Go { delay_ms } => {
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms as u64)).await;
                }
                Ok(())
            }
        }
    }
}

/// One-time codes an account takes from all addresses together before
/// each further one waits (doubling up to the window): only someone who
/// has the password gets to try codes, so spreading guesses over many
/// addresses must not multiply them.
const CODE_THRESHOLD: u32 = 10;

impl LoginThrottle {
    /// Counts a one-time code (second factor) on `account` from `ip`
    /// before it is checked: the password's limits, and a hard limit per
    /// account over all addresses. `Err(wait_secs)`: refused.
    pub(crate) async fn code_turn(
        &self,
        clock: &dyn latchkey_domain::Clock,
        account: &str,
        ip: &str,
    ) -> Result<(), i64> {
        self.password_turn(clock, account, ip).await?;
        let now_ms = clock.now().timestamp_millis();
        let limit = Limit {
            threshold: CODE_THRESHOLD,
            cap_secs: self.policy.window_secs,
        };
        let key = Keys::new(account, ip).codes;
        let hits = self.hit(std::slice::from_ref(&key), now_ms).await;
        match hits.first() {
            Some(hit) if limit.early_ms(*hit, now_ms) > 0 => {
                Err(limit.quiet_after(hit.count).max(1))
            }
            _ => Ok(()),
        }
    }
}

/// User codes of the device grant (RFC 8628 §5.1) a browser may get
/// wrong before each further one waits (doubling, up to five minutes).
const USER_CODE_BROWSER: Limit = Limit {
    threshold: 5,
    cap_secs: 300,
};
/// The same per address (or IPv6 /64), whatever the browser: dropping the
/// cookie that names the browser does not buy more guesses.
const USER_CODE_ADDRESS: Limit = Limit {
    threshold: 20,
    cap_secs: 300,
};
/// Over every browser and address: past this many wrong codes in a run,
/// one guess a second at most, which keeps the whole code space (20^8)
/// out of reach of a guesser with many addresses while a user with the
/// right code waits a second at worst.
const USER_CODE_ALL: Limit = Limit {
    threshold: 50,
    cap_secs: 1,
};

/// The counter keys of a user code typed in a browser from an address.
fn user_code_keys(browser_hash: &str, ip: &str) -> [String; 3] {
    let key = |kind: &str, part: &str| {
        let mut h = Sha256::new();
        h.update(part.as_bytes());
        format!("{kind}:{}", URL_SAFE_NO_PAD.encode(&h.finalize()[..18]))
    };
    [
        key("ub", browser_hash),
        key("ui", &address_bucket(ip)),
        "ua:all".to_owned(),
    ]
}

impl LoginThrottle {
    /// Counts a user code before it is looked up, per browser, per address
    /// and over all codes; an attempt is presumed wrong until the code is
    /// found ([`LoginThrottle::user_code_found`]). `Err(wait_secs)`: refused.
    pub(crate) async fn user_code_turn(
        &self,
        clock: &dyn latchkey_domain::Clock,
        browser_hash: &str,
        ip: &str,
    ) -> Result<(), i64> {
        let now_ms = clock.now().timestamp_millis();
        let limits = [USER_CODE_BROWSER, USER_CODE_ADDRESS, USER_CODE_ALL];
        let hits = self.hit(&user_code_keys(browser_hash, ip), now_ms).await;
        if limits
            .iter()
            .zip(&hits)
            .any(|(limit, hit)| limit.early_ms(*hit, now_ms) > 0)
        {
            let wait_secs = limits
                .iter()
                .zip(&hits)
                .map(|(limit, hit)| limit.quiet_after(hit.count))
                .max()
                .unwrap_or(1)
                .max(1);
            return Err(wait_secs);
        }
        Ok(())
    }

    /// The code was a live one: the attempt is taken back from each key.
    pub(crate) async fn user_code_found(&self, browser_hash: &str, ip: &str) {
        for key in user_code_keys(browser_hash, ip) {
            if let Err(e) = self.counter.forgive(&key).await {
                tracing::warn!(error = %e, "attempt counter failed; forgiving locally");
                let _ = self.fallback.forgive(&key).await;
            }
        }
    }
}

/// Attempt counts in this process's memory: for a single instance, and as
/// the fallback while the shared counter is unreachable. Idle runs are
/// dropped after the window (by real time; the run itself restarts by the
/// injected clock).
#[derive(Clone)]
pub struct MemoryAttempts {
    runs: Cache<String, Arc<Mutex<Run>>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Run {
    count: i64,
    last_ms: Option<i64>,
}

impl MemoryAttempts {
    pub fn new(window_secs: i64) -> MemoryAttempts {
        MemoryAttempts {
            runs: Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(Duration::from_secs(window_secs.max(1) as u64))
                .build(),
        }
    }
}

#[async_trait]
impl AttemptCounter for MemoryAttempts {
    async fn hit(
        &self,
        keys: &[String],
        now_ms: i64,
        idle_ms: i64,
    ) -> Result<Vec<Hit>, CounterError> {
        Ok(keys
            .iter()
            .map(|key| {
                let run = self.runs.get_with(key.clone(), Arc::default);
                let mut run = run.lock().unwrap_or_else(|e| e.into_inner());
                let previous_ms = run.last_ms.filter(|last| now_ms - last < idle_ms);
                if previous_ms.is_none() {
                    run.count = 0;
                }
                run.count += 1;
                run.last_ms = Some(now_ms);
                Hit {
                    count: run.count,
                    previous_ms,
                }
            })
            .collect())
    }

    async fn forgive(&self, key: &str) -> Result<(), CounterError> {
        if let Some(run) = self.runs.get(key) {
            let mut run = run.lock().unwrap_or_else(|e| e.into_inner());
            run.count = (run.count - 1).max(0);
        }
        Ok(())
    }

    async fn clear(&self, keys: &[String]) -> Result<(), CounterError> {
        for key in keys {
            self.runs.invalidate(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &str = "10.0.0.1";

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy::default(), None)
    }

    fn ms(secs: i64) -> i64 {
        secs * 1000
    }

    /// `n` attempts that each failed.
    async fn fail(t: &LoginThrottle, account: &str, ip: &str, at: i64, n: usize) {
        for _ in 0..n {
            t.admit(account, ip, at).await;
        }
    }

    #[tokio::test]
    async fn no_wait_below_threshold() {
        let t = throttle();
        for _ in 0..5 {
            assert_eq!(
                t.admit("alice", IP, ms(100)).await,
                Admission::Go { delay_ms: 0 }
            );
        }
    }

    #[tokio::test]
    async fn waits_double_and_are_capped() {
        let t = throttle();
        fail(&t, "alice", IP, ms(100), 5).await;
        // The sixth attempt comes too early: refused, and it counts.
        assert_eq!(
            t.admit("alice", IP, ms(100)).await,
            Admission::Refused { wait_secs: 2 }
        );
        assert!(matches!(
            t.admit("alice", IP, ms(101)).await,
            Admission::Refused { wait_secs: 4 }
        ));
        // Quiet for as long as asked: admitted.
        assert!(matches!(
            t.admit("alice", IP, ms(105)).await,
            Admission::Go { .. }
        ));
        fail(&t, "alice", IP, ms(105), 30).await;
        assert!(matches!(
            t.admit("alice", IP, ms(105)).await,
            Admission::Refused { wait_secs: 300 }
        ));
        assert!(matches!(
            t.admit("alice", IP, ms(404)).await,
            Admission::Refused { .. }
        ));
        assert!(matches!(
            t.admit("alice", IP, ms(704)).await,
            Admission::Go { .. }
        ));
    }

    #[tokio::test]
    async fn attempts_sent_at_once_are_counted_one_by_one() {
        let t = Arc::new(throttle());
        let tries = (0..60).map(|_| {
            let t = t.clone();
            tokio::spawn(async move { t.admit("alice", IP, ms(100)).await })
        });
        let mut admitted = 0;
        for a in tries.collect::<Vec<_>>() {
            if matches!(a.await.unwrap(), Admission::Go { .. }) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5);
    }

    #[tokio::test]
    async fn attacker_elsewhere_delays_the_owner_only_briefly() {
        let t = throttle();
        // 200 failures on alice from 200 different addresses.
        for i in 0..200 {
            let ip = format!("10.1.{}.{}", i / 256, i % 256);
            assert!(matches!(
                t.admit("alice", &ip, ms(1000)).await,
                Admission::Go { .. }
            ));
        }
        let Admission::Go { delay_ms } = t.admit("alice", "192.168.7.7", ms(1000)).await else {
            panic!("the owner is never refused")
        };
        assert!(delay_ms > 0, "the account is slowed down");
        assert!(delay_ms <= 10_000, "but never for long: {delay_ms}");
    }

    #[tokio::test]
    async fn one_ipv6_client_counts_as_its_64() {
        let t = throttle();
        for i in 0..30 {
            let ip = format!("2001:db8:1:2::{i:x}");
            t.admit(&format!("user{i}"), &ip, ms(5)).await;
        }
        assert!(matches!(
            t.admit("someone", "2001:db8:1:2:ffff::1", ms(5)).await,
            Admission::Refused { .. }
        ));
        assert_eq!(
            t.admit("someone", "2001:db8:1:3::1", ms(5)).await,
            Admission::Go { delay_ms: 0 }
        );
    }

    #[tokio::test]
    async fn window_forgets_old_attempts() {
        let t = throttle();
        fail(&t, "bob", "10.0.0.2", 0, 10).await;
        assert!(matches!(
            t.admit("bob", "10.0.0.2", ms(1)).await,
            Admission::Refused { .. }
        ));
        assert_eq!(
            t.admit("bob", "10.0.0.2", ms(1000)).await,
            Admission::Go { delay_ms: 0 }
        );
    }

    #[tokio::test]
    async fn success_clears_the_users_counts_and_gives_the_address_one_back() {
        let t = throttle();
        fail(&t, "carol", "10.0.0.3", ms(5), 4).await;
        t.succeeded("carol", "10.0.0.3").await;
        for _ in 0..5 {
            assert!(matches!(
                t.admit("carol", "10.0.0.3", ms(5)).await,
                Admission::Go { .. }
            ));
        }
        // The address: 9 attempts, one of them taken back, and 21 more
        // make 29 of the 30 it may make.
        fail(&t, "dan", "10.0.0.3", ms(5), 21).await;
        assert!(matches!(
            t.admit("erin", "10.0.0.3", ms(5)).await,
            Admission::Go { .. }
        ));
        assert!(matches!(
            t.admit("erin", "10.0.0.3", ms(5)).await,
            Admission::Refused { .. }
        ));
    }

    #[tokio::test]
    async fn account_names_are_case_insensitive() {
        let t = throttle();
        fail(&t, "Dave", "10.0.0.4", ms(5), 6).await;
        assert!(matches!(
            t.admit("dave", "10.0.0.4", ms(5)).await,
            Admission::Refused { .. }
        ));
    }

    #[tokio::test]
    async fn wrong_user_codes_are_limited_per_browser_address_and_overall() {
        let t = throttle();
        let clock = latchkey_domain::MockClock::new(chrono::DateTime::UNIX_EPOCH);
        for _ in 0..5 {
            assert!(t.user_code_turn(&clock, "b1", IP).await.is_ok());
        }
        assert!(t.user_code_turn(&clock, "b1", IP).await.is_err());
        // Another browser on the same address goes on, up to the
        // address's own limit.
        for i in 0..14 {
            assert!(t
                .user_code_turn(&clock, &format!("b{}", i + 2), IP)
                .await
                .is_ok());
        }
        assert!(t.user_code_turn(&clock, "fresh", IP).await.is_err());
        // Many addresses, one browser each: the overall limit.
        for i in 0..29 {
            let ip = format!("10.9.{}.{}", i / 256, i % 256);
            assert!(t.user_code_turn(&clock, &ip, &ip).await.is_ok(), "{i}");
        }
        assert!(t.user_code_turn(&clock, "x", "10.10.0.1").await.is_err());
        // A second later, one more gets through.
        clock.advance(std::time::Duration::from_secs(2));
        assert!(t.user_code_turn(&clock, "y", "10.10.0.2").await.is_ok());
    }

    #[tokio::test]
    async fn a_found_code_is_taken_back() {
        let t = throttle();
        let clock = latchkey_domain::MockClock::new(chrono::DateTime::UNIX_EPOCH);
        for _ in 0..20 {
            assert!(t.user_code_turn(&clock, "b", IP).await.is_ok());
            t.user_code_found("b", IP).await;
        }
    }

    /// A shared counter that is down.
    struct Down;

    #[async_trait]
    impl AttemptCounter for Down {
        async fn hit(&self, _: &[String], _: i64, _: i64) -> Result<Vec<Hit>, CounterError> {
            Err(CounterError("down".into()))
        }
        async fn forgive(&self, _: &str) -> Result<(), CounterError> {
            Err(CounterError("down".into()))
        }
        async fn clear(&self, _: &[String]) -> Result<(), CounterError> {
            Err(CounterError("down".into()))
        }
    }

    #[tokio::test]
    async fn an_unreachable_shared_counter_does_not_turn_the_limit_off() {
        let t = LoginThrottle::new(ThrottlePolicy::default(), Some(Arc::new(Down)));
        fail(&t, "frank", IP, ms(5), 5).await;
        assert!(matches!(
            t.admit("frank", IP, ms(5)).await,
            Admission::Refused { .. }
        ));
    }
}
