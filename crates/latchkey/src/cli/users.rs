//! `latchkey user ...`: accounts, managed from the operator's terminal.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::Subcommand;
use latchkey_core::Latchkey;
use latchkey_domain::User;
use serde_json::json;

use super::print_list;

#[derive(Subcommand)]
pub enum UserCommand {
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

pub async fn run(cmd: UserCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            name,
            email,
            json,
            ..
        } => {
            let password = read_password()?;
            let u = core
                .admin()
                .users()
                .create(&username, password, name, email)
                .await?;
            if json {
                println!("{}", user_json(&u));
            } else {
                println!("created user {} (sub {})", u.username, u.id);
            }
        }
        UserCommand::List { json } => {
            let users = core.admin().users().list().await?;
            print_list(&users, json, user_json, |u| {
                let disabled = if u.disabled { "\t(disabled)" } else { "" };
                format!("{}\t{}{disabled}", u.id, u.username)
            });
        }
        UserCommand::Passwd { username, .. } => {
            let password = read_password()?;
            core.admin()
                .users()
                .set_password(&username, password)
                .await?;
            println!("password changed for {username}; all of their sessions were ended");
        }
        UserCommand::Disable { username } => {
            core.admin().users().set_disabled(&username, true).await?;
            println!("disabled {username}; all of their sessions and tokens were revoked");
        }
        UserCommand::Enable { username } => {
            core.admin().users().set_disabled(&username, false).await?;
            println!("enabled {username}");
        }
        UserCommand::Delete { username } => {
            core.admin().users().delete(&username).await?;
            println!("deleted user {username}");
        }
    }
    Ok(())
}
