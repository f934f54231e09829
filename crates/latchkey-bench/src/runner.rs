//! One benchmark run: the ceilings, then a real server set up through its
//! command line and loaded scenario by scenario (each in its own file under
//! `scenarios/`), then the peer if any, then the report.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use latchkey_domain::{OsRandom, Random};
use latchkey_keys::Alg;

use crate::load::{self, interrupted, LoadConfig, LoadResult, Workload, INTERRUPTED};
use crate::procfs::{self, ChildGuard};
use crate::report::{self, Ceiling, Ceilings, Goal, Outcome, Row, Usage};
use crate::scenarios::{self, Endpoint, Latchkey, PASSWORD};
use crate::server::{self, ServerSetup};
use crate::signing;
use crate::workloads::{Fixed, WebClient};

/// The options of `run`.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Seconds of load per scenario (1 to 120).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub duration: u64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connections: u64,
    /// Threads of the load generator.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub load_threads: u64,
    /// HTTP workers of the server and of the ceiling server (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Scenarios to run, comma-separated (default: all):
    /// client_credentials, authorization_code, refresh, introspection,
    /// userinfo, jwks, discovery, healthz, dpop (client_credentials and
    /// userinfo with DPoP proofs; on the ES256 server too when it runs).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Database of the server under test (default: a fresh SQLite file).
    /// Users and clients are added under fresh names, so a Postgres database
    /// can be reused between runs (with the same --kek-file).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The key-encryption key file of the server under test (default: a
    /// fresh one). A database keeps its signing keys between runs, sealed
    /// under the KEK of its first run: reuse one with the same file.
    #[arg(long, value_name = "FILE")]
    pub kek_file: Option<PathBuf>,
    /// Redis for the server under test (passed as LATCHKEY_REDIS_URL).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// The prefix of the server's Redis keys (passed as
    /// LATCHKEY_REDIS_PREFIX; the server's default otherwise), to keep a
    /// run's keys apart from another user's of the same Redis.
    #[arg(long, value_name = "PREFIX", requires = "redis_url")]
    pub redis_prefix: Option<String>,
    /// The latchkey binary (default: beside this one).
    #[arg(long, value_name = "PATH")]
    pub latchkey: Option<PathBuf>,
    /// Upper bound on authorization codes prepared for the code-exchange
    /// scenario (preparation also stops after --duration seconds).
    #[arg(long, default_value_t = 200_000)]
    pub max_codes: u64,
    /// Seconds per signing-ceiling measurement.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=30))]
    pub ceiling_seconds: u64,
    /// Also load this OpenID provider (its issuer URL; loopback, http only).
    #[arg(long, value_name = "ISSUER", requires_all = ["client_id", "client_secret"])]
    pub target: Option<String>,
    /// The peer's client_credentials client.
    #[arg(long, requires = "target")]
    pub client_id: Option<String>,
    #[arg(long, requires = "target")]
    pub client_secret: Option<String>,
    /// Extra form parameters for the peer's token request, e.g. `scope=api`.
    #[arg(long = "target-param", value_name = "K=V", requires = "target")]
    pub target_params: Vec<String>,
    /// The peer's process id, to report its memory like Latchkey's.
    #[arg(long, requires = "target")]
    pub target_pid: Option<u32>,
}

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// What every scenario measures through: the options and the machine.
pub(crate) struct Run {
    pub(crate) args: RunArgs,
    cores: usize,
    /// The ceiling server (address, pid), kept running for the HTTP
    /// ceiling measured before each scenario read against it.
    ceiling_server: Option<(SocketAddr, u32)>,
}

impl Run {
    /// Cores of the machine (every ceiling runs on this many threads).
    pub(crate) fn cores(&self) -> usize {
        self.cores
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.args
            .database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres"))
    }

    fn load_config(&self, addr: SocketAddr, duration: Duration) -> LoadConfig {
        LoadConfig {
            addr,
            connections: self.args.connections as usize,
            duration,
        }
    }

    /// Loads `addr` with `workload` for `--duration`, with the server's CPU
    /// and peak memory taken around it.
    async fn measure(
        &self,
        addr: SocketAddr,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
    ) -> anyhow::Result<(LoadResult, Usage)> {
        let duration = Duration::from_secs(self.args.duration);
        self.measure_for(addr, pid, workload, duration).await
    }

