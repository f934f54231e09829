//! `GET /jwks`: the published key set, serialised when the key set changes
//! (see [`crate::keys`]) and served from memory.

use latchkey_domain::keys::PublishedJwks;

service! {
    /// `GET /jwks`: the published keys and how long they may be cached.
    pub struct JwksEndpoint { keys, settings }
}

impl JwksEndpoint<'_> {
    /// The current JWK Set document and how long relying parties may cache
    /// it (seconds): new keys are published at least twice that long before
    /// they sign.
    pub fn published(&self) -> (PublishedJwks, i64) {
        (self.keys.current().jwks(), self.settings.keys.jwks_max_age)
    }
}
