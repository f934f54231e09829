//! What an operator counts: Prometheus metrics, kept in memory and
//! written in the OpenMetrics text format when scraped (`/metrics` on the
//! separate `metrics_bind` listener).
//!
//! Every label value comes from a closed set: a route pattern, an HTTP
//! method Latchkey serves, a status code, or a name from one of the
//! vocabularies (grant types, error codes, revocation reasons, audit event
//! kinds, key states). No client id, user id or token ever becomes a
//! label, so the number of series is bounded whatever the traffic.
//!
//! Counters move where the event happens (a grant, a sign-in, a
//! revocation); the gauges that describe state (keys, outbox, pool, Redis)
//! are read at scrape time by [`Scrape`].

use std::fmt::Write as _;

use latchkey_domain::keys::KeyState;
use latchkey_domain::{AuditEvent, PoolFigures, PoolWaits, RevokeReason, POOL_WAIT_BUCKETS};
use latchkey_protocol::{ErrorCode, GrantType};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::error::CoreError;

/// One static label.
type One = [(&'static str, &'static str); 1];
/// Two static labels.
type Two = [(&'static str, &'static str); 2];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The route's pattern (`/register/{id}`), never the path itself.
    endpoint: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

/// Seconds, from half a millisecond (a cached discovery document) to ten
/// seconds (a request that waited on a starved database pool).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Seconds from a revocation on one instance to its arrival on another.
const LAG_BUCKETS: [f64; 8] = [0.0, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// How a sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    Succeeded,
    Failed,
    /// Refused before checking anything: too many recent failures.
    Throttled,
}

impl LoginResult {
    fn as_str(self) -> &'static str {
        match self {
            LoginResult::Succeeded => "succeeded",
            LoginResult::Failed => "failed",
            LoginResult::Throttled => "throttled",
        }
    }
}

/// What a refresh token request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshResult {
    /// A new refresh token replaced the presented one.
    Rotated,
    /// A used refresh token came back: the family was revoked.
    ReuseDetected,
    /// A used refresh token came back within the recovery window: the
    /// lost response's token died and the client got a new one.
    Recovered,
}

impl RefreshResult {
    fn as_str(self) -> &'static str {
        match self {
            RefreshResult::Rotated => "rotated",
            RefreshResult::ReuseDetected => "reuse_detected",
            RefreshResult::Recovered => "recovered",
        }
    }
}

/// What one back-channel logout delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered,
    /// Failed; another attempt is scheduled.
    Failed,
    /// Failed for the last time.
    GaveUp,
}

impl DeliveryResult {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Failed => "failed",
            DeliveryResult::GaveUp => "gave_up",
        }
    }
}

/// A histogram the storage adapter keeps (its waits for a connection),
/// copied in at scrape time. Cloning shares it.
#[derive(Debug, Clone, Default)]
struct PoolWaitHistogram(std::sync::Arc<std::sync::Mutex<PoolWaits>>);

impl PoolWaitHistogram {
    fn set(&self, w: PoolWaits) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = w;
    }
}

impl EncodeMetric for PoolWaitHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let w = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bounds = POOL_WAIT_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(w.buckets).collect();
        encoder.encode_histogram::<NoLabelSet>(w.waited_seconds, w.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The state gauges, filled at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateReading<'a> {
    /// Signing keys: state, algorithm, creation time (unix seconds);
    /// `None` when they could not be read (the gauges keep their values).
    pub keys: Option<&'a [(KeyState, &'static str, i64)]>,
    pub now: i64,
    /// Undelivered back-channel logouts.
    pub outbox_backlog: Option<u64>,
    pub pool: Option<PoolFigures>,
    /// `None` when no Redis is configured.
    pub redis_up: Option<bool>,
    pub revocation_mirror_entries: u64,
}

