//! Which browser origins may call Latchkey's endpoints from script (CORS):
//! exactly the origins that registered clients list in
//! `allowed_cors_origins`, and for the token and revocation endpoints only
//! those of the client making the request. Nothing else is allowed.

use std::collections::HashSet;
use std::sync::Arc;

use latchkey_protocol::ClientId;

use crate::error::CoreError;

service! {
    /// Which origins may call from script.
    pub struct Cors { store, caches, directory }
}

impl Cors<'_> {
    /// Whether some registered client lists `origin` (read through a
    /// one-second copy of the set, dropped when this instance changes a
    /// client).
    pub async fn origin_known(&self, origin: &str) -> Result<bool, CoreError> {
        if let Some(set) = self.caches.cors_origins.get(&()) {
            return Ok(set.contains(origin));
        }
        let set: HashSet<String> = self
            .store
            .list_clients()
            .await?
            .into_iter()
            .flat_map(|c| c.allowed_cors_origins)
            .collect();
        let known = set.contains(origin);
        self.caches.cors_origins.insert((), Arc::new(set));
        Ok(known)
    }

    /// Whether the client `client_id` lists `origin`.
    pub async fn origin_of_client(
        &self,
        client_id: &ClientId,
        origin: &str,
    ) -> Result<bool, CoreError> {
        Ok(self
            .directory
            .client(client_id)
            .await?
            .is_some_and(|c| c.allowed_cors_origins.iter().any(|o| o == origin)))
    }
}
