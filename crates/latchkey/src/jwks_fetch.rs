//! Fetching a client's JWK Set from the `jwks_uri` it registered
//! (`private_key_jwt`): the outbound HTTP adapter of the domain's
//! `JwksFetcher`. https only, to the addresses the client's reach allows
//! ([`crate::egress`]), no redirects followed, 5 s, 64 KiB; extra root
//! certificates from `[registration] jwks_ca_file`. The core caches what
//! this returns, failures included.

use std::sync::Arc;

use anyhow::Context;
use latchkey_config::Config;
use latchkey_domain::{JwksFetcher, Reach};

use crate::egress::{describe, Egress, Lookup};

const MAX_BYTES: usize = 64 * 1024;

pub struct HttpJwksFetcher {
    egress: Egress,
}

impl HttpJwksFetcher {
    pub fn new(config: &Config, lookup: Arc<dyn Lookup>) -> anyhow::Result<HttpJwksFetcher> {
        let roots = match &config.registration.jwks_ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .with_context(|| format!("{} holds no PEM certificate", path.display()))?
            }
            None => Vec::new(),
        };
        let egress = Egress::new(lookup, |builder| {
            Ok(roots.iter().fold(builder.https_only(true), |b, cert| {
                b.add_root_certificate(cert.clone())
            }))
        })
        .context("cannot build the jwks_uri client")?;
        Ok(HttpJwksFetcher { egress })
    }
}

#[async_trait::async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch_jwks(&self, uri: &str, reach: Reach) -> Result<String, String> {
        let (client, url) = self.egress.prepare(uri, reach).map_err(|e| e.to_string())?;
        let resp = client
            .get(url)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", describe(&e)))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {}", resp.status()));
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("the JWK Set is larger than 64 KiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "the JWK Set is not UTF-8".into())
    }
}
