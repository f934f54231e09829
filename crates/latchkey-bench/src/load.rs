//! The load generator: N tasks, each owning one keep-alive HTTP/1.1
//! connection (hyper, no pool, no retries), sending the next request as soon
//! as the previous answer is read, until the time is up or the workload runs
//! out. Every loop is bounded in time; each request also has a timeout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::response::Parts;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that fails this many times in a row stops its task.
const MAX_RECONNECTS: u32 = 20;
/// Latency samples kept per connection (a bound on memory, far above what
/// a 2-minute run produces on one connection).
const MAX_SAMPLES_PER_CONNECTION: usize = 4_000_000;

/// Set by Ctrl-C: every loop stops at its next check.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// What to send and what counts as success.
pub trait Workload: Send + Sync + 'static {
    /// The `n`-th request of the run, sent on connection `conn` (origin-form
    /// URI, `Host` set), or `None` when the workload has nothing more to
    /// send. A connection sends its next request only after reading the
    /// answer to the previous one, so per-connection state (a refresh-token
    /// chain) stays ordered.
    fn request(&self, conn: usize, n: u64) -> Option<Request<Full<Bytes>>>;

    /// Whether the answer to request `n` is a success. A workload may keep
    /// what it needs from it (e.g. the code in a redirect).
    fn check(&self, conn: usize, n: u64, head: &Parts, body: &Bytes) -> bool;
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub addr: SocketAddr,
    pub connections: usize,
    pub duration: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Responses the workload accepted.
    pub ok: u64,
    /// Refused responses, transport errors and timeouts.
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of each accepted response, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// The workload ran out of requests before the time was up.
    pub exhausted: bool,
    pub first_error: Option<String>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    pub fn percentile_us(&self, p: f64) -> Option<u32> {
        percentile(&self.latencies_us, p)
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at
/// least `p` percent of the samples at or below it.
pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

struct Shared {
    next: AtomicU64,
    exhausted: AtomicBool,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, what: String) {
        if let Ok(mut e) = self.first_error.lock() {
            e.get_or_insert(what);
        }
    }
}

#[derive(Default)]
struct TaskResult {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection's I/O runs beside the task; it ends when `sender` drops.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Runs `workload` against `config.addr`; must be called on a multi-thread
/// Tokio runtime (the tasks spread over its worker threads).
pub async fn run(config: &LoadConfig, workload: Arc<dyn Workload>) -> anyhow::Result<LoadResult> {
    // Connect first, so connection set-up is not part of the measurement.
    let mut senders = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        senders.push(
            connect(config.addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", config.addr))?,
        );
    }
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        exhausted: AtomicBool::new(false),
        first_error: Mutex::new(None),
    });
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut tasks = Vec::with_capacity(senders.len());
    for (conn, sender) in senders.into_iter().enumerate() {
        let (shared, workload, addr) = (shared.clone(), workload.clone(), config.addr);
        tasks.push(tokio::spawn(async move {
            connection_loop(conn, sender, addr, deadline, &shared, workload.as_ref()).await
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        let r = task.await?;
        total.ok += r.ok;
        total.errors += r.errors;
        total.latencies_us.extend(r.latencies_us);
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total.exhausted = shared.exhausted.load(Ordering::Relaxed);
    total.first_error = shared.first_error.lock().ok().and_then(|e| e.clone());
    Ok(total)
}

async fn connection_loop(
    conn: usize,
    mut sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    deadline: Instant,
    shared: &Shared,
    workload: &dyn Workload,
) -> TaskResult {
    let mut out = TaskResult {
        latencies_us: Vec::with_capacity(1024),
        ..TaskResult::default()
    };
    let mut failures = 0;
    while Instant::now() < deadline && !interrupted() {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = workload.request(conn, n) else {
            shared.exhausted.store(true, Ordering::Relaxed);
            break;
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let (head, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, hyper::Error>((head, body))
        })
        .await;
        let problem = match outcome {
            Ok(Ok((head, body))) => {
                if workload.check(conn, n, &head, &body) {
                    if out.latencies_us.len() < MAX_SAMPLES_PER_CONNECTION {
                        let us = sent.elapsed().as_micros();
                        out.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    out.ok += 1;
                    failures = 0;
                    continue;
                }
                out.errors += 1;
                shared.error(format!(
                    "HTTP {}: {}",
                    head.status,
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
                // A refused request on a healthy connection: carry on,
                // unless the server closed the connection.
                if !sender.is_closed() {
                    continue;
                }
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {REQUEST_TIMEOUT:?}")),
        };
        if let Some(problem) = problem {
            out.errors += 1;
            shared.error(problem);
        }
        failures += 1;
        if failures > MAX_RECONNECTS {
            break;
        }
        match connect(addr).await {
            Ok(s) => sender = s,
            Err(e) => {
                shared.error(format!("reconnect failed: {e}"));
                // Connecting again at once would only spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50));
        assert_eq!(percentile(&samples, 99.0), Some(99));
        assert_eq!(percentile(&samples, 99.5), Some(100));
        assert_eq!(percentile(&samples, 100.0), Some(100));
        assert_eq!(percentile(&samples, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 1000], 99.0), Some(1000));
        assert_eq!(percentile(&[1, 2, 3, 1000], 50.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&samples, 101.0), None);
    }

    #[test]
    fn rate_counts_accepted_responses_only() {
        let r = LoadResult {
            ok: 500,
            errors: 20,
            elapsed: Duration::from_millis(250),
            ..LoadResult::default()
        };
        assert_eq!(r.rps(), 2000.0);
        assert_eq!(LoadResult::default().rps(), 0.0);
    }
}
