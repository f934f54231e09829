//! `authorization_code`: codes prepared through a signed-in session, then
//! redeemed at the token endpoint.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use hyper::header::HeaderValue;
use latchkey_keys::Alg;

use super::{http_goal, Latchkey};
use crate::report::Row;
use crate::runner::Run;
use crate::workloads::{basic_auth, Authorize, CodeExchange};

/// Codes prepared in bulk through the signed-in session (one GET /authorize
/// each, a 303 straight back with a code), then each redeemed once.
pub(super) async fn authorization_code(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let seed = lk.seed;
    let web = lk.web.clone();
    let cookie = lk.browser().await?.cookie_header()?;
    let host = HeaderValue::from_str(&lk.host)?;
    let prepare = Arc::new(Authorize {
        client: web.clone(),
        host: host.clone(),
        cookie,
        seed,
        max_codes: run.args.max_codes,
        codes: Mutex::new(Vec::new()),
    });
    let ep = lk.endpoint("/authorize");
    let authorize = run
        .row(
            "2a",
            "authorize with a session (code preparation)",
            http_goal(),
            &ep,
            Some(lk.pid),
            prepare.clone(),
        )
        .await?;
    let codes = std::mem::take(&mut *prepare.codes.lock().map_err(|_| anyhow!("poisoned"))?);
    if codes.is_empty() {
        bail!("no authorization code could be prepared");
    }
    let exchange = Arc::new(CodeExchange {
        authorization: HeaderValue::from_str(&basic_auth(&web.id, &web.secret))?,
        client: web,
        host,
        seed,
        codes,
    });
    let ep = lk.endpoint("/token");
    let redeem = run
        .row(
            "2",
            "authorization_code exchange (RS256 access + ID token)",
            http_goal().signs(2, Alg::RS256),
            &ep,
            Some(lk.pid),
            exchange,
        )
        .await?;
    Ok(vec![authorize, redeem])
}