    /// The HTTP ceiling now, for up to 2 s; None without a ceiling server.
    async fn http_ceiling(&self) -> anyhow::Result<Option<(LoadResult, Usage)>> {
        let Some((addr, pid)) = self.ceiling_server else {
            return Ok(None);
        };
        let w = Arc::new(Fixed::get(&addr.to_string(), "/")?);
        let duration = Duration::from_secs(self.args.duration.min(2));
        Ok(Some(self.measure_for(addr, Some(pid), w, duration).await?))
    }

    async fn measure_for(
        &self,
        addr: SocketAddr,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
        duration: Duration,
    ) -> anyhow::Result<(LoadResult, Usage)> {
        if interrupted() {
            bail!("interrupted");
        }
        let peak_reset = pid.is_some_and(procfs::reset_peak);
        let server_before = pid.and_then(|p| procfs::cpu_seconds(Some(p)));
        let me_before = procfs::cpu_seconds(None);
        let all_before = procfs::machine_busy_seconds();
        let result = load::run(&self.load_config(addr, duration), workload).await?;
        let server_after = pid.and_then(|p| procfs::cpu_seconds(Some(p)));
        let me_after = procfs::cpu_seconds(None);
        let all_after = procfs::machine_busy_seconds();
        let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        let usage = Usage {
            server_cpu: diff(server_before, server_after),
            generator_cpu: diff(me_before, me_after),
            machine_cpu: diff(all_before, all_after),
            peak_kib: pid
                .filter(|_| peak_reset)
                .and_then(procfs::memory)
                .map(|m| m.hwm_kib),
        };
        Ok((result, usage))
    }

    /// One row: the ceilings it is read against, then `workload` on `ep`
    /// for `--duration`.
    pub(crate) async fn row(
        &self,
        id: &'static str,
        name: &str,
        goal: Goal,
        ep: &Endpoint,
        pid: Option<u32>,
        workload: Arc<dyn Workload>,
    ) -> anyhow::Result<Row> {
        let http_ceiling = if goal.ceiling == Ceiling::Http {
            self.http_ceiling().await?
        } else {
            None
        };
        let signs_with = match goal.ceiling {
            Ceiling::Signing(alg) => Some(alg),
            Ceiling::Http => (goal.signatures > 0).then_some(goal.sign_alg),
        };
        let signing_ceiling = match signs_with {
            Some(alg) => Some(signing::measure_signing(
                alg,
                self.cores,
                Duration::from_secs(1),
            )?),
            None => None,
        };
        eprintln!("bench: {name} ...");
        let (load, usage) = self.measure(ep.addr, pid, workload).await?;
        Ok(Row {
            id,
            name: name.to_owned(),
            goal,
            outcome: Outcome::Measured { load, usage },
            note: None,
            problem: None,
            http_ceiling,
            signing_ceiling,
            dpop: None,
        })
    }
}

