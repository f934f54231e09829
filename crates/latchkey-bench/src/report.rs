//! What a run found, and the tables it prints (Markdown, so they paste
//! into docs/benchmarks.md unchanged).

use std::fmt::Write;

use latchkey_keys::Alg;

use crate::load::LoadResult;
use crate::signing::{OpCost, SigningCeiling};

/// The ceiling a scenario is read against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    /// Signatures/s of the server's signing code on every core.
    Signing(Alg),
    /// Requests/s of a trivial handler on the same actix-web.
    Http,
}

impl Ceiling {
    fn name(self) -> String {
        match self {
            Ceiling::Signing(alg) => format!("{} signing", alg.as_str()),
            Ceiling::Http => "HTTP".to_owned(),
        }
    }
}

/// The target for a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    pub ceiling: Ceiling,
    pub min_ratio: Option<f64>,
    /// An absolute rate, where the issue gives one.
    pub min_rps: Option<f64>,
    pub max_p99_ms: Option<f64>,
    /// Signatures each request makes, and their algorithm: the rate is
    /// also read against that signing ceiling divided by this.
    pub signatures: u32,
    pub sign_alg: Alg,
}

impl Goal {
    pub const fn new(ceiling: Ceiling) -> Goal {
        Goal {
            ceiling,
            min_ratio: None,
            min_rps: None,
            max_p99_ms: None,
            signatures: 0,
            sign_alg: Alg::RS256,
        }
    }

    pub const fn signs(mut self, signatures: u32, alg: Alg) -> Goal {
        self.signatures = signatures;
        self.sign_alg = alg;
        self
    }

    /// The signing ceiling divided by the signatures per request, if any.
    fn signing_bound(&self) -> Option<(Ceiling, f64)> {
        (self.signatures > 0).then(|| (Ceiling::Signing(self.sign_alg), f64::from(self.signatures)))
    }

    pub const fn at_least(mut self, ratio: f64) -> Goal {
        self.min_ratio = Some(ratio);
        self
    }

    pub const fn at_least_rps(mut self, rps: f64) -> Goal {
        self.min_rps = Some(rps);
        self
    }

    pub const fn p99_under_ms(mut self, ms: f64) -> Goal {
        self.max_p99_ms = Some(ms);
        self
    }

    fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.min_ratio {
            parts.push(format!("≥ {:.0}% of {}", r * 100.0, self.ceiling.name()));
        }
        if let Some(rps) = self.min_rps {
            parts.push(format!("≥ {}/s", thousands(rps)));
        }
        if let Some(ms) = self.max_p99_ms {
            parts.push(format!("p99 < {ms} ms"));
        }
        if parts.is_empty() {
            "none set".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// What the server (or the peer) spent during a scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU seconds of the server process (all threads).
    pub server_cpu: Option<f64>,
    /// CPU seconds of this process: the load generator.
    pub generator_cpu: Option<f64>,
    /// Peak RSS during the scenario (since the last reset), KiB.
    pub peak_kib: Option<u64>,
    /// CPU seconds of every core: what neither the server nor the load
    /// generator used went to other work on the machine.
    pub machine_cpu: Option<f64>,
}

impl Usage {
    /// CPU seconds other processes took during the scenario.
    pub fn others_cpu(&self) -> Option<f64> {
        let others = self.machine_cpu? - self.server_cpu.unwrap_or(0.0) - self.generator_cpu?;
        Some(others.max(0.0))
    }
}

#[derive(Debug)]
pub enum Outcome {
    Measured { load: LoadResult, usage: Usage },
    Unavailable(String),
}

#[derive(Debug)]
pub struct Row {
    /// The scenario number (or a letter for references).
    pub id: &'static str,
    pub name: String,
    pub goal: Goal,
    pub outcome: Outcome,
    /// Printed under the table (e.g. the refresh audit).
    pub note: Option<String>,
    /// A failure beyond rate and latency (e.g. lost rotations): the verdict
    /// is "missed" whatever the figures.
    pub problem: Option<String>,
    /// The HTTP ceiling measured just before this scenario, which its HTTP
    /// figures are read against (the run's first measurement otherwise).
    pub http_ceiling: Option<(LoadResult, Usage)>,
    /// Likewise the signing ceiling of the algorithm it signs with.
    pub signing_ceiling: Option<SigningCeiling>,
    /// For a request carrying a DPoP proof: what its check is read against.
    pub dpop: Option<DpopCheck>,
}

/// A scenario with a DPoP proof in every request, beside the same request
/// without one.
#[derive(Debug, Clone)]
pub struct DpopCheck {
    /// The name of the row making the same request without a proof.
    pub baseline: String,
    /// ES256 verification (`KeySet::verify`), measured just before the row.
    pub es256_verify: OpCost,
    /// The server's own proof verification (`verify_dpop_proof`), likewise.
    pub proof_verify: OpCost,
    /// Proofs signed ahead of the window, and signed in it (the pool ran
    /// out).
    pub pool: usize,
    pub signed_late: u64,
}

impl Row {
    pub fn unavailable(id: &'static str, name: &str, goal: Goal, why: &str) -> Row {
        Row {
            id,
            name: name.to_owned(),
            goal,
            outcome: Outcome::Unavailable(why.to_owned()),
            note: None,
            problem: None,
            http_ceiling: None,
            signing_ceiling: None,
            dpop: None,
        }
    }

