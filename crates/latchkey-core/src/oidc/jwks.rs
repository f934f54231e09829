//! `GET /jwks`: the published key set, serialised when the key set changes
//! (see [`crate::keys`]) and served from memory.

use latchkey_domain::keys::PublishedJwks;

use crate::Latchkey;

impl Latchkey {
    /// The current JWK Set document and how long relying parties may cache
    /// it (seconds): new keys are published at least twice that long before
    /// they sign.
    pub fn jwks(&self) -> (PublishedJwks, i64) {
        (self.keys.current().jwks(), self.settings.keys.jwks_max_age)
    }
}
