//! `dpop`: requests that each carry a fresh DPoP proof (RFC 9449), read
//! beside the same requests without one: client_credentials, whose tokens
//! are then bound to the proof's key (on the ES256 server too, see
//! [`es256_server`](super::es256_server)), and userinfo with a user access
//! token bound to the key.
//!
//! The nonce is fetched once (a proof without one is answered
//! `use_dpop_nonce` with the nonce in `DPoP-Nonce`; it holds for its
//! five-minute window and the next), then a pool of proofs is signed before
//! the window, each with its own `jti`, since every `jti` is accepted once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hyper::header::AUTHORIZATION;
use latchkey_keys::Alg;
use serde_json::Value;

use super::{http_goal, signing_alg, token_kind, Latchkey};
use crate::dpop::{ath, ProofKey, ProofPool, ProofTarget};
use crate::report::{Ceiling, DpopCheck, Goal, Row};
use crate::runner::Run;
use crate::signing;
use crate::workloads::{basic_auth, Fixed, WithProof};

/// Proofs signed ahead, over what the ES256 verification ceiling says the
/// machine could check in the window.
const POOL_MARGIN: f64 = 1.1;

pub(super) async fn dpop(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Vec<Row>> {
    let supported = lk.discovery["dpop_signing_alg_values_supported"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "ES256"));
    if !supported {
        let why = "not available in this build: no ES256 in dpop_signing_alg_values_supported";
        return Ok(vec![
            Row::unavailable("1", "client_credentials + DPoP", http_goal(), why),
            Row::unavailable("5", "userinfo + DPoP", http_goal(), why),
        ]);
    }
    Ok(vec![
        client_credentials_dpop(run, lk).await?,
        userinfo_dpop(run, lk).await?,
    ])
}

/// The JSON of a JWT's payload (not verified: the bench's own view).
fn jwt_payload(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice(&p).ok())
        .unwrap_or(Value::Null)
}

