//! `latchkey`: the server and its operator commands.
//!
//! Exit status 0 on success; otherwise non-zero with a one-line reason on
//! standard error.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use latchkey::{build_core, system_clock, Application};
use latchkey_config::{Config, LogFormat};
use latchkey_core::admin::{ClientSettings, NewClient};
use latchkey_core::keys::KeyReport;
use latchkey_core::Latchkey;
use latchkey_domain::keys::{KeyState, SigningKeyRecord};
use latchkey_domain::{Client, User};
use serde_json::json;

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
}

#[derive(Subcommand)]
enum RegistrationTokenCommand {
    /// Create a token; it is printed once.
    Create {
        /// How long it stays valid: seconds, or a number with s, m, h or d
        /// (default 1d).
        #[arg(long, value_name = "D", default_value = "1d", value_parser = parse_duration)]
        expires_in: i64,
        /// How many clients it may register.
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: i64,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a token by id.
    Delete {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Subcommand)]
enum AdminTokenCommand {
    /// Create a token for the admin API; it is printed once.
    Create {
        /// What the token is for, shown in listings.
        #[arg(long, default_value = "admin")]
        name: String,
        /// How long it stays valid: seconds, or a number with s, m, h or d
        /// (default 90d, at most 365d).
        #[arg(long, value_name = "D", default_value = "90d", value_parser = parse_duration)]
        expires_in: i64,
        #[arg(long)]
        json: bool,
    },
    /// List admin tokens (never their values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an admin token by id.
    Delete {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `3600`, `90s`, `30m`, `12h`, `7d`.
fn parse_duration(s: &str) -> Result<i64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 3600, 30m, 12h, 7d)"))?;
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit)
        .filter(|d| *d > 0)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List every signing key and where it is in its lifecycle.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rotate now: each published next key starts signing, and a new next
    /// key is published.
    Rotate {
        #[arg(long)]
        json: bool,
    },
    /// Emergency: withdraw a (leaked) key from the JWKS; every token it
    /// signed is refused from then on.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        #[arg(allow_hyphen_values = true)]
        username: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (ends all of their sessions).
    Passwd {
        #[arg(allow_hyphen_values = true)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user: their sessions end and every token of theirs dies.
    Disable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
    /// Delete a user.
    Delete {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
}

#[derive(Args)]
struct ClientAdd {
    /// Display name shown on the consent page.
    #[arg(long)]
    name: String,
    /// A redirect URI, matched byte for byte (repeat for several).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE only).
    #[arg(long)]
    public: bool,
    /// authorization_code (default), client_credentials (repeat for several).
    #[arg(long = "grant-type", value_name = "T")]
    grant_types: Vec<String>,
    /// Space-separated scopes the client may request (default "openid profile email").
    #[arg(long)]
    scope: Option<String>,
    /// client_secret_basic (default) or client_secret_post.
    #[arg(long)]
    auth_method: Option<String>,
    /// Where RP-initiated logout may return the browser (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// The client's ID-token algorithm (id_token_signed_response_alg),
    /// among the enabled `[keys] algorithms`; default RS256.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// A resource server: may introspect any token (other clients only
    /// their own).
    #[arg(long)]
    introspect: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Add(ClientAdd),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an operator's settings of a client.
    Update {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Whether it may introspect any token (a resource server).
        #[arg(long, value_name = "BOOL")]
        introspect: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client (every token it holds is revoked).
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Issue a new secret; the old one keeps working for
    /// `[registration] secret_grace` (default 24 h).
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
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
    init_tracing(&config, matches!(cli.command, Command::Serve));
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
    match runtime.block_on(run(cli.command, config)) {
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

fn init_tracing(config: &Config, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("LATCHKEY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.logging.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = latchkey::open_store(&config).await?;
            store.migrate().await.context("migration failed")?;
            println!("database is up to date");
            Ok(())
        }
        Command::User(cmd) => user(cmd, &build_core(&config, system_clock()).await?).await,
        Command::Client(cmd) => client(cmd, &build_core(&config, system_clock()).await?).await,
        Command::Keys(cmd) => keys(cmd, &build_core(&config, system_clock()).await?).await,
        Command::RegistrationToken(cmd) => {
            registration_token(cmd, &build_core(&config, system_clock()).await?).await
        }
        Command::AdminToken(cmd) => {
            admin_token(cmd, &build_core(&config, system_clock()).await?).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config, system_clock()).await?;
    let issuer = app.issuer().to_owned();
    eprintln!(
        "Latchkey is listening on port {port}; issuer {issuer}\n\
         Discovery: {issuer}/.well-known/openid-configuration\n\
         Next, in another terminal:\n  \
         echo 'a-long-password' | cargo run -q -- user add alice --password-stdin\n  \
         cargo run -q -- client add --name 'My app' --redirect-uri http://127.0.0.1:3000/callback --json",
        port = app.port
    );
    app.run().await.context("server failed")
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        rpassword::prompt_password("Password: ").context("cannot read the password")?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "email": u.email,
        "disabled": u.disabled,
        "created_at": u.created_at,
    })
}

fn client_json(c: &Client, secret: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "client_id": c.id.as_str(),
        "client_name": c.name,
        "redirect_uris": c.redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
        "public": c.is_public(),
        "introspect": c.introspect,
        "created_at": c.created_at,
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

async fn user(cmd: UserCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            name,
            email,
            json,
            ..
        } => {
            let password = read_password()?;
            let u = core.create_user(&username, password, name, email).await?;
            if json {
                println!("{}", user_json(&u));
            } else {
                println!("created user {} (sub {})", u.username, u.id);
            }
        }
        UserCommand::List { json } => {
            let users = core.list_users().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::from(users.iter().map(user_json).collect::<Vec<_>>())
                );
            } else {
                for u in users {
                    println!(
                        "{}\t{}{}",
                        u.id,
                        u.username,
                        if u.disabled { "\t(disabled)" } else { "" }
                    );
                }
            }
        }
        UserCommand::Passwd { username, .. } => {
            let password = read_password()?;
            core.set_user_password(&username, password).await?;
            println!("password changed for {username}; all of their sessions were ended");
        }
        UserCommand::Disable { username } => {
            core.set_user_disabled(&username, true).await?;
            println!("disabled {username}; all of their sessions and tokens were revoked");
        }
        UserCommand::Enable { username } => {
            core.set_user_disabled(&username, false).await?;
            println!("enabled {username}");
        }
        UserCommand::Delete { username } => {
            core.delete_user(&username).await?;
            println!("deleted user {username}");
        }
    }
    Ok(())
}

