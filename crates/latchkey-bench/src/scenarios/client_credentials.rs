//! `client_credentials`: the machine client's token requests.

use std::sync::Arc;

use hyper::header::AUTHORIZATION;
use latchkey_keys::Alg;

use super::{http_goal, probe_token, signing_alg, token_kind, Latchkey};
use crate::report::{Ceiling, Goal, Row};
use crate::runner::Run;
use crate::workloads::{basic_auth, Fixed};

/// client_credentials with the server's default algorithm (RS256). The
/// ES256 figure comes from a second server, see [`es256_server`](super::es256_server).
pub(super) async fn client_credentials(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let token = probe_token(
        &format!("{}/token", lk.base),
        &basic_auth(&lk.machine.0, &lk.machine.1),
        &[("grant_type".into(), "client_credentials".into())],
    )
    .await?;
    let alg = signing_alg(&token);
    let goal = if alg == Alg::ES256 {
        http_goal().signs(1, alg).at_least(0.5)
    } else {
        Goal::new(Ceiling::Signing(alg)).signs(1, alg).at_least(0.7)
    };
    Ok(vec![cc_row(run, lk, &token_kind(&token), goal).await?])
}

/// The client_credentials row on `lk`, under `goal`; `kind` names its tokens.
pub(super) async fn cc_row(
    run: &Run,
    lk: &Latchkey,
    kind: &str,
    goal: Goal,
) -> anyhow::Result<Row> {
    let ep = lk.endpoint("/token");
    let auth = basic_auth(&lk.machine.0, &lk.machine.1);
    let form = [("grant_type", "client_credentials")];
    let w = Arc::new(Fixed::post_form(&ep.host, &ep.path, &form)?.header(AUTHORIZATION, &auth)?);
    run.row(
        "1",
        &format!("client_credentials ({kind})"),
        goal,
        &ep,
        Some(lk.pid),
        w,
    )
    .await
}
