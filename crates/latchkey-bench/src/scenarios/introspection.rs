//! `introspection`: RFC 7662 introspection of a user access token.

use std::sync::Arc;

use hyper::header::AUTHORIZATION;

use super::{http_goal, token_kind, user_access_token, Endpoint, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::{basic_auth, Fixed};

/// RFC 7662 introspection of a live user access token (signature, expiry
/// and the revocation check of its jti, family and session), by the
/// machine client acting as a resource server.
pub(super) async fn introspection(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let name = "introspection of a JWT access token";
    let goal = http_goal().at_least(0.5).p99_under_ms(5.0);
    let Some(url) = lk.discovery["introspection_endpoint"].as_str() else {
        let why = "not available in this build: no introspection_endpoint in discovery";
        return Ok(vec![Row::unavailable("4", name, goal, why)]);
    };
    let mut ep = Endpoint::parse(url)?;
    ep.addr = lk.addr;
    let token = user_access_token(lk, u64::MAX - 2).await?;
    let auth = basic_auth(&lk.machine.0, &lk.machine.1);
    let w = Fixed::post_form(
        &ep.host,
        &ep.path,
        &[("token", &token), ("token_type_hint", "access_token")],
    )?
    .header(AUTHORIZATION, &auth)?
    .body_contains(br#""active":true"#);
    let cache = if run.args.redis_url.is_some() {
        "revocation mirror + Redis"
    } else {
        "revocation mirror"
    };
    Ok(vec![
        run.row(
            "4",
            &format!("introspection ({}, {cache})", token_kind(&token)),
            goal,
            &ep,
            Some(lk.pid),
            Arc::new(w),
        )
        .await?,
    ])
}
