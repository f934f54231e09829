//! `latchkey keys ...`: the signing keys' lifecycle, and emergency
//! revocation.

use clap::Subcommand;
use latchkey_core::admin::Actor;
use latchkey_core::keys::KeyReport;
use latchkey_core::Latchkey;
use latchkey_domain::keys::{KeyState, SigningKeyRecord};
use latchkey_domain::Kid;
use serde_json::json;

use super::{print_list, time};

#[derive(Subcommand)]
pub enum KeysCommand {
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

pub async fn run(cmd: KeysCommand, core: &Latchkey) -> anyhow::Result<()> {
    let check_interval = core.settings().keys.check_interval;
    match cmd {
        KeysCommand::List { json } => {
            let keys = core.signing_keys().list().await?;
            print_list(&keys, json, key_json, |k| {
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
                format!("{}\t{}\t{}\t{since}", k.kid, k.alg, k.state.as_str())
            });
        }
        KeysCommand::Rotate { json } => {
            let report = core.admin(Actor::CommandLine).keys().rotate().await?;
            if json {
                println!("{}", report_json(&report));
            } else {
                print_report(&report, check_interval);
            }
        }
        KeysCommand::Revoke { kid } => {
            let report = core
                .admin(Actor::CommandLine)
                .keys()
                .revoke(&Kid::new(kid))
                .await?;
            print_report(&report, check_interval);
        }
    }
    Ok(())
}