    /// Server CPU µs per accepted request, and the rate.
    fn cpu_us_and_rate(&self) -> Option<(f64, f64)> {
        match &self.outcome {
            Outcome::Measured { load, usage } if load.ok > 0 => {
                Some((usage.server_cpu? * 1e6 / load.ok as f64, load.rps()))
            }
            _ => None,
        }
    }

    /// The run's ceilings with this row's own measurements in their place.
    fn ceilings(&self, run: &Ceilings) -> Ceilings {
        let mut c = run.clone();
        if let Some(h) = &self.http_ceiling {
            c.http = Some(h.clone());
        }
        match self.signing_ceiling {
            Some(s) if s.alg == Alg::RS256 => c.rs256 = Some(s),
            Some(s) if s.alg == Alg::ES256 => c.es256 = Some(s),
            _ => {}
        }
        c
    }
}

#[derive(Clone)]
pub struct Ceilings {
    pub rs256: Option<SigningCeiling>,
    pub es256: Option<SigningCeiling>,
    pub http: Option<(LoadResult, Usage)>,
}

impl Ceilings {
    fn signing(&self, alg: Alg) -> Option<SigningCeiling> {
        match alg {
            Alg::RS256 => self.rs256,
            Alg::ES256 => self.es256,
            _ => None,
        }
    }

    fn value(&self, c: Ceiling) -> Option<f64> {
        match c {
            Ceiling::Signing(alg) => self.signing(alg).map(|s| s.sign_all_threads),
            Ceiling::Http => self.http.as_ref().map(|(l, _)| l.rps()),
        }
    }

    /// Server CPU seconds per unit of the ceiling's work: one signature on
    /// one core, or one request to the trivial handler.
    fn cpu_cost(&self, c: Ceiling) -> Option<f64> {
        match c {
            Ceiling::Signing(alg) => self
                .signing(alg)
                .filter(|s| s.sign_one_thread > 0.0)
                .map(|s| 1.0 / s.sign_one_thread),
            Ceiling::Http => self
                .http
                .as_ref()
                .and_then(|(l, u)| Some(u.server_cpu? / l.ok.max(1) as f64)),
        }
    }

    /// The share of the HTTP ceiling within reach of a server whose every
    /// request cost only the trivial request's CPU plus its signatures. The
    /// load generator's CPU per request comes out of the same cores, so
    /// this is below 100% even for one cheap signature.
    fn http_bound(&self, goal: &Goal) -> Option<f64> {
        let (Ceiling::Signing(alg), n) = goal.signing_bound()? else {
            return None;
        };
        let (l, u) = self.http.as_ref()?;
        let base = (u.server_cpu? + u.generator_cpu?) / l.ok.max(1) as f64;
        let sign = self.cpu_cost(Ceiling::Signing(alg))?;
        Some(base / (base + n * sign))
    }