async fn client(cmd: ClientCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Add(a) => {
            let (c, secret) = core
                .create_client(NewClient {
                    name: a.name,
                    redirect_uris: a.redirect_uris,
                    public: a.public,
                    grant_types: a.grant_types,
                    scope: a.scope,
                    auth_method: a.auth_method,
                    id_token_alg: a.id_token_alg,
                    post_logout_redirect_uris: a.post_logout_redirect_uris,
                    backchannel_logout_uri: a.backchannel_logout_uri,
                    introspect: a.introspect,
                })
                .await?;
            if a.json {
                println!("{}", client_json(&c, secret.as_deref()));
            } else {
                println!("client_id:     {}", c.id);
                if let Some(s) = secret {
                    println!("client_secret: {s}\n(shown once: store it now)");
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = core.list_clients().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::from(
                        clients
                            .iter()
                            .map(|c| client_json(c, None))
                            .collect::<Vec<_>>()
                    )
                );
            } else {
                for c in clients {
                    println!("{}\t{}\t{}", c.id, c.auth_method.as_str(), c.name);
                }
            }
        }
        ClientCommand::Show { client_id, json } => {
            let c = core.show_client(&client_id).await?;
            if json {
                println!("{}", client_json(&c, None));
            } else {
                println!("{}", serde_json::to_string_pretty(&client_json(&c, None))?);
            }
        }
        ClientCommand::Update {
            client_id,
            introspect,
            json,
        } => {
            let c = core
                .update_client_settings(&client_id, &ClientSettings { introspect })
                .await?;
            if json {
                println!("{}", client_json(&c, None));
            } else {
                println!("updated client {}", c.id);
            }
        }
        ClientCommand::Delete { client_id } => {
            core.delete_client(&client_id).await?;
            println!("deleted client {client_id}; its tokens are revoked");
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let (c, secret) = core.rotate_client_secret(&client_id).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "client_id": c.id.as_str(),
                        "client_secret": secret,
                        "client_secret_expires_at": c.secret_expires_at.unwrap_or(0),
                        "previous_secret_expires_at": c.previous_secret_expires_at,
                    })
                );
            } else {
                println!("client_id:     {}", c.id);
                println!("client_secret: {secret}\n(shown once: store it now)");
                if let Some(t) = c.previous_secret_expires_at {
                    println!("the previous secret keeps working until {}", time(t));
                }
            }
        }
    }
    Ok(())
}

fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

fn key_json(k: &SigningKeyRecord) -> serde_json::Value {
    json!({
        "kid": k.kid,
        "alg": k.alg,
        "state": k.state.as_str(),
        "created_at": k.created_at,
        "activates_at": k.activates_at,
        "retired_at": k.retired_at,
        "removed_at": k.removed_at,
        "public_jwk": serde_json::from_str::<serde_json::Value>(&k.public_jwk).ok(),
    })
}