/// The server's current nonce, from a proof sent without one.
async fn fetch_nonce(lk: &Latchkey, key: &ProofKey) -> anyhow::Result<String> {
    let url = format!("{}/token", lk.base);
    let proof = key.proof_now(&ProofTarget {
        htm: "POST".into(),
        htu: url.clone(),
        nonce: None,
        ath: None,
    })?;
    let resp = reqwest::Client::new()
        .post(&url)
        .header(AUTHORIZATION, basic_auth(&lk.machine.0, &lk.machine.1))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let nonce = resp
        .headers()
        .get("dpop-nonce")
        .and_then(|n| n.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await?;
    nonce.ok_or_else(|| {
        anyhow!("a DPoP proof at {url} was answered {status} without a DPoP-Nonce: {body}")
    })
}

/// A token response with a DPoP proof: the access token, once checked to be
/// `DPoP` and bound to `key`.
fn bound_token(body: &Value, key: &ProofKey, what: &str) -> anyhow::Result<String> {
    let token = body["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("{what}: no access_token in {body}"))?;
    if body["token_type"] != "DPoP" {
        bail!("{what}: token_type {} instead of DPoP", body["token_type"]);
    }
    let jkt = &jwt_payload(token)["cnf"]["jkt"];
    if jkt != key.thumbprint.as_str() {
        bail!(
            "{what}: cnf.jkt {jkt} is not the proof key's thumbprint {}",
            key.thumbprint
        );
    }
    Ok(token.to_owned())
}

/// The ceilings a proof check is read against, measured now, and the pool
/// of proofs for `target`, signed now (outside the window).
fn prepare(
    run: &Run,
    key: ProofKey,
    target: ProofTarget,
    baseline: String,
) -> anyhow::Result<(DpopCheck, Arc<ProofPool>)> {
    eprintln!("bench: ES256 and DPoP proof verification ceilings ...");
    let cores = run.cores();
    let es256_verify = signing::es256_verify_cost(cores, Duration::from_secs(1))?;
    let sample = key.proof_now(&target)?;
    let proof_verify = signing::proof_verify_cost(&sample, cores, Duration::from_secs(1))?;
    let checkable = es256_verify.per_second.max(proof_verify.per_second) * run.args.duration as f64;
    let count = (checkable * POOL_MARGIN).clamp(1_000.0, 1e9) as usize;
    eprintln!("bench: signing {count} DPoP proofs ahead ...");
    let pool = Arc::new(ProofPool::sign(key, target, count, cores)?);
    let check = DpopCheck {
        baseline,
        es256_verify,
        proof_verify,
        pool: pool.len(),
        signed_late: 0,
    };
    Ok((check, pool))
}

/// client_credentials with a fresh proof in each request: a bound token
/// (`token_type` DPoP) each time, signed with the server's first algorithm.
pub(super) async fn client_credentials_dpop(run: &Run, lk: &Latchkey) -> anyhow::Result<Row> {
    let key = ProofKey::new()?;
    let nonce = fetch_nonce(lk, &key).await?;
    let url = format!("{}/token", lk.base);
    let target = ProofTarget {
        htm: "POST".into(),
        htu: url.clone(),
        nonce: Some(nonce),
        ath: None,
    };
    let auth = basic_auth(&lk.machine.0, &lk.machine.1);
    // One through reqwest first: the server's own words if it refuses, and
    // the binding checked once in full.
    let resp = reqwest::Client::new()
        .post(&url)
        .header(AUTHORIZATION, &auth)
        .header("DPoP", key.proof_now(&target)?)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("client_credentials with a DPoP proof answered {status}: {body}");
    }
    let token = bound_token(&body, &key, "client_credentials with a DPoP proof")?;
    let (alg, kind) = (signing_alg(&token), token_kind(&token));
    let goal = if alg == Alg::ES256 {
        http_goal().signs(1, alg)
    } else {
        Goal::new(Ceiling::Signing(alg)).signs(1, alg)
    };
    let (mut check, proofs) = prepare(run, key, target, format!("client_credentials ({kind})"))?;
    let ep = lk.endpoint("/token");
    let request = Fixed::post_form(&ep.host, &ep.path, &[("grant_type", "client_credentials")])?
        .header(AUTHORIZATION, &auth)?
        .body_contains(br#""token_type":"DPoP""#);
    let w = Arc::new(WithProof {
        request,
        proofs: proofs.clone(),
    });
    let name = format!("client_credentials + DPoP ({kind})");
    let mut row = run.row("1", &name, goal, &ep, Some(lk.pid), w).await?;
    check.signed_late = proofs.signed_late();
    row.dpop = Some(check);
    Ok(row)
}

/// userinfo with a user access token bound to the key (the code redeemed
/// with a proof), `Authorization: DPoP`, and a fresh proof with `ath` in
/// each request.
async fn userinfo_dpop(run: &Run, lk: &mut Latchkey) -> anyhow::Result<Row> {
    let key = ProofKey::new()?;
    let nonce = fetch_nonce(lk, &key).await?;
    let token_proof = key.proof_now(&ProofTarget {
        htm: "POST".into(),
        htu: format!("{}/token", lk.base),
        nonce: Some(nonce.clone()),
        ath: None,
    })?;
    let (web, seed) = (lk.web.clone(), lk.seed);
    let tokens = lk
        .browser()
        .await?
        .user_tokens_with(&web, &seed, u64::MAX - 3, Some(&token_proof))
        .await
        .context("getting a DPoP-bound user access token")?;
    let token = bound_token(&tokens, &key, "the code exchange with a DPoP proof")?;
    let url = format!("{}/userinfo", lk.base);
    let target = ProofTarget {
        htm: "GET".into(),
        htu: url.clone(),
        nonce: Some(nonce),
        ath: Some(ath(&token)),
    };
    let authorization = format!("DPoP {token}");
    let resp = reqwest::Client::new()
        .get(&url)
        .header(AUTHORIZATION, &authorization)
        .header("DPoP", key.proof_now(&target)?)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = resp.json().await.unwrap_or_default();
    if !status.is_success() || !body["sub"].is_string() {
        bail!("userinfo with a bound token and its proof answered {status} ({challenge}): {body}");
    }
    let kind = token_kind(&token);
    let (mut check, proofs) = prepare(run, key, target, format!("userinfo ({kind})"))?;
    let ep = lk.endpoint("/userinfo");
    let request = Fixed::get(&ep.host, &ep.path)?
        .header(AUTHORIZATION, &authorization)?
        .body_contains(br#""sub""#);
    let w = Arc::new(WithProof {
        request,
        proofs: proofs.clone(),
    });
    let name = format!("userinfo + DPoP ({kind})");
    let mut row = run
        .row("5", &name, http_goal(), &ep, Some(lk.pid), w)
        .await?;
    check.signed_late = proofs.signed_late();
    row.dpop = Some(check);
    Ok(row)
}
