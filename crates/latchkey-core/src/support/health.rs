//! Readiness: can this instance serve? The database answers, a signing key
//! is loaded, and the shared cache answers when one is configured.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub keys: bool,
    /// `None` when no shared cache is configured.
    pub cache: Option<bool>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database && self.keys && self.cache != Some(false)
    }
}

service! {
    /// Readiness (`/readyz`).
    pub struct Health { store, keys, cache }
}

impl Health<'_> {
    pub async fn readiness(&self) -> Readiness {
        let database = match self.store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: database unreachable");
                false
            }
        };
        let keys = !self.keys.current().jwks().body.is_empty()
            && self
                .keys
                .current()
                .sign("JWT", &serde_json::Map::new())
                .is_ok();
        let cache = match self.cache {
            Some(c) => Some(c.ping().await.is_ok()),
            None => None,
        };
        Readiness {
            database,
            keys,
            cache,
        }
    }
}
