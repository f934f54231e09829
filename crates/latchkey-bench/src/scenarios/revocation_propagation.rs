//! Revocation between two instances of Latchkey, reported beside the
//! introspection scenario.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hyper::header::AUTHORIZATION;
use serde_json::Value;

use super::{user_access_token, Latchkey};
use crate::runner::Run;
use crate::server::ServerSetup;
use crate::workloads::basic_auth;

/// Revocation between instances: a second `latchkey serve` on the same
/// database (and Redis, if given) runs beside the first; each of `N` user
/// access tokens is revoked at the first and introspected at the second
/// until it is refused. Returns the report line.
pub(crate) async fn revocation_propagation(
    run: &Run,
    setup: &ServerSetup,
    lk: &mut Latchkey,
) -> anyhow::Result<String> {
    const N: u64 = 20;
    // Each wait is bounded: well past the database sync interval.
    const GIVE_UP: Duration = Duration::from_secs(5);
    eprintln!("bench: starting a second latchkey serve for revocation between instances ...");
    // Instances behind one issuer, as in a deployment.
    let issuer = lk.discovery["issuer"]
        .as_str()
        .ok_or_else(|| anyhow!("no issuer in discovery"))?;
    let mut env = setup.env.clone();
    env.push(("LATCHKEY_ISSUER".into(), issuer.to_owned()));
    let second = ServerSetup {
        binary: setup.binary.clone(),
        dir: setup.dir.clone(),
        env,
    };
    let (mut guard, port) = second.serve()?;
    let at_b = format!("http://127.0.0.1:{port}/introspect");
    let revoke_at_a = format!("{}/revoke", lk.base);
    let machine = basic_auth(&lk.machine.0, &lk.machine.1);
    let web = basic_auth(&lk.web.id, &lk.web.secret);
    let http = reqwest::Client::new();
    let active_at_b = |token: String| {
        let (http, url, auth) = (http.clone(), at_b.clone(), machine.clone());
        async move {
            let v: Value = http
                .post(&url)
                .header(AUTHORIZATION, auth)
                .form(&[("token", token.as_str())])
                .send()
                .await
                .with_context(|| format!("POST {url}"))?
                .json()
                .await?;
            anyhow::Ok(v["active"] == Value::Bool(true))
        }
    };
    let mut waits = Vec::new();
    for i in 0..N {
        let token = user_access_token(lk, u64::MAX - 100 - i).await?;
        if !active_at_b(token.clone()).await? {
            bail!("a live token was refused by the second instance before any revocation");
        }
        let resp = http
            .post(&revoke_at_a)
            .header(AUTHORIZATION, &web)
            .form(&[("token", token.as_str())])
            .send()
            .await
            .with_context(|| format!("POST {revoke_at_a}"))?;
        if !resp.status().is_success() {
            bail!("POST {revoke_at_a} answered {}", resp.status());
        }
        let revoked = Instant::now();
        loop {
            if !active_at_b(token.clone()).await? {
                waits.push(revoked.elapsed());
                break;
            }
            if revoked.elapsed() > GIVE_UP {
                bail!("a token revoked at the first instance was still active at the second after {GIVE_UP:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    if let Some(status) = guard.exited() {
        bail!("the second latchkey serve exited ({status})");
    }
    drop(guard);
    waits.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let how = if run.args.redis_url.is_some() {
        "Redis pub/sub"
    } else {
        "the database sync of the revocation mirror"
    };
    Ok(format!(
        "- revocation between instances ({how}): a token revoked at one `latchkey serve` was refused by introspection at a second after {:.1} ms median, {:.1} ms at most, {:.1} ms at least ({N} tokens, polled every millisecond)\n",
        ms(waits[waits.len() / 2]),
        ms(waits[waits.len() - 1]),
        ms(waits[0]),
    ))
}
