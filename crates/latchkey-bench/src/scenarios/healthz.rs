//! `healthz`: Latchkey's own trivial route, read against the HTTP ceiling.

use std::sync::Arc;

use super::{http_goal, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::Fixed;

pub(super) async fn healthz(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let ep = lk.endpoint("/healthz");
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    Ok(vec![
        run.row(
            "ref",
            "healthz (Latchkey's own trivial route)",
            http_goal(),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}
