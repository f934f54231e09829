//! `latchkey`: the server and its operator commands. This file parses the
//! command line and dispatches; each command group lives in `cli/`.
//!
//! Exit status 0 on success; otherwise non-zero with a one-line reason on
//! standard error.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::clients::ClientCommand;
use cli::keys::KeysCommand;
use cli::tokens::{AdminTokenCommand, RegistrationTokenCommand};
use cli::users::UserCommand;
use latchkey_config::Config;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "An OAuth 2.0 / OpenID Connect authorization server"
)]
struct Cli {
    /// TOML configuration file (LATCHKEY_* environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage clients (relying parties and machine clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys (rotation, emergency revocation).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Initial access tokens that open dynamic registration (POST /register).
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
    /// Tokens for the admin API (/admin).
    #[command(subcommand)]
    AdminToken(AdminTokenCommand),
    /// Read the audit log, newest first (at most 200 events).
    Audit(cli::audit::AuditArgs),
    /// Write a consistent copy of the SQLite database while the server runs.
    Backup {
        /// The file to write (it must not exist).
        path: PathBuf,
    },
    /// Put a backup made by `latchkey backup` in place of the SQLite
    /// database (stop the server first).
    Restore {
        /// The backup file.
        path: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::from(2);
        }
    };
    let exporter = match cli::init_tracing(&config, matches!(cli.command, Command::Serve)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("latchkey: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchkey: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command, config));
    drop(runtime);
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined.
            let msg = e
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("latchkey: {}", msg.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => cli::serve::serve(config).await,
        Command::Migrate => cli::serve::migrate(&config).await,
        Command::Backup { path } => cli::backup::backup(&config, &path).await,
        Command::Restore { path, force } => cli::backup::restore(&config, &path, force).await,
        Command::User(cmd) => cli::users::run(cmd, &cli::core(&config).await?).await,
        Command::Client(cmd) => cli::clients::run(cmd, &cli::core(&config).await?).await,
        Command::Keys(cmd) => cli::keys::run(cmd, &cli::core(&config).await?).await,
        Command::RegistrationToken(cmd) => {
            cli::tokens::registration_token(cmd, &cli::core(&config).await?).await
        }
        Command::AdminToken(cmd) => cli::tokens::admin_token(cmd, &cli::core(&config).await?).await,
        Command::Audit(args) => cli::audit::run(args, &cli::core(&config).await?).await,
    }
}
