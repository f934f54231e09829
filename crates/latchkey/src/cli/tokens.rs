//! `latchkey registration-token ...` and `latchkey admin-token ...`: the
//! bearer tokens that open dynamic registration and the admin API.

use clap::Subcommand;
use latchkey_core::admin::Actor;
use latchkey_core::Latchkey;
use serde_json::json;

use super::{parse_duration, print_list, time};

#[derive(Subcommand)]
pub enum RegistrationTokenCommand {
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
pub enum AdminTokenCommand {
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

pub async fn registration_token(
    cmd: RegistrationTokenCommand,
    core: &Latchkey,
) -> anyhow::Result<()> {
    match cmd {
        RegistrationTokenCommand::Create {
            expires_in,
            uses,
            json,
        } => {
            let t = core
                .admin(Actor::CommandLine)
                .tokens()
                .create_registration_token(expires_in, uses)
                .await?;
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
            let tokens = core
                .admin(Actor::CommandLine)
                .tokens()
                .list_registration_tokens()
                .await?;
            print_list(
                &tokens,
                json,
                |t| {
                    json!({
                        "id": t.id,
                        "created_at": t.created_at,
                        "expires_at": t.expires_at,
                        "uses_left": t.uses_left,
                    })
                },
                |t| {
                    let expires = time(t.expires_at);
                    format!("{}\t{} use(s) left\texpires {expires}", t.id, t.uses_left)
                },
            );
        }
        RegistrationTokenCommand::Delete { id } => {
            core.admin(Actor::CommandLine)
                .tokens()
                .delete_registration_token(&id)
                .await?;
            println!("deleted registration token {id}");
        }
    }
    Ok(())
}

pub async fn admin_token(cmd: AdminTokenCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        AdminTokenCommand::Create {
            name,
            expires_in,
            json,
        } => {
            let t = core
                .admin(Actor::CommandLine)
                .tokens()
                .create_admin_token(&name, Some(expires_in))
                .await?;
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
            let tokens = core
                .admin(Actor::CommandLine)
                .tokens()
                .list_admin_tokens()
                .await?;
            print_list(
                &tokens,
                json,
                |t| {
                    json!({
                        "id": t.id,
                        "name": t.name,
                        "created_at": t.created_at,
                        "expires_at": t.expires_at,
                    })
                },
                |t| {
                    let (created, expires) = (time(t.created_at), time(t.expires_at));
                    format!("{}\t{}\tcreated {created}\texpires {expires}", t.id, t.name)
                },
            );
        }
        AdminTokenCommand::Delete { id } => {
            core.admin(Actor::CommandLine)
                .tokens()
                .delete_admin_token(&id)
                .await?;
            println!("deleted admin token {id}");
        }
    }
    Ok(())
}
