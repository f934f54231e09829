//! The processes under test: a real `latchkey serve` in a fresh directory,
//! set up with the real command line, and the ceiling server (this binary's
//! `ceiling-server` subcommand).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use crate::procfs::{drain_lines, ChildGuard};

/// How long a server may take to start listening (the first start generates
/// an RSA key and migrates the database).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the `latchkey` binary is: beside this one, as cargo builds them.
pub fn find_latchkey(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let me = std::env::current_exe().context("cannot locate the bench executable")?;
    let dir = me
        .parent()
        .context("the bench executable has no directory")?;
    let candidate = dir.join("latchkey");
    if candidate.is_file() {
        return Ok(candidate);
    }
    bail!(
        "no latchkey binary at {}; build it first with `cargo build --release -p latchkey` \
         (or give its path with --latchkey)",
        candidate.display()
    )
}

/// How the server under test is configured: the environment it and its
/// command line share, and the directory both run in.
pub struct ServerSetup {
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl ServerSetup {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(&self.dir);
        // Only the settings the bench chose: nothing inherited from the shell.
        for (key, _) in std::env::vars() {
            if key.starts_with("LATCHKEY_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `latchkey ARGS`, feeding `stdin`; returns standard output.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(text) = stdin {
                pipe.write_all(text.as_bytes())?;
                pipe.write_all(b"\n")?;
            }
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "`latchkey {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether this build's `client add` takes `flag` (the bench also
    /// loads builds from before a flag existed).
    pub fn client_add_takes(&self, flag: &str) -> bool {
        self.cli(&["client", "add", "--help"], None)
            .is_ok_and(|help| help.contains(flag))
    }

    /// Runs `latchkey client add ARGS --json`; returns (client_id, secret).
    pub fn add_client(&self, args: &[&str]) -> anyhow::Result<(String, String)> {
        let mut all = vec!["client", "add"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.cli(&all, None)?;
        let v: Value = serde_json::from_str(out.trim())
            .with_context(|| format!("`latchkey client add --json` printed {out:?}"))?;
        let field = |name: &str| {
            v[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("`latchkey client add --json` gave no {name}: {v}"))
        };
        Ok((field("client_id")?, field("client_secret")?))
    }

    /// Starts `latchkey serve` on a random loopback port; returns the guard
    /// and the port once the server answers `/healthz`.
    pub fn serve(&self) -> anyhow::Result<(ChildGuard, u16)> {
        let mut child = self
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stderr = child.stderr.take();
        let mut guard = ChildGuard::new("latchkey serve", child);
        let (tx, rx) = mpsc::channel();
        if let Some(stderr) = stderr {
            // `serve` announces "Latchkey is listening on port N; issuer ...".
            let tail = drain_lines(stderr, 40, move |line| {
                if let Some(port) = line
                    .split_once("listening on port ")
                    .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|p| p.parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            });
            guard.set_stderr_tail(tail);
        }
        let port = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            anyhow!(
                "latchkey serve did not report a port within {START_TIMEOUT:?}; its last words:\n{}",
                guard.stderr_tail()
            )
        })?;
        wait_until_healthy(&mut guard, port)?;
        Ok((guard, port))
    }
}

/// Polls `GET /healthz` until it answers 200 (bounded).
fn wait_until_healthy(guard: &mut ChildGuard, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = guard.exited() {
            bail!("latchkey serve exited ({status}):\n{}", guard.stderr_tail());
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if s.write_all(request.as_bytes()).is_ok() {
                let mut line = String::new();
                if BufReader::new(&s).read_line(&mut line).is_ok() && line.contains(" 200 ") {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("latchkey serve did not become healthy within {START_TIMEOUT:?}")
}

/// Starts this binary's `ceiling-server` with `workers` workers (0: one per
/// core, as for Latchkey); returns the guard and its address.
pub fn start_ceiling_server(workers: usize) -> anyhow::Result<(ChildGuard, SocketAddr)> {
    let me = std::env::current_exe().context("cannot locate the bench executable")?;
    let mut child = Command::new(me)
        .args(["ceiling-server", "--port", "0", "--workers"])
        .arg(workers.to_string())
        // Its standard input is its lifeline: it exits when the bench does.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the ceiling server")?;
    let stdout = child.stdout.take();
    let guard = ChildGuard::new("ceiling server", child);
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = stdout {
        drain_lines(stdout, 4, move |line| {
            if let Ok(port) = line.trim().parse::<u16>() {
                let _ = tx.send(port);
            }
        });
    }
    let port = rx
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| anyhow!("the ceiling server did not report its port"))?;
    Ok((guard, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// The `ceiling-server` subcommand: the trivial handler, on the same
/// actix-web (version, features, worker model) as Latchkey. It prints its
/// port, then serves until its standard input closes.
pub fn ceiling_server(port: u16, workers: usize) -> anyhow::Result<()> {
    use actix_web::{web, App, HttpResponse, HttpServer};

    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    actix_web::rt::System::new().block_on(async move {
        let mut server = HttpServer::new(|| {
            App::new().route(
                "/",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(r#"{"status":"ok"}"#)
                }),
            )
        })
        .bind(("127.0.0.1", port))?;
        if workers > 0 {
            server = server.workers(workers);
        }
        let bound = server.addrs().first().map(|a| a.port()).unwrap_or(port);
        println!("{bound}");
        std::io::stdout().flush()?;
        server.run().await?;
        Ok(())
    })
}
