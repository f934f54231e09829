//! `discovery`: the OpenID provider metadata document.

use std::sync::Arc;

use super::{http_goal, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::Fixed;

pub(super) async fn discovery(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let ep = lk.endpoint("/.well-known/openid-configuration");
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    Ok(vec![
        run.row(
            "6",
            "discovery",
            http_goal().at_least(0.8),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}