    /// The ceiling's CPU per request over the scenario's: the share of the
    /// ceiling the scenario would reach if both had the cores to themselves.
    /// Other load on the machine slows both alike, so it mostly cancels out.
    fn cpu_ratio(&self, goal: &Goal, server_cpu_per_request: f64) -> Option<f64> {
        if server_cpu_per_request <= 0.0 {
            return None;
        }
        let (ceiling, units) = goal.signing_bound().unwrap_or((goal.ceiling, 1.0));
        Some(self.cpu_cost(ceiling)? * units / server_cpu_per_request)
    }
}

fn cpu_ratio_text(ratio: Option<f64>, goal: &Goal) -> String {
    let Some(r) = ratio else {
        return "-".to_owned();
    };
    let of = match goal.signing_bound() {
        None => goal.ceiling.name(),
        Some((c, n)) if n <= 1.0 => c.name(),
        Some((c, n)) => format!("{} ÷ {n}", c.name()),
    };
    format!("{:.0}% of {of}", r * 100.0)
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    // Groups of three from the right; the first group may be shorter.
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first.min(digits.len())].to_owned();
    for group in digits.as_bytes()[first.min(digits.len())..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).unwrap_or(""));
    }
    out
}

fn ms(us: Option<u32>) -> String {
    us.map_or("-".to_owned(), |us| {
        format!("{:.2}", f64::from(us) / 1000.0)
    })
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// "met" or how far off the target is.
fn verdict(
    goal: &Goal,
    ratio: Option<f64>,
    rps: f64,
    p99_ms: Option<f64>,
    problem: Option<&str>,
) -> String {
    let mut misses = Vec::new();
    if let (Some(min), Some(r)) = (goal.min_ratio, ratio) {
        if r < min {
            misses.push(format!("rate at {:.0}% of target", 100.0 * r / min));
        }
    }
    if let Some(min) = goal.min_rps {
        if rps < min {
            misses.push(format!("rate at {:.0}% of target", 100.0 * rps / min));
        }
    }
    misses.extend(problem.map(str::to_owned));
    if let (Some(max), Some(p)) = (goal.max_p99_ms, p99_ms) {
        if p >= max {
            misses.push(format!("p99 {:.1}× the limit", p / max));
        }
    }
    if goal.min_ratio.is_none()
        && goal.min_rps.is_none()
        && goal.max_p99_ms.is_none()
        && misses.is_empty()
    {
        "-".to_owned()
    } else if misses.is_empty() {
        "met".to_owned()
    } else {
        format!("**missed**: {}", misses.join("; "))
    }
}

fn per_second(x: Option<f64>, elapsed: f64) -> String {
    x.map_or("-".to_owned(), |v| format!("{:.2}", v / elapsed))
}

pub fn ceilings_table(c: &Ceilings) -> String {
    let mut out =
        String::from("| ceiling | 1 thread | all threads | threads |\n|---|---:|---:|---:|\n");
    for s in [c.rs256, c.es256].into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} sign (KeySet::sign, access-token claims) | {}/s | {}/s | {} |",
            s.alg.as_str(),
            thousands(s.sign_one_thread),
            thousands(s.sign_all_threads),
            s.threads
        );
        let _ = writeln!(
            out,
            "| {} verify (KeySet::verify) | - | {}/s | {} |",
            s.alg.as_str(),
            thousands(s.verify_all_threads),
            s.threads
        );
    }
    if let Some((l, u)) = &c.http {
        let secs = l.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "| HTTP: trivial actix-web handler (first of the run; each scenario's own is its *ceiling /s*) | - | {} req/s (p50 {} ms, p99 {} ms; server {} cores, load generator {} cores, other processes {} cores) | - |",
            thousands(l.rps()),
            ms(l.percentile_us(50.0)),
            ms(l.percentile_us(99.0)),
            per_second(u.server_cpu, secs),
            per_second(u.generator_cpu, secs),
            per_second(u.others_cpu(), secs),
        );
    }
    out
}

