//! CSRF tokens for Latchkey's own forms, bound to the browser.
//!
//! Each browser gets a random `latchkey_csrf` cookie; a form carries
//! HMAC(key, purpose, cookie). A cross-site page can make the browser send
//! the cookie but can neither read it nor compute the MAC, and a token taken
//! from one browser or one form does not fit another. This holds even where
//! SameSite is not enforced.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct CsrfGuard {
    key: [u8; 32],
}

impl CsrfGuard {
    pub fn new(key: [u8; 32]) -> CsrfGuard {
        CsrfGuard { key }
    }

    /// The token to put in a form for `purpose` (e.g. `login`), given the
    /// browser's CSRF cookie value.
    pub fn token(&self, browser: &str, purpose: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(browser.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn verify(&self, browser: Option<&str>, purpose: &str, presented: Option<&str>) -> bool {
        match (browser, presented) {
            (Some(b), Some(p)) if b.len() >= 32 => {
                self.token(b, purpose).as_bytes().ct_eq(p.as_bytes()).into()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: &str = "0123456789abcdef0123456789abcdef-browser";

    #[test]
    fn token_fits_its_browser_and_purpose_only() {
        let g = CsrfGuard::new([3; 32]);
        let t = g.token(BROWSER, "login");
        assert!(g.verify(Some(BROWSER), "login", Some(&t)));
        assert!(!g.verify(Some(BROWSER), "consent", Some(&t)));
        assert!(!g.verify(
            Some("another-browser-0123456789abcdef0123"),
            "login",
            Some(&t)
        ));
        assert!(!g.verify(None, "login", Some(&t)));
        assert!(!g.verify(Some(BROWSER), "login", None));
        assert!(!g.verify(Some("short"), "login", Some(&g.token("short", "login"))));
        assert!(!CsrfGuard::new([4; 32]).verify(Some(BROWSER), "login", Some(&t)));
    }
}
