//! The ES256 rows, from a second server that signs with ES256 first.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use latchkey_keys::Alg;

use super::client_credentials::cc_row;
use super::dpop::client_credentials_dpop;
use super::refresh::refresh;
use super::{http_goal, jws_alg, probe_token, token_kind, Latchkey};
use crate::procfs;
use crate::report::Row;
use crate::runner::Run;
use crate::server::ServerSetup;
use crate::workloads::basic_auth;

/// The ES256 figures: the same database, KEK, user and clients, served by
/// a second server whose first algorithm is ES256 (it adds an ES256 key on
/// start; ID tokens stay RS256, the clients' default). Run after the first
/// server has stopped. Gives client_credentials and, if selected, refresh
/// rotation and client_credentials with DPoP proofs, all with ES256 access
/// tokens, beside their RS256 rows.
pub(crate) async fn es256_server(
    run: &Run,
    setup: &ServerSetup,
    lk: &mut Latchkey,
    with_refresh: bool,
    with_dpop: bool,
) -> anyhow::Result<(Vec<Row>, Option<procfs::Memory>)> {
    let cc_name = "client_credentials (ES256 JWT)";
    let cc_goal = http_goal().signs(1, Alg::ES256).at_least(0.5);
    let mut env = setup.env.clone();
    env.push(("LATCHKEY_KEYS__ALGORITHMS".into(), "ES256,RS256".into()));
    let es = ServerSetup {
        binary: setup.binary.clone(),
        dir: setup.dir.clone(),
        env,
    };
    eprintln!("bench: starting a second latchkey serve that signs with ES256 ...");
    let (guard, port) = match es.serve() {
        Ok(started) => started,
        Err(e) => {
            let why = format!(
                "not available in this build: LATCHKEY_KEYS__ALGORITHMS=ES256,RS256 refused ({e:#})"
            );
            return Ok((vec![Row::unavailable("1", cc_name, cc_goal, &why)], None));
        }
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = procfs::memory(guard.pid());
    lk.pid = guard.pid();
    lk.base = format!("http://127.0.0.1:{port}");
    lk.host = format!("127.0.0.1:{port}");
    lk.addr = SocketAddr::from((IpAddr::from([127, 0, 0, 1]), port));
    lk.browser = None;
    let token = probe_token(
        &format!("{}/token", lk.base),
        &basic_auth(&lk.machine.0, &lk.machine.1),
        &[("grant_type".into(), "client_credentials".into())],
    )
    .await?;
    let mut guard = guard;
    if jws_alg(&token).as_deref() != Some("ES256") {
        let why = format!(
            "not available in this build: with LATCHKEY_KEYS__ALGORITHMS=ES256,RS256 it still signs {}",
            token_kind(&token)
        );
        return Ok((vec![Row::unavailable("1", cc_name, cc_goal, &why)], idle));
    }
    let mut rows = vec![cc_row(run, lk, &token_kind(&token), cc_goal).await?];
    if with_dpop {
        rows.push(client_credentials_dpop(run, lk).await?);
    }
    if with_refresh {
        rows.extend(refresh(run, lk, Alg::ES256).await?);
    }
    if let Some(status) = guard.exited() {
        let why = format!(
            "the ES256 server exited ({status}); its last words: {}",
            guard.stderr_tail().replace('\n', " / ")
        );
        for row in &mut rows {
            row.problem = Some(format!("the server exited ({status})"));
            row.note = Some(why.clone());
        }
    }
    drop(guard);
    Ok((rows, idle))
}
