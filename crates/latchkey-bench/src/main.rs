//! The `latchkey-bench` command line; see the library for what it does.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey_bench::runner::{self, RunArgs};
use latchkey_bench::server;

#[derive(Parser)]
#[command(
    name = "latchkey-bench",
    about = "Load-test Latchkey (and optionally a peer) against this machine's ceilings",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark (the default).
    Run(Box<RunArgs>),
    /// The HTTP ceiling: a trivial actix-web handler (started by `run`).
    CeilingServer {
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Worker threads (0: one per core, like Latchkey).
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::CeilingServer { port, workers }) => server::ceiling_server(port, workers),
        Some(Command::Run(args)) => runner::run(*args),
        None => runner::run(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