/// How to read the scenario table.
pub const LEGEND: &str = "\
- *of ceiling*: req/s over the ceiling's rate (*ceiling /s*), measured again just before the \
scenario since a shared machine's speed drifts over a run: signing on every core (1 s, best of \
four windows), or the trivial handler loaded for up to 2 s. The verdict reads this against the \
issue's target.
- *CPU-bound ratio*: the ceiling's CPU per unit (one signature on one core, or one trivial \
request) over this scenario's server CPU per request: the share of the ceiling the server would \
reach with the cores to itself. Other load on the machine slows both alike, so it mostly cancels out.
- *other cores*: CPU every other process used meanwhile (PostgreSQL and Redis included, when used). \
Well above 0, the machine was shared and the rates are lower than it can do.
";

/// "45% of HTTP", plus the share of the signing ceiling for requests that
/// sign.
fn of_ceilings(rps: f64, ratio: Option<f64>, name: &str, goal: &Goal, c: &Ceilings) -> String {
    let mut out = ratio.map_or("-".to_owned(), |r| format!("{:.0}% of {name}", r * 100.0));
    if let Some((signing, n)) = goal.signing_bound().filter(|(s, _)| *s != goal.ceiling) {
        if let Some(ceiling) = c.value(signing).filter(|v| *v > 0.0) {
            let _ = write!(
                out,
                " ({:.0}% of {} ÷ {n})",
                100.0 * rps * n / ceiling,
                signing.name()
            );
        }
    }
    out
}

pub fn scenarios_table(rows: &[Row], c: &Ceilings) -> String {
    let mut out = String::from(
        "| # | scenario | req/s | p50 ms | p99 ms | max ms | errors | of ceiling | ceiling /s | target | verdict | CPU-bound ratio | server CPU µs/req | server cores | load-gen cores | other cores | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut notes = String::new();
    for row in rows {
        let ceiling_name = row.goal.ceiling.name();
        match &row.outcome {
            Outcome::Unavailable(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | - | - | - | - | - | - | - | {} | {why} | - | - | - | - | - | - |",
                    row.id,
                    row.name,
                    row.goal.text()
                );
            }
            Outcome::Measured { load, usage } => {
                let own = row.ceilings(c);
                let c = &own;
                let secs = load.elapsed.as_secs_f64();
                let ratio = c
                    .value(row.goal.ceiling)
                    .filter(|v| *v > 0.0)
                    .map(|v| load.rps() / v);
                let p99 = load.percentile_us(99.0).map(|us| f64::from(us) / 1000.0);
                let cpu_ratio = usage
                    .server_cpu
                    .filter(|_| load.ok > 0)
                    .and_then(|cpu| c.cpu_ratio(&row.goal, cpu / load.ok as f64));
                let cpu_per_req = match (usage.server_cpu, load.ok) {
                    (Some(cpu), n) if n > 0 => format!("{:.0}", cpu * 1e6 / n as f64),
                    _ => "-".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    row.id,
                    row.name,
                    thousands(load.rps()),
                    ms(load.percentile_us(50.0)),
                    ms(load.percentile_us(99.0)),
                    ms(load.latencies_us.last().copied()),
                    load.errors,
                    of_ceilings(load.rps(), ratio, &ceiling_name, &row.goal, c),
                    c.value(row.goal.ceiling).map_or("-".to_owned(), thousands),
                    row.goal.text(),
                    verdict(&row.goal, ratio, load.rps(), p99, row.problem.as_deref()),
                    cpu_ratio_text(cpu_ratio, &row.goal),
                    cpu_per_req,
                    per_second(usage.server_cpu, secs),
                    per_second(usage.generator_cpu, secs),
                    per_second(usage.others_cpu(), secs),
                    usage
                        .peak_kib
                        .map_or("-".to_owned(), |k| format!("{:.1}", mib(k))),
                );
                if load.exhausted {
                    let _ = writeln!(
                        notes,
                        "- {}: ran out of prepared work after {:.1} s ({} requests).",
                        row.name,
                        secs,
                        load.ok + load.errors
                    );
                }
                if let Some(note) = &row.note {
                    let _ = writeln!(notes, "- {}: {note}", row.name);
                }
                let bound = (row.goal.ceiling == Ceiling::Http && row.goal.min_ratio.is_some())
                    .then(|| c.http_bound(&row.goal))
                    .flatten();
                if let (Some(bound), Some(r)) = (bound, ratio) {
                    let _ = writeln!(
                        notes,
                        "- {}: bound on this machine: with each request costing only the trivial request's CPU (server and load generator) plus {} {} signature(s), {:.0}% of HTTP; this run reached {:.0}% of that bound.",
                        row.name,
                        row.goal.signatures,
                        row.goal.sign_alg.as_str(),
                        bound * 100.0,
                        100.0 * r / bound
                    );
                }
                if let Some(e) = &load.first_error {
                    let _ = writeln!(
                        notes,
                        "- {}: first error: {}",
                        row.name,
                        e.replace('\n', " ")
                    );
                }
            }
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes);
    }
    out
}