fn report_json(r: &KeyReport) -> serde_json::Value {
    json!({
        "created": r.created.iter().map(|(kid, alg, at)| json!({
            "kid": kid, "alg": alg.as_str(), "activates_at": at,
        })).collect::<Vec<_>>(),
        "promoted": r.promoted,
        "retired": r.retired,
        "removed": r.removed,
        "revoked": r.revoked,
    })
}

fn print_report(r: &KeyReport, check_interval: i64) {
    for kid in &r.revoked {
        println!("revoked {kid}: it is no longer published, and tokens it signed are refused");
    }
    for kid in &r.promoted {
        println!("{kid} now signs");
    }
    for kid in &r.retired {
        println!("{kid} retired (still published until its tokens expire)");
    }
    for kid in &r.removed {
        println!("{kid} removed from the JWKS");
    }
    for (kid, alg, at) in &r.created {
        println!("published {kid} ({alg}), signs from {}", time(*at));
    }
    if r.changed() {
        println!("running servers pick this up within {check_interval} s");
    } else {
        println!("nothing to change");
    }
}

async fn keys(cmd: KeysCommand, core: &Latchkey) -> anyhow::Result<()> {
    let check_interval = core.settings.keys.check_interval;
    match cmd {
        KeysCommand::List { json } => {
            let keys = core.list_keys().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::from(keys.iter().map(key_json).collect::<Vec<_>>())
                );
            } else {
                for k in keys {
                    let since = match k.state {
                        KeyState::Next => format!("signs from {}", time(k.activates_at)),
                        KeyState::Current => format!("signing since {}", time(k.activates_at)),
                        KeyState::Retired => {
                            format!("retired {}", time(k.retired_at.unwrap_or_default()))
                        }
                        KeyState::Removed | KeyState::Revoked => {
                            format!("unpublished {}", time(k.removed_at.unwrap_or_default()))
                        }
                    };
                    println!("{}\t{}\t{}\t{since}", k.kid, k.alg, k.state.as_str());
                }
            }
        }
        KeysCommand::Rotate { json } => {
            let report = core.rotate_keys().await?;
            if json {
                println!("{}", report_json(&report));
            } else {
                print_report(&report, check_interval);
            }
        }
        KeysCommand::Revoke { kid } => {
            let report = core.revoke_key(&kid).await?;
            print_report(&report, check_interval);
        }
    }
    Ok(())
}

async fn registration_token(cmd: RegistrationTokenCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        RegistrationTokenCommand::Create {
            expires_in,
            uses,
            json,
        } => {
            let t = core.create_registration_token(expires_in, uses).await?;
            if json {
                println!(
                    "{}",
                    json!({ "token": t.token, "expires_at": t.record.expires_at })
                );
            } else {
                println!("token: {}", t.token);
                println!(
                    "(shown once) registers {uses} client(s) until {}; send it as\n  Authorization: Bearer <token>\nto POST /register",
                    time(t.record.expires_at)
                );
            }
        }
        RegistrationTokenCommand::List { json } => {
            let tokens = core.list_registration_tokens().await?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "id": t.id,
                            "created_at": t.created_at,
                            "expires_at": t.expires_at,
                            "uses_left": t.uses_left,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::from(list));
            } else {
                for t in tokens {
                    println!(
                        "{}\t{} use(s) left\texpires {}",
                        t.id,
                        t.uses_left,
                        time(t.expires_at)
                    );
                }
            }
        }
        RegistrationTokenCommand::Delete { id } => {
            core.delete_registration_token(&id).await?;
            println!("deleted registration token {id}");
        }
    }
    Ok(())
}

async fn admin_token(cmd: AdminTokenCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        AdminTokenCommand::Create {
            name,
            expires_in,
            json,
        } => {
            let t = core.create_admin_token(&name, Some(expires_in)).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "token": t.token,
                        "id": t.record.id,
                        "name": t.record.name,
                        "expires_at": t.record.expires_at,
                    })
                );
            } else {
                println!("token: {}", t.token);
                println!("(shown once) send it as Authorization: Bearer <token> to /admin");
                println!("valid until {}", time(t.record.expires_at));
            }
        }
        AdminTokenCommand::List { json } => {
            let tokens = core.list_admin_tokens().await?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "id": t.id,
                            "name": t.name,
                            "created_at": t.created_at,
                            "expires_at": t.expires_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::from(list));
            } else {
                for t in tokens {
                    println!(
                        "{}\t{}\tcreated {}\texpires {}",
                        t.id,
                        t.name,
                        time(t.created_at),
                        time(t.expires_at)
                    );
                }
            }
        }
        AdminTokenCommand::Delete { id } => {
            core.delete_admin_token(&id).await?;
            println!("deleted admin token {id}");
        }
    }
    Ok(())
}
