//! `latchkey audit`: the audit log from the server's host, newest first,
//! with the console's and the admin API's filters.

use clap::Args;
use latchkey_core::admin::{Actor, AuditQuery};
use latchkey_core::Latchkey;
use latchkey_domain::AuditRecord;
use serde_json::json;

use super::{parse_duration, print_list, time};

#[derive(Args)]
pub struct AuditArgs {
    /// Events about this user (a username).
    #[arg(long, allow_hyphen_values = true)]
    user: Option<String>,
    /// Events about this client (its id).
    #[arg(long, allow_hyphen_values = true)]
    client: Option<String>,
    /// One event kind (login, client_deleted, ...).
    #[arg(long)]
    kind: Option<String>,
    /// The operator who acted: cli, console:USERNAME or api:ADMIN_TOKEN_ID.
    #[arg(long, allow_hyphen_values = true)]
    actor: Option<String>,
    /// From this long ago (90s, 30m, 12h, 7d) or from a Unix time (@1796400000).
    #[arg(long, value_parser = when)]
    since: Option<When>,
    /// Before this long ago, or before a Unix time (@1796400000).
    #[arg(long, value_parser = when)]
    until: Option<When>,
    #[arg(long)]
    json: bool,
}

/// A point in time as written on the command line.
#[derive(Debug, Clone, Copy)]
pub enum When {
    Ago(i64),
    At(i64),
}

fn when(s: &str) -> Result<When, String> {
    match s.strip_prefix('@') {
        Some(unix) => unix
            .parse()
            .map(When::At)
            .map_err(|_| format!("{s:?}: expected @ and a Unix time in seconds")),
        None => parse_duration(s).map(When::Ago),
    }
}

fn record_json(r: &AuditRecord) -> serde_json::Value {
    json!({
        "id": r.id,
        "at": r.at,
        "kind": r.kind.as_str(),
        "user_id": r.user_id,
        "client_id": r.client_id,
        "ip": r.ip,
        "actor": r.actor,
        "detail": r.detail,
    })
}

pub async fn run(args: AuditArgs, core: &Latchkey) -> anyhow::Result<()> {
    let now = core.clock().unix();
    let at = |w: When| match w {
        When::Ago(secs) => now - secs,
        When::At(unix) => unix,
    };
    let records = core
        .admin(Actor::CommandLine)
        .console()
        .search(AuditQuery {
            user: args.user.as_deref(),
            client: args.client.as_deref(),
            kind: args.kind.as_deref(),
            actor: args.actor.as_deref(),
            since: args.since.map(at),
            until: args.until.map(at),
        })
        .await?;
    print_list(&records, args.json, record_json, |r| {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        format!(
            "{}\t{}\t{}\tuser {}\tclient {}\t{}\t{}",
            time(r.at),
            r.kind.as_str(),
            or_dash(&r.actor),
            or_dash(&r.user_id),
            or_dash(&r.client_id),
            or_dash(&r.ip),
            r.detail
        )
    });
    Ok(())
}