/// What a DPoP proof adds to a request, read against one ES256
/// verification: for each row with a proof, its server CPU per request
/// minus that of the same request without one (same run), over the CPU of
/// one ES256 verification on one core (`KeySet::verify` on every core,
/// measured just before the row). Empty without such rows.
pub fn dpop_table(rows: &[Row], cores: usize) -> String {
    let mut out = String::new();
    let mut notes = String::new();
    for row in rows {
        let Some(check) = &row.dpop else { continue };
        let Some((with_us, with_rate)) = row.cpu_us_and_rate() else {
            continue;
        };
        let base = rows
            .iter()
            .find(|r| r.name == check.baseline)
            .and_then(Row::cpu_us_and_rate);
        let verify_us = check.es256_verify.cpu_us.filter(|v| *v > 0.0);
        let proof_us = check.proof_verify.cpu_us;
        let us = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.0}"));
        let (cost, by_rate, ratio) = match base {
            Some((base_us, base_rate)) => {
                let cost = with_us - base_us;
                // The machine's time per request: every core over the rate.
                let by_rate = cores as f64 * 1e6 * (1.0 / with_rate - 1.0 / base_rate);
                (Some(cost), Some(by_rate), verify_us.map(|v| cost / v))
            }
            None => (None, None, None),
        };
        if out.is_empty() {
            out.push_str(
                "| with a proof | server CPU µs/req | without (same run) | the proof's cost, server CPU µs/req | the same by rate, core-µs/req | one ES256 verify, CPU µs | one proof verify (the server's, key kept), CPU µs | cost ÷ one ES256 verify |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|\n",
            );
        }
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            row.name,
            with_us,
            base.map_or_else(
                || format!("- (no row {:?} in this run)", check.baseline),
                |(b, _)| format!("{b:.0}")
            ),
            us(cost),
            us(by_rate),
            us(verify_us),
            us(proof_us),
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
        );
        if check.signed_late > 0 {
            let _ = writeln!(
                notes,
                "- {}: the {} proofs signed ahead ran out; {} more were signed during the window, by the load generator.",
                row.name,
                thousands(check.pool as f64),
                thousands(check.signed_late as f64)
            );
        }
    }
    if out.is_empty() {
        return out;
    }
    out.push_str(
        "\n- *the proof's cost*: server CPU per request with a fresh ES256 proof minus the same request \
         without one; *by rate*: the same from the rates alone (cores × (1/rate with − 1/rate without)), \
         which also counts the load generator's share.\n\
         - *one ES256 verify*: `KeySet::verify` of an ES256 access token on every core for 1 s, measured \
         just before the row: the bench's CPU time over the verifications; *one proof verify*: the \
         server's own proof verification (header, key imported from its `jwk`, signature, \
         thumbprint) measured the same way. The \
         target: a proof check costs no more than one ES256 verification plus a replay-cache insert.\n",
    );
    out.push_str(&notes);
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1234567.6), "1,234,568");
    }

    #[test]
    fn verdicts_say_how_far_off() {
        let goal = Goal::new(Ceiling::Http).at_least(0.8);
        assert_eq!(goal.text(), "≥ 80% of HTTP");
        assert_eq!(
            Goal::new(Ceiling::Signing(Alg::ES256)).at_least(0.5).text(),
            "≥ 50% of ES256 signing"
        );
        assert_eq!(verdict(&goal, Some(0.9), 1.0, None, None), "met");
        assert_eq!(
            verdict(&goal, Some(0.4), 1.0, None, None),
            "**missed**: rate at 50% of target"
        );
        let goal = Goal::new(Ceiling::Http).at_least(0.5).p99_under_ms(5.0);
        assert_eq!(
            verdict(&goal, Some(0.6), 1.0, Some(10.0), None),
            "**missed**: p99 2.0× the limit"
        );
        let none = Goal::new(Ceiling::Http);
        assert_eq!(verdict(&none, Some(0.1), 1.0, None, None), "-");
        assert_eq!(
            verdict(&none, None, 1.0, None, Some("2 lost")),
            "**missed**: 2 lost"
        );
        let rate = Goal::new(Ceiling::Http).at_least_rps(2000.0);
        assert_eq!(verdict(&rate, None, 2500.0, None, None), "met");
        assert_eq!(
            verdict(&rate, None, 500.0, None, None),
            "**missed**: rate at 25% of target"
        );
    }

    #[test]
    fn the_http_bound_counts_the_trivial_request_and_the_signatures() {
        // 100,000 trivial requests cost 1 s of server and 1 s of generator
        // CPU: 20 µs each. One ES256 signature: 1/50,000 s = 20 µs.
        let http = LoadResult {
            ok: 100_000,
            errors: 0,
            elapsed: Duration::from_secs(1),
            latencies_us: vec![],
            exhausted: false,
            first_error: None,
        };
        let usage = Usage {
            server_cpu: Some(1.0),
            generator_cpu: Some(1.0),
            peak_kib: None,
            machine_cpu: None,
        };
        let es256 = SigningCeiling {
            alg: Alg::ES256,
            sign_one_thread: 50_000.0,
            sign_all_threads: 100_000.0,
            verify_all_threads: 0.0,
            threads: 2,
        };
        let c = Ceilings {
            rs256: None,
            es256: Some(es256),
            http: Some((http, usage)),
        };
        let one = Goal::new(Ceiling::Http).signs(1, Alg::ES256).at_least(0.5);
        assert!((c.http_bound(&one).unwrap() - 0.5).abs() < 1e-9);
        let two = Goal::new(Ceiling::Http).signs(2, Alg::ES256);
        assert!((c.http_bound(&two).unwrap() - 1.0 / 3.0).abs() < 1e-9);
        // Without the ceiling of that algorithm there is no bound.
        let rsa = Goal::new(Ceiling::Http).signs(1, Alg::RS256);
        assert_eq!(c.http_bound(&rsa), None);
        assert_eq!(c.http_bound(&Goal::new(Ceiling::Http)), None);
    }

    fn load(rps: u64) -> LoadResult {
        LoadResult {
            ok: rps,
            errors: 0,
            elapsed: Duration::from_secs(1),
            latencies_us: vec![100; 10],
            exhausted: false,
            first_error: None,
        }
    }

    #[test]
    fn a_scenario_is_read_against_the_ceiling_measured_just_before_it() {
        let c = Ceilings {
            rs256: None,
            es256: None,
            http: Some((load(100_000), Usage::default())),
        };
        let mut row = Row {
            id: "6",
            name: "JWKS".into(),
            goal: Goal::new(Ceiling::Http).at_least(0.8),
            outcome: Outcome::Measured {
                load: load(45_000),
                usage: Usage::default(),
            },
            note: None,
            problem: None,
            http_ceiling: Some((load(50_000), Usage::default())),
            signing_ceiling: None,
            dpop: None,
        };
        let table = scenarios_table(std::slice::from_ref(&row), &c);
        assert!(table.contains("| 90% of HTTP | 50,000 |"), "{table}");
        assert!(table.contains("| met |"), "{table}");
        // Without its own, the run's first measurement.
        row.http_ceiling = None;
        let table = scenarios_table(std::slice::from_ref(&row), &c);
        assert!(table.contains("| 45% of HTTP | 100,000 |"), "{table}");
        assert!(table.contains("**missed**"), "{table}");
        // A signing scenario, against its own signing measurement.
        let row = Row {
            id: "1",
            name: "client_credentials".into(),
            goal: Goal::new(Ceiling::Signing(Alg::RS256))
                .signs(1, Alg::RS256)
                .at_least(0.7),
            outcome: Outcome::Measured {
                load: load(3_000),
                usage: Usage::default(),
            },
            note: None,
            problem: None,
            http_ceiling: None,
            signing_ceiling: Some(SigningCeiling {
                alg: Alg::RS256,
                sign_one_thread: 2_000.0,
                sign_all_threads: 4_000.0,
                verify_all_threads: 0.0,
                threads: 2,
            }),
            dpop: None,
        };
        let table = scenarios_table(std::slice::from_ref(&row), &c);
        assert!(
            table.contains("| 75% of RS256 signing | 4,000 |"),
            "{table}"
        );
    }

    #[test]
    fn a_proofs_cost_is_read_against_one_es256_verification() {
        let measured = |cpu: f64| Outcome::Measured {
            load: load(1_000),
            usage: Usage {
                server_cpu: Some(cpu),
                ..Usage::default()
            },
        };
        let goal = Goal::new(Ceiling::Http);
        let mut without = Row::unavailable("1", "client_credentials (ES256 JWT)", goal, "");
        without.outcome = measured(0.05);
        let mut with = Row::unavailable("1", "client_credentials + DPoP (ES256 JWT)", goal, "");
        with.outcome = measured(0.5);
        with.dpop = Some(DpopCheck {
            baseline: without.name.clone(),
            es256_verify: OpCost {
                per_second: 16_000.0,
                cpu_us: Some(125.0),
            },
            proof_verify: OpCost {
                per_second: 5_000.0,
                cpu_us: Some(400.0),
            },
            pool: 80_000,
            signed_late: 0,
        });
        // 500 µs with a proof, 50 without: 450 µs, 3.6 verifications.
        let table = dpop_table(&[without, with], 2);
        assert!(
            table.contains(
                "| client_credentials + DPoP (ES256 JWT) | 500 | 50 | 450 | 0 | 125 | 400 | 3.60 |"
            ),
            "{table}"
        );
        // Without its baseline in the run, no cost is claimed.
        let mut alone = Row::unavailable("1", "userinfo + DPoP (RS256 JWT)", goal, "");
        alone.outcome = measured(0.5);
        alone.dpop = Some(DpopCheck {
            baseline: "userinfo (RS256 JWT)".into(),
            es256_verify: OpCost {
                per_second: 16_000.0,
                cpu_us: Some(125.0),
            },
            proof_verify: OpCost {
                per_second: 5_000.0,
                cpu_us: None,
            },
            pool: 1_000,
            signed_late: 7,
        });
        let table = dpop_table(&[alone], 2);
        assert!(table.contains("| - | - | 125 | - | - |"), "{table}");
        assert!(table.contains("7 more were signed"), "{table}");
        assert_eq!(dpop_table(&[], 2), "");
    }
}
