//! `userinfo`: the OpenID Connect userinfo endpoint with a user access token.

use std::sync::Arc;

use hyper::header::AUTHORIZATION;

use super::{http_goal, token_kind, user_access_token, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::Fixed;

pub(super) async fn userinfo(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let token = user_access_token(lk, u64::MAX - 1).await?;
    let ep = lk.endpoint("/userinfo");
    let w = Arc::new(
        Fixed::get(&ep.host, &ep.path)?.header(AUTHORIZATION, &format!("Bearer {token}"))?,
    );
    Ok(vec![
        run.row(
            "5",
            &format!("userinfo ({})", token_kind(&token)),
            http_goal().at_least(0.5).p99_under_ms(5.0),
            &ep,
            Some(lk.pid),
            w,
        )
        .await?,
    ])
}
