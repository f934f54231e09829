//! Fetching a client's JWK Set from the `jwks_uri` it registered
//! (`private_key_jwt`): the outbound HTTP adapter of the domain's
//! `JwksFetcher`. https only, no redirects followed, 5 s, 64 KiB; extra
//! root certificates from `[registration] jwks_ca_file`. The core caches
//! what this returns.

use std::time::Duration;

use anyhow::Context;
use latchkey_config::Config;
use latchkey_domain::JwksFetcher;

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BYTES: usize = 64 * 1024;

pub struct HttpJwksFetcher {
    client: reqwest::Client,
}

impl HttpJwksFetcher {
    pub fn new(config: &Config) -> anyhow::Result<HttpJwksFetcher> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.registration.jwks_ca_file {
            let pem =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no PEM certificate", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(HttpJwksFetcher {
            client: builder
                .build()
                .context("cannot build the jwks_uri client")?,
        })
    }
}

#[async_trait::async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch_jwks(&self, uri: &str) -> Result<String, String> {
        let resp = self
            .client
            .get(uri)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
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
