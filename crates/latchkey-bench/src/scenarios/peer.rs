//! The peer (`--target`): another OpenID provider under the same load.

use std::sync::Arc;

use anyhow::anyhow;
use hyper::header::AUTHORIZATION;

use super::{get_json, http_goal, probe_token, signing_alg, token_kind, Endpoint};
use crate::report::{Ceiling, Goal, Row};
use crate::runner::Run;
use crate::workloads::{basic_auth, Fixed};

/// The peer: client_credentials, discovery and JWKS, with the same load.
pub(crate) async fn peer(run: &Run) -> anyhow::Result<Vec<Row>> {
    let (Some(issuer), Some(id), Some(secret)) = (
        run.args.target.as_deref(),
        run.args.client_id.as_deref(),
        run.args.client_secret.as_deref(),
    ) else {
        return Ok(Vec::new());
    };
    let pid = run.args.target_pid;
    let issuer = issuer.trim_end_matches('/');
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    let ep = Endpoint::parse(&discovery_url)?;
    let meta = get_json(&discovery_url).await?;
    let url_of = |name: &str| {
        meta[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the peer's discovery has no {name}"))
    };
    let (token_url, jwks_url) = (url_of("token_endpoint")?, url_of("jwks_uri")?);
    let mut form: Vec<(String, String)> = vec![("grant_type".into(), "client_credentials".into())];
    for kv in &run.args.target_params {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--target-param wants K=V, got {kv:?}"))?;
        form.push((k.into(), v.into()));
    }
    let auth = basic_auth(id, secret);
    let token = probe_token(&token_url, &auth, &form).await?;
    let alg = signing_alg(&token);
    let mut rows = Vec::new();
    let token_ep = Endpoint::parse(&token_url)?;
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let w = Arc::new(
        Fixed::post_form(&token_ep.host, &token_ep.path, &pairs)?.header(AUTHORIZATION, &auth)?,
    );
    rows.push(
        run.row(
            "peer",
            &format!("peer client_credentials ({})", token_kind(&token)),
            Goal::new(Ceiling::Signing(alg)).signs(1, alg),
            &token_ep,
            pid,
            w,
        )
        .await?,
    );
    let w = Arc::new(Fixed::get(&ep.host, &ep.path)?);
    rows.push(
        run.row("peer", "peer discovery", http_goal(), &ep, pid, w)
            .await?,
    );
    let jwks_ep = Endpoint::parse(&jwks_url)?;
    let w = Arc::new(Fixed::get(&jwks_ep.host, &jwks_ep.path)?);
    rows.push(
        run.row("peer", "peer JWKS", http_goal(), &jwks_ep, pid, w)
            .await?,
    );
    Ok(rows)
}
