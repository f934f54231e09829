//! CSRF tokens for Latchkey's own forms, bound to the browser.
//!
//! Each browser gets a `latchkey_csrf` cookie that only the server can
//! mint: a random value and its MAC. A form carries HMAC(key, purpose,
//! cookie). A cross-site page can make the browser send the cookie but can
//! neither read it nor compute the MAC, and a token taken from one browser
//! or one form does not fit another. A cookie the server did not issue (one
//! tossed in by a sibling subdomain, say) is refused and replaced, so an
//! attacker cannot pair a cookie of their choosing with a form token the
//! server minted for it. This holds even where SameSite is not enforced.
//!
//! The same cookie identifies the browser that started an authorization
//! request: the request is bound to its hash ([`CsrfGuard::browser_hash`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The random part of a browser id, in base64url characters (256 bits).
const NONCE_LEN: usize = 43;

#[derive(Clone)]
pub struct CsrfGuard {
    key: [u8; 32],
}

impl CsrfGuard {
    pub fn new(key: [u8; 32]) -> CsrfGuard {
        CsrfGuard { key }
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
            mac.update(&[0]);
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A new browser id (the CSRF cookie's value) from a 256-bit random
    /// base64url string: `<random>.<MAC>`.
    pub fn issue_browser(&self, random: &str) -> String {
        format!("{random}.{}", self.mac(&[b"browser", random.as_bytes()]))
    }

    /// Whether this server issued `value` as a browser id.
    pub fn is_issued(&self, value: &str) -> bool {
        let Some((random, mac)) = value.split_once('.') else {
            return false;
        };
        random.len() == NONCE_LEN
            && self
                .mac(&[b"browser", random.as_bytes()])
                .as_bytes()
                .ct_eq(mac.as_bytes())
                .into()
    }

    /// What a pending authorization request stores to know its browser.
    pub fn browser_hash(&self, browser: &str) -> String {
        crate::secrets::token_hash(browser).into_string()
    }

    /// The token to put in a form for `purpose` (e.g. `login`), given the
    /// browser's CSRF cookie value.
    pub fn token(&self, browser: &str, purpose: &str) -> String {
        self.mac(&[purpose.as_bytes(), browser.as_bytes()])
    }

    pub fn verify(&self, browser: Option<&str>, purpose: &str, presented: Option<&str>) -> bool {
        match (browser, presented) {
            (Some(b), Some(p)) if self.is_issued(b) => {
                self.token(b, purpose).as_bytes().ct_eq(p.as_bytes()).into()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0123456789abcdef0123456789abcdef0123456789a";

    #[test]
    fn token_fits_its_browser_and_purpose_only() {
        let g = CsrfGuard::new([3; 32]);
        let browser = g.issue_browser(RANDOM);
        let other = g.issue_browser("X123456789abcdef0123456789abcdef0123456789a");
        let t = g.token(&browser, "login");
        assert!(g.verify(Some(&browser), "login", Some(&t)));
        assert!(!g.verify(Some(&browser), "consent", Some(&t)));
        assert!(!g.verify(Some(&other), "login", Some(&t)));
        assert!(!g.verify(None, "login", Some(&t)));
        assert!(!g.verify(Some(&browser), "login", None));
        assert!(!CsrfGuard::new([4; 32]).verify(Some(&browser), "login", Some(&t)));
    }

    #[test]
    fn a_cookie_the_server_did_not_issue_is_refused() {
        let g = CsrfGuard::new([3; 32]);
        // An attacker's cookie value, with the form token the server would
        // compute for it: refused, because the cookie carries no valid MAC.
        for tossed in [
            RANDOM.to_owned(),
            format!("{RANDOM}.forged"),
            format!("{RANDOM}.{}", "A".repeat(43)),
            CsrfGuard::new([9; 32]).issue_browser(RANDOM),
            format!("{}x", g.issue_browser(RANDOM)),
            "short.mac".into(),
            String::new(),
        ] {
            assert!(!g.is_issued(&tossed), "{tossed}");
            let t = g.token(&tossed, "login");
            assert!(!g.verify(Some(&tossed), "login", Some(&t)), "{tossed}");
        }
        assert!(g.is_issued(&g.issue_browser(RANDOM)));
    }
}