/// Latchkey's metrics. Cloning a metric shares it: the registry holds
/// clones of the same counters this struct moves.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<EndpointLabel, Histogram>,
    tokens_issued: Family<Two, Counter>,
    token_errors: Family<Two, Counter>,
    refreshes: Family<One, Counter>,
    logins: Family<One, Counter>,
    security_events: Family<One, Counter>,
    revocations: Family<[(&'static str, String); 1], Counter>,
    revocation_lag: Histogram,
    deliveries: Family<One, Counter>,
    swept: Family<One, Counter>,
    keys: Family<Two, Gauge>,
    current_key_age: Family<One, Gauge>,
    outbox_backlog: Gauge,
    pool: Family<One, Gauge>,
    pool_max: Gauge,
    pool_waiters: Gauge,
    pool_waits: PoolWaitHistogram,
    redis_up: Gauge,
    mirror_entries: Gauge,
    build_info: Family<One, Gauge>,
    start_time: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("latchkey");
        let latency = || Histogram::new(LATENCY_BUCKETS);
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            tokens_issued: Family::default(),
            token_errors: Family::default(),
            refreshes: Family::default(),
            logins: Family::default(),
            security_events: Family::default(),
            revocations: Family::default(),
            revocation_lag: Histogram::new(LAG_BUCKETS),
            deliveries: Family::default(),
            swept: Family::default(),
            keys: Family::default(),
            current_key_age: Family::default(),
            outbox_backlog: Gauge::default(),
            pool: Family::default(),
            pool_max: Gauge::default(),
            pool_waiters: Gauge::default(),
            pool_waits: PoolWaitHistogram::default(),
            redis_up: Gauge::default(),
            mirror_entries: Gauge::default(),
            build_info: Family::default(),
            start_time: Gauge::default(),
            registry: Registry::default(),
        };
        r.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            m.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response, by route",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        r.register(
            "tokens_issued",
            "Access tokens issued at the token endpoint, by grant type and signing algorithm",
            m.tokens_issued.clone(),
        );
        r.register(
            "token_errors",
            "Token endpoint refusals, by grant type and OAuth error code",
            m.token_errors.clone(),
        );
        r.register(
            "refresh",
            "Refresh token requests that rotated, detected reuse, or recovered a lost response",
            m.refreshes.clone(),
        );
        r.register(
            "logins",
            "Sign-in attempts (password, second factor, passkey), by outcome",
            m.logins.clone(),
        );
        r.register(
            "security_events",
            "Audit events recorded, by kind",
            m.security_events.clone(),
        );
        r.register(
            "revocations",
            "Revocations made on this instance (a family, session or token teardown), by reason",
            m.revocations.clone(),
        );
        r.register_with_unit(
            "revocation_propagation",
            "Time from a revocation on any instance to its arrival here through Redis",
            Unit::Seconds,
            m.revocation_lag.clone(),
        );
        r.register(
            "backchannel_deliveries",
            "Back-channel logout delivery attempts, by outcome",
            m.deliveries.clone(),
        );
        r.register(
            "swept_rows",
            "Rows removed by the background sweeps, by kind",
            m.swept.clone(),
        );
        r.register(
            "signing_keys",
            "Signing keys in the database, by state and algorithm",
            m.keys.clone(),
        );
        r.register_with_unit(
            "current_signing_key_age",
            "Age of the newest current signing key, by algorithm",
            Unit::Seconds,
            m.current_key_age.clone(),
        );
        r.register(
            "backchannel_outbox_backlog",
            "Back-channel logouts waiting to be delivered",
            m.outbox_backlog.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database pool connections, open and idle",
            m.pool.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "The database pool's size limit",
            m.pool_max.clone(),
        );
        r.register(
            "build_info",
            "Always 1; its version label is the running Latchkey's",
            m.build_info.clone(),
        );
        m.build_info
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        r.register_with_unit(
            "start_time",
            "When this instance started, in Unix seconds",
            Unit::Seconds,
            m.start_time.clone(),
        );
        r.register(
            "db_pool_waiters",
            "Statements and transactions waiting for a database connection",
            m.pool_waiters.clone(),
        );
        r.register_with_unit(
            "db_pool_acquire_duration",
            "How long each statement or transaction waited for a database connection (0: none)",
            Unit::Seconds,
            m.pool_waits.clone(),
        );
        r.register(
            "redis_up",
            "1 when the configured Redis answers a ping, 0 when it does not",
            m.redis_up.clone(),
        );
        r.register(
            "revocation_mirror_entries",
            "Revocations held in this instance's in-memory mirror",
            m.mirror_entries.clone(),
        );
        // Every series of a closed set starts at 0, so the first event is
        // an increase (`increase()` misses a series born at 1).
        for r in [
            RefreshResult::Rotated,
            RefreshResult::ReuseDetected,
            RefreshResult::Recovered,
        ] {
            m.refreshes
                .get_or_create(&[("outcome", r.as_str())])
                .inc_by(0);
        }
        for r in [
            LoginResult::Succeeded,
            LoginResult::Failed,
            LoginResult::Throttled,
        ] {
            m.logins.get_or_create(&[("outcome", r.as_str())]).inc_by(0);
        }
        for r in [
            DeliveryResult::Delivered,
            DeliveryResult::Failed,
            DeliveryResult::GaveUp,
        ] {
            m.deliveries
                .get_or_create(&[("outcome", r.as_str())])
                .inc_by(0);
        }
        for kind in AuditEvent::ALL {
            m.security_events
                .get_or_create(&[("kind", kind.as_str())])
                .inc_by(0);
        }
        for kind in latchkey_domain::SweepKind::ALL {
            m.swept.get_or_create(&[("kind", kind.as_str())]).inc_by(0);
        }
        for reason in RevokeReason::ALL {
            m.revocations
                .get_or_create(&[("reason", reason_label(reason))])
                .inc_by(0);
        }
        Metrics { registry: r, ..m }
    }

    /// One answered HTTP request. `endpoint` is the route's pattern, or
    /// `unmatched`.
    pub fn http_request(&self, endpoint: &str, method: &str, status: u16, seconds: f64) {
        let endpoint = endpoint.to_owned();
        self.http_requests
            .get_or_create(&HttpLabels {
                endpoint: endpoint.clone(),
                method: known_method(method),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&EndpointLabel { endpoint })
            .observe(seconds);
    }

    pub fn token_issued(&self, grant: GrantType, alg: &'static str) {
        self.tokens_issued
            .get_or_create(&[("grant_type", grant_label(grant)), ("alg", alg)])
            .inc();
    }

    /// A refused token request; `grant` is `None` when the request did not
    /// get far enough to name one.
    pub fn token_error(&self, grant: Option<GrantType>, error: ErrorCode) {
        self.token_errors
            .get_or_create(&[
                ("grant_type", grant.map_or("none", grant_label)),
                ("error", error.as_str()),
            ])
            .inc();
    }

    pub fn refresh(&self, r: RefreshResult) {
        self.refreshes
            .get_or_create(&[("outcome", r.as_str())])
            .inc();
    }

    pub fn login(&self, r: LoginResult) {
        self.logins.get_or_create(&[("outcome", r.as_str())]).inc();
    }

    /// One audit event; sign-ins are counted from theirs.
    pub fn security_event(&self, kind: AuditEvent) {
        self.security_events
            .get_or_create(&[("kind", kind.as_str())])
            .inc();
        match kind {
            AuditEvent::Login => self.login(LoginResult::Succeeded),
            AuditEvent::LoginFailed => self.login(LoginResult::Failed),
            AuditEvent::RefreshReuse => self.refresh(RefreshResult::ReuseDetected),
            _ => {}
        }
    }

    pub fn revocation(&self, reason: RevokeReason) {
        self.revocations
            .get_or_create(&[("reason", reason_label(reason))])
            .inc();
    }

    /// A revocation made `lag` seconds ago arrived from another instance.
    pub fn revocation_arrived(&self, lag: i64) {
        self.revocation_lag.observe(lag.max(0) as f64);
    }

    pub fn delivery(&self, r: DeliveryResult) {
        self.deliveries
            .get_or_create(&[("outcome", r.as_str())])
            .inc();
    }

    /// Rows a sweep of `kind` removed.
    pub fn swept(&self, kind: &'static str, rows: u64) {
        self.swept.get_or_create(&[("kind", kind)]).inc_by(rows);
    }

    /// The key gauges: a count per state and algorithm (zero included, so
    /// a state that emptied reads 0), and the signing key's age.
    fn set_keys(&self, keys: &[(KeyState, &'static str, i64)], now: i64) {
        self.keys.clear();
        self.current_key_age.clear();
        let states = [
            KeyState::Next,
            KeyState::Current,
            KeyState::Retired,
            KeyState::Removed,
            KeyState::Revoked,
        ];
        for state in states {
            for &(_, alg, _) in keys {
                self.keys
                    .get_or_create(&[("state", state.as_str()), ("alg", alg)])
                    .set(0);
            }
        }
        for &(state, alg, created_at) in keys {
            self.keys
                .get_or_create(&[("state", state.as_str()), ("alg", alg)])
                .inc();
            if state == KeyState::Current {
                let age = (now - created_at).max(0);
                // The newest current key of an algorithm is the one that signs.
                let gauge = self.current_key_age.get_or_create(&[("alg", alg)]);
                if gauge.get() == 0 || age < gauge.get() {
                    gauge.set(age);
                }
            }
        }
    }

    /// Records when this instance started (a restart shows as a jump).
    pub fn started(&self, unix: i64) {
        self.start_time.set(unix);
    }

    /// Sets the state gauges and writes every metric in the OpenMetrics
    /// text format.
    pub fn render(&self, s: &StateReading<'_>) -> String {
        if let Some(keys) = s.keys {
            self.set_keys(keys, s.now);
        }
        if let Some(n) = s.outbox_backlog {
            self.outbox_backlog.set(n as i64);
        }
        if let Some(p) = s.pool {
            self.pool
                .get_or_create(&[("state", "open")])
                .set(p.open.into());
            self.pool
                .get_or_create(&[("state", "idle")])
                .set(p.idle.into());
            self.pool_max.set(p.max.into());
            self.pool_waiters.set(p.waits.waiting.into());
            self.pool_waits.set(p.waits);
        }
        if let Some(up) = s.redis_up {
            self.redis_up.set(up.into());
        }
        self.mirror_entries.set(s.revocation_mirror_entries as i64);
        let mut out = String::with_capacity(8 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // Writing to a String cannot fail; keep the scrape well formed.
            out.clear();
            let _ = writeln!(out, "# EOF");
        }
        out
    }
}

/// The OpenMetrics text format's media type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn known_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Grant types by their short names (the device grant's URN is long).
fn grant_label(g: GrantType) -> &'static str {
    match g {
        GrantType::DeviceCode => "device_code",
        other => other.as_str(),
    }
}

/// A revocation reason as an identifier: its stored name (prose for some)
/// in lower case, with `_` between words (`revoked_by_client`).
fn reason_label(r: RevokeReason) -> String {
    r.as_str()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

service! {
    /// `GET /metrics`: reads the state gauges, then writes every metric.
    pub struct Scrape { store, clock, mirror, cache, metrics }
}

impl Scrape<'_> {
    /// The scrape's body. A part that cannot be read (the database down)
    /// is logged and left out or kept at its last value; the scrape itself
    /// still answers, since that is when an operator needs it most.
    pub async fn render(&self) -> Result<String, CoreError> {
        let keys: Option<Vec<_>> = match self.store.list_keys().await {
            Ok(keys) => Some(
                keys.iter()
                    .map(|k| (k.state, k.alg.as_str(), k.created_at))
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read signing keys");
                None
            }
        };
        let now = self.clock.unix();
        let outbox_backlog = match self.store.outbox_backlog().await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count the outbox");
                None
            }
        };
        let redis_up = match self.cache {
            Some(c) => Some(c.ping().await.is_ok()),
            None => None,
        };
        Ok(self.metrics.render(&StateReading {
            keys: keys.as_deref(),
            now,
            outbox_backlog,
            pool: self.store.pool_figures(),
            redis_up,
            revocation_mirror_entries: self.mirror.len() as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_sets() {
        let m = Metrics::new();
        m.http_request("/register/{id}", "BREW", 418, 0.002);
        m.token_issued(GrantType::DeviceCode, "ES256");
        m.token_error(None, ErrorCode::InvalidClient);
        m.revocation(RevokeReason::SessionEndedByUser);
        let out = m.render(&StateReading {
            keys: Some(&[
                (KeyState::Current, "RS256", 100),
                (KeyState::Next, "RS256", 150),
            ]),
            now: 160,
            ..StateReading::default()
        });
        for line in [
            r#"latchkey_http_requests_total{endpoint="/register/{id}",method="other",status="418"} 1"#,
            r#"latchkey_tokens_issued_total{grant_type="device_code",alg="ES256"} 1"#,
            r#"latchkey_token_errors_total{grant_type="none",error="invalid_client"} 1"#,
            r#"latchkey_revocations_total{reason="session_ended_by_its_user"} 1"#,
            r#"latchkey_signing_keys{state="current",alg="RS256"} 1"#,
            r#"latchkey_signing_keys{state="retired",alg="RS256"} 0"#,
            r#"latchkey_current_signing_key_age_seconds{alg="RS256"} 60"#,
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
        assert!(out.ends_with("# EOF\n"));
    }

    #[test]
    fn pool_waits_render_as_a_cumulative_histogram() {
        let m = Metrics::new();
        let mut buckets = [0; POOL_WAIT_BUCKETS.len() + 1];
        buckets[0] = 5; // no wait
        buckets[4] = 2; // up to 50 ms
        buckets[POOL_WAIT_BUCKETS.len()] = 1; // past the last bound
        let out = m.render(&StateReading {
            pool: Some(PoolFigures {
                open: 4,
                idle: 0,
                max: 4,
                waits: PoolWaits {
                    waiting: 3,
                    buckets,
                    waited_seconds: 7.25,
                    count: 8,
                },
            }),
            ..StateReading::default()
        });
        for line in [
            "latchkey_db_pool_waiters 3",
            r#"latchkey_db_pool_acquire_duration_seconds_bucket{le="0.0"} 5"#,
            r#"latchkey_db_pool_acquire_duration_seconds_bucket{le="0.01"} 5"#,
            r#"latchkey_db_pool_acquire_duration_seconds_bucket{le="0.05"} 7"#,
            r#"latchkey_db_pool_acquire_duration_seconds_bucket{le="5.0"} 7"#,
            r#"latchkey_db_pool_acquire_duration_seconds_bucket{le="+Inf"} 8"#,
            "latchkey_db_pool_acquire_duration_seconds_sum 7.25",
            "latchkey_db_pool_acquire_duration_seconds_count 8",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
    }

    #[test]
    fn every_reason_has_its_own_label() {
        let labels: std::collections::HashSet<_> =
            RevokeReason::ALL.iter().map(|r| reason_label(*r)).collect();
        assert_eq!(labels.len(), RevokeReason::ALL.len());
    }
}
