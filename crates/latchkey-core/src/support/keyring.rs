//! The signer in use, swappable when the key set changes (rotation) without
//! stopping request handling.

use std::sync::{Arc, RwLock};

use latchkey_domain::keys::TokenSigner;

pub struct KeyRing {
    current: RwLock<Arc<dyn TokenSigner>>,
}

impl KeyRing {
    pub fn new(signer: Arc<dyn TokenSigner>) -> KeyRing {
        KeyRing {
            current: RwLock::new(signer),
        }
    }

    pub fn current(&self) -> Arc<dyn TokenSigner> {
        // A poisoned lock still holds a valid Arc: keep serving.
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn replace(&self, signer: Arc<dyn TokenSigner>) {
        match self.current.write() {
            Ok(mut g) => *g = signer,
            Err(p) => *p.into_inner() = signer,
        }
    }
}
