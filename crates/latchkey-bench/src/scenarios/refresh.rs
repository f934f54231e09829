//! `refresh`: refresh-token rotation, audited afterwards.

use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use hyper::header::HeaderValue;
use latchkey_keys::Alg;

use super::{http_goal, offers_refresh, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::{basic_auth, Family, RefreshRotation};

/// Refresh-token rotation: one family per connection, each response's
/// refresh token presented next, so every request rotates. Afterwards each
/// family is audited over HTTP: the token the client holds must still
/// rotate (none lost), the one just used must be refused (none doubled),
/// and that refusal must end the family (reuse detection).
pub(super) async fn refresh(run: &Run, lk: &mut Latchkey, alg: Alg) -> anyhow::Result<Vec<Row>> {
    let name = match alg {
        Alg::RS256 => "refresh-token rotation".to_owned(),
        other => format!("refresh-token rotation ({other} access token)"),
    };
    let name = name.as_str();
    // One access token signed per rotation.
    let goal = if run.is_postgres() {
        http_goal().signs(1, alg).at_least_rps(2000.0)
    } else {
        http_goal().signs(1, alg)
    };
    if !offers_refresh(&lk.discovery) {
        let why = "not available in this build: the server offers no refresh_token grant";
        return Ok(vec![Row::unavailable("3", name, goal, why)]);
    }
    let (web, seed) = (lk.web.clone(), lk.seed);
    let mut families = Vec::new();
    for i in 0..run.args.connections {
        let tokens = lk
            .browser()
            .await?
            .user_tokens(&web, &seed, u64::MAX - 100 - i)
            .await?;
        let token = tokens["refresh_token"].as_str().ok_or_else(|| {
            anyhow!(
                "no refresh_token from a client registered for the refresh_token grant: {tokens}"
            )
        })?;
        families.push(Mutex::new(Family {
            current: token.to_owned(),
            rotations: 0,
        }));
    }
    let ep = lk.endpoint("/token");
    let workload = Arc::new(RefreshRotation {
        host: HeaderValue::from_str(&ep.host)?,
        authorization: HeaderValue::from_str(&basic_auth(&web.id, &web.secret))?,
        families,
    });
    let mut row = run
        .row("3", name, goal, &ep, Some(lk.pid), workload.clone())
        .await?;
    let browser = lk.browser().await?;
    let (mut rotations, mut lost, mut doubled, mut kept) = (0, 0, 0, 0);
    for family in &workload.families {
        let family = family.lock().map_err(|_| anyhow!("poisoned"))?.clone();
        rotations += family.rotations;
        let (status, next) = browser.refresh(&web, &family.current).await?;
        let Some(next) = next.filter(|_| status.is_success()) else {
            lost += 1;
            continue;
        };
        if browser.refresh(&web, &family.current).await?.0.is_success() {
            doubled += 1;
        } else if browser.refresh(&web, &next).await?.0.is_success() {
            kept += 1;
        }
    }
    let n = workload.families.len();
    row.note = Some(format!(
        "{rotations} rotations over {n} families during the run; audited afterwards: \
         {lost} families lost (the held token no longer rotates), {doubled} doubled \
         (a used token accepted again), {kept} still usable after a reuse"
    ));
    if lost + doubled + kept > 0 {
        row.problem = Some(format!(
            "{lost} lost, {doubled} doubled, {kept} not ended by reuse"
        ));
    }
    Ok(vec![row])
}