/// Starts and sets up the server under test in `dir`.
fn start_latchkey(
    args: &RunArgs,
    dir: &std::path::Path,
) -> anyhow::Result<(ChildGuard, ServerSetup, u16)> {
    let binary = server::find_latchkey(args.latchkey.as_deref())?;
    let mut env: Vec<(String, String)> = vec![
        ("LATCHKEY_BIND".into(), "127.0.0.1:0".into()),
        // Rewritten by the server to the port it got.
        ("LATCHKEY_ISSUER".into(), "http://127.0.0.1:0".into()),
        (
            "LATCHKEY_KEK_FILE".into(),
            match &args.kek_file {
                Some(path) => std::path::absolute(path)?.display().to_string(),
                None => dir.join("kek").display().to_string(),
            },
        ),
        (
            "LATCHKEY_DATABASE_URL".into(),
            args.database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}/latchkey.db", dir.display())),
        ),
        // Codes are prepared in bulk before they are redeemed.
        ("LATCHKEY_TOKENS__CODE_TTL".into(), "600".into()),
    ];
    if let Some(redis) = &args.redis_url {
        env.push(("LATCHKEY_REDIS_URL".into(), redis.clone()));
    }
    if let Some(prefix) = &args.redis_prefix {
        env.push(("LATCHKEY_REDIS_PREFIX".into(), prefix.clone()));
    }
    if args.workers > 0 {
        env.push(("LATCHKEY_WORKERS".into(), args.workers.to_string()));
    }
    let setup = ServerSetup {
        binary,
        dir: dir.to_owned(),
        env,
    };
    let (guard, port) = setup.serve()?;
    Ok((guard, setup, port))
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    OsRandom.fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the benchmark and prints its report (Markdown) on stdout.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let selected: Vec<String> = if args.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        for s in &args.scenarios {
            if !scenarios::ALL.contains(&s.as_str()) {
                bail!(
                    "unknown scenario {s:?}; known: {}",
                    scenarios::ALL.join(", ")
                );
            }
        }
        args.scenarios.clone()
    };
    // Fail before measuring anything if the server cannot be found.
    server::find_latchkey(args.latchkey.as_deref())?;
    let (model, cores) = procfs::machine();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.load_threads as usize)
        .enable_all()
        .build()?;
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("bench: interrupted; stopping the servers");
            INTERRUPTED.store(true, Ordering::Relaxed);
        }
    });
    let mut run = Run {
        args,
        cores,
        ceiling_server: None,
    };
    let database = match &run.args.database_url {
        Some(url) if url.starts_with("postgres") => "PostgreSQL",
        Some(_) => "the given database",
        None => "SQLite (fresh file)",
    };
    println!(
        "# latchkey-bench\n\nMachine: {} cores, {model}; load average {} at the start. Load: {} connections, \
         {} load-generator threads, {} s per scenario, server workers {}, {database}{}.\n",
        run.cores,
        procfs::load_average(),
        run.args.connections,
        run.args.load_threads,
        run.args.duration,
        if run.args.workers == 0 { "one per core".to_owned() } else { run.args.workers.to_string() },
        if run.args.redis_url.is_some() { " + Redis" } else { "" },
    );

    // 1. Ceilings, each on an otherwise idle machine.
    let secs = Duration::from_secs(run.args.ceiling_seconds);
    eprintln!("bench: signing ceilings ...");
    let rs256 = signing::measure(Alg::RS256, run.cores, secs)?;
    let es256 = signing::measure(Alg::ES256, run.cores, secs)?;
    if interrupted() {
        bail!("interrupted");
    }
    eprintln!("bench: HTTP ceiling ...");
    // Kept running (idle between measurements) until the run ends.
    let (ceiling_server, addr) = server::start_ceiling_server(run.args.workers)?;
    let http = {
        let pid = ceiling_server.pid();
        let w = Arc::new(Fixed::get(&addr.to_string(), "/")?);
        let measured = runtime.block_on(run.measure(addr, Some(pid), w))?;
        run.ceiling_server = Some((addr, pid));
        measured
    };
    let ceilings = Ceilings {
        rs256: Some(rs256),
        es256: Some(es256),
        http: Some(http),
    };

    // 2. The server under test, set up with its own command line.
    let dir = tempfile::Builder::new()
        .prefix("latchkey-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    eprintln!(
        "bench: starting latchkey serve in {} ...",
        dir.path().display()
    );
    let (guard, setup, port) = start_latchkey(&run.args, dir.path())?;
    let suffix = random_suffix();
    let username = format!("bench-{suffix}");
    setup.cli(
        &["user", "add", &username, "--password-stdin"],
        Some(PASSWORD),
    )?;
    let machine_name = format!("bench machine {suffix}");
    let mut machine_args = vec![
        "--name",
        &machine_name,
        "--grant-type",
        "client_credentials",
        "--scope",
        "api:read api:write",
    ];
    // The machine client is also the resource server that introspects the
    // web client's tokens, which needs an operator's permission.
    if setup.client_add_takes("--introspect") {
        machine_args.push("--introspect");
    }
    let machine = setup.add_client(&machine_args)?;
    let base = format!("http://127.0.0.1:{port}");
    let discovery = runtime.block_on(scenarios::get_json(&format!(
        "{base}/.well-known/openid-configuration"
    )))?;
    let web_name = format!("bench web {suffix}");
    let mut web_args = vec![
        "--name",
        &web_name,
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "openid profile email",
    ];
    if scenarios::offers_refresh(&discovery) {
        web_args.extend([
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ]);
    }
    let (web_id, web_secret) = setup.add_client(&web_args)?;
    // Idle: started, set up, nothing asked of it for a moment.
    std::thread::sleep(Duration::from_secs(1));
    let idle = procfs::memory(guard.pid());
    let mut lk = Latchkey {
        pid: guard.pid(),
        host: format!("127.0.0.1:{port}"),
        addr: SocketAddr::from((IpAddr::from([127, 0, 0, 1]), port)),
        base,
        discovery,
        machine,
        web: WebClient {
            id: web_id,
            secret: web_secret,
            redirect_uri: REDIRECT_URI.to_owned(),
        },
        username,
        seed: {
            let mut s = [0u8; 32];
            OsRandom.fill(&mut s);
            s
        },
        browser: None,
    };

    let mut rows = Vec::new();
    let mut guard = guard;
    for name in &selected {
        rows.extend(runtime.block_on(scenarios::run_one(name, &run, &mut lk))?);
        if let Some(status) = guard.exited() {
            bail!(
                "latchkey serve exited ({status}) during {name}; its last words:\n{}",
                guard.stderr_tail()
            );
        }
    }
    let after = procfs::memory(guard.pid());
    let propagation = if selected.iter().any(|s| s == "introspection") {
        runtime.block_on(scenarios::revocation_propagation(&run, &setup, &mut lk))?
    } else {
        String::new()
    };
    drop(guard);
    let mut es256_idle = None;
    let with_dpop = selected.iter().any(|s| s == "dpop");
    if with_dpop || selected.iter().any(|s| s == "client_credentials") {
        let with_refresh = selected.iter().any(|s| s == "refresh");
        let (es_rows, idle) = runtime.block_on(scenarios::es256_server(
            &run,
            &setup,
            &mut lk,
            with_refresh,
            with_dpop,
        ))?;
        es256_idle = idle;
        // Each beside its RS256 row.
        for row in es_rows {
            let kind = row.name.split(' ').next().unwrap_or_default().to_owned();
            let at = rows
                .iter()
                .rposition(|r| r.name.split(' ').next() == Some(kind.as_str()))
                .map_or(rows.len(), |i| i + 1);
            rows.insert(at, row);
        }
    }
    drop(dir);

    // 3. The peer, if any, with the same generator.
    rows.extend(runtime.block_on(scenarios::peer(&run))?);
    drop(ceiling_server);

    println!(
        "## Ceilings (measured in this run)\n\n{}",
        report::ceilings_table(&ceilings)
    );
    println!(
        "## Scenarios\n\n{}",
        report::scenarios_table(&rows, &ceilings)
    );
    let dpop = report::dpop_table(&rows, run.cores);
    if !dpop.is_empty() {
        println!("## The DPoP check\n\n{dpop}");
    }
    let peak = rows
        .iter()
        .filter(|r| !r.id.starts_with("peer"))
        .filter_map(|r| match &r.outcome {
            Outcome::Measured { usage, .. } => usage.peak_kib,
            Outcome::Unavailable(_) => None,
        })
        .max();
    let verdict = |kib: Option<u64>, limit_mib: f64| match kib {
        Some(k) if report::mib(k) < limit_mib => {
            format!("{:.1} MiB (target < {limit_mib} MiB: met)", report::mib(k))
        }
        Some(k) => format!(
            "{:.1} MiB (target < {limit_mib} MiB: **missed** by {:.1} MiB)",
            report::mib(k),
            report::mib(k) - limit_mib
        ),
        None => "not measured".to_owned(),
    };
    print!("{propagation}");
    println!(
        "## Memory of latchkey serve\n\n- idle (after start and setup): {}\n- peak under load (highest per-scenario VmHWM): {}\n- resident after its scenarios: {}\n{}\nLoad average at the end: {}.",
        verdict(idle.map(|m| m.rss_kib), 50.0),
        verdict(peak, 150.0),
        after.map_or("-".to_owned(), |m| format!("{:.1} MiB", report::mib(m.rss_kib))),
        es256_idle.map_or(String::new(), |m| format!(
            "- idle, the second (ES256) server: {}\n",
            verdict(Some(m.rss_kib), 50.0)
        )),
        procfs::load_average(),
    );
    Ok(())
}
