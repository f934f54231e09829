//! `latchkey user ...`: accounts, managed from the operator's terminal.

use latchkey_core::admin::Actor;
use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use latchkey_core::admin::UserChanges;
use latchkey_core::Latchkey;
use latchkey_domain::{Role, User};
use latchkey_protocol::user_claims::UserClaim;
use serde_json::{json, Map, Value};

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
        #[command(flatten)]
        claims: ClaimArgs,
        /// `admin` opens the console under /admin (with a second factor).
        #[arg(long, value_parser = parse_role, default_value = "user", value_name = "user|admin")]
        role: Role,
        #[arg(long)]
        json: bool,
    },
    /// Change a user's claims, groups or role; what is not named stays as
    /// it is.
    Update {
        #[arg(allow_hyphen_values = true)]
        username: String,
        #[command(flatten)]
        claims: ClaimArgs,
        /// Taking the admin role away ends the user's sessions.
        #[arg(long, value_parser = parse_role, value_name = "user|admin")]
        role: Option<Role>,
        #[arg(long)]
        json: bool,
    },
    /// Show a user and their claims.
    Show {
        #[arg(allow_hyphen_values = true)]
        username: String,
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
    /// A user's second factors.
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Subcommand)]
pub enum MfaCommand {
    /// Remove every second factor of a user (authenticator app, recovery
    /// codes, passkeys) and end their sessions: for a user who lost their
    /// devices. They sign in with their password and set up again.
    Reset {
        #[arg(allow_hyphen_values = true)]
        username: String,
    },
}

/// A user's claims (OIDC Core §5.1) and groups, as `user add` and
/// `user update` take them.
#[derive(Args)]
pub struct ClaimArgs {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    given_name: Option<String>,
    #[arg(long)]
    family_name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// The e-mail address is verified (`--email-verified` alone means true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    email_verified: Option<bool>,
    /// E.164, e.g. +441234567890.
    #[arg(long)]
    phone_number: Option<String>,
    /// A group the user is in (repeat for several; replaces the groups).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Any other standard claim: `--claim locale=en-GB`,
    /// `--claim address='{"locality":"London","country":"GB"}'`.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
}

impl ClaimArgs {
    fn changes(self) -> anyhow::Result<UserChanges> {
        let mut claims = Map::new();
        for arg in &self.claims {
            let Some((name, text)) = arg.split_once('=') else {
                bail!("--claim {arg:?}: expected NAME=VALUE");
            };
            let claim = UserClaim::parse(name).map_err(|e| anyhow::anyhow!("--claim: {e}"))?;
            claims.insert(name.to_owned(), claim.value_from_text(text)?);
        }
        for (claim, value) in [
            (UserClaim::Name, self.name.map(Value::String)),
            (UserClaim::GivenName, self.given_name.map(Value::String)),
            (UserClaim::FamilyName, self.family_name.map(Value::String)),
            (UserClaim::Email, self.email.map(Value::String)),
            (
                UserClaim::EmailVerified,
                self.email_verified.map(Value::Bool),
            ),
            (UserClaim::PhoneNumber, self.phone_number.map(Value::String)),
        ] {
            if let Some(v) = value {
                claims.insert(claim.as_str().to_owned(), v);
            }
        }
        Ok(UserChanges {
            claims,
            groups: (!self.groups.is_empty()).then_some(self.groups),
        })
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.to_string())
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
    let mut out = json!({
        "id": u.id,
        "username": u.username,
        "disabled": u.disabled,
        "role": u.role.as_str(),
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "groups": u.groups.names().collect::<Vec<_>>(),
    });
    if let Some(m) = out.as_object_mut() {
        m.extend(u.claims.to_json());
    }
    out
}

pub async fn run(cmd: UserCommand, core: &Latchkey) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            claims,
            role,
            json,
            ..
        } => {
            // Checked before the password is read.
            let changes = claims.changes()?;
            let password = read_password()?;
            let u = core
                .admin(Actor::CommandLine)
                .users()
                .create_with_role(&username, password, changes, role)
                .await?;
            if json {
                println!("{}", user_json(&u));
            } else {
                println!(
                    "created user {} (sub {}, role {})",
                    u.username, u.id, u.role
                );
            }
        }
        UserCommand::Update {
            username,
            claims,
            role,
            json,
        } => {
            let changes = claims.changes()?;
            let users = core.admin(Actor::CommandLine).users();
            // Claims first: refused ones leave the role as it was too.
            let mut u = if changes.claims.is_empty() && changes.groups.is_none() {
                users.show(&username).await?
            } else {
                users.update(&username, changes).await?
            };
            if let Some(role) = role {
                u = users.set_role(&username, role).await?;
            }
            if json {
                println!("{}", user_json(&u));
            } else {
                println!("updated user {}", u.username);
            }
        }
        UserCommand::Show { username, json } => {
            let u = core
                .admin(Actor::CommandLine)
                .users()
                .show(&username)
                .await?;
            if json {
                println!("{}", user_json(&u));
            } else {
                println!("{}\t{}", u.id, u.username);
                println!("role\t{}", u.role);
                for (name, value) in u.claims.to_json() {
                    println!("{name}\t{value}");
                }
                if !u.groups.is_empty() {
                    println!(
                        "groups\t{}",
                        u.groups.names().collect::<Vec<_>>().join(", ")
                    );
                }
            }
        }
        UserCommand::List { json } => {
            let users = core.admin(Actor::CommandLine).users().list().await?;
            print_list(&users, json, user_json, |u| {
                let disabled = if u.disabled { "\t(disabled)" } else { "" };
                let disabled = if u.role == Role::Admin {
                    format!("\t(admin){disabled}")
                } else {
                    disabled.to_owned()
                };
                format!("{}\t{}{disabled}", u.id, u.username)
            });
        }
        UserCommand::Passwd { username, .. } => {
            let password = read_password()?;
            core.admin(Actor::CommandLine)
                .users()
                .set_password(&username, password)
                .await?;
            println!("password changed for {username}; all of their sessions were ended");
        }
        UserCommand::Disable { username } => {
            core.admin(Actor::CommandLine)
                .users()
                .set_disabled(&username, true)
                .await?;
            println!("disabled {username}; all of their sessions and tokens were revoked");
        }
        UserCommand::Enable { username } => {
            core.admin(Actor::CommandLine)
                .users()
                .set_disabled(&username, false)
                .await?;
            println!("enabled {username}");
        }
        UserCommand::Delete { username } => {
            core.admin(Actor::CommandLine)
                .users()
                .delete(&username)
                .await?;
            println!("deleted user {username}");
        }
        UserCommand::Mfa(MfaCommand::Reset { username }) => {
            let removed = core
                .admin(Actor::CommandLine)
                .users()
                .reset_factors(&username)
                .await?;
            println!(
                "removed {removed} second factor(s) of {username}; all of their sessions were ended"
            );
        }
    }
    Ok(())
}
