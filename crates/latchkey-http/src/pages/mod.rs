//! Latchkey's own HTML pages: sign-in, consent and the account pages (the
//! error page is `error::ApiError::Page`). Pages forbid framing and caching
//! (`response::page`); the browser's cookies and CSRF binding are in
//! `browser`.

pub mod account;
pub mod consent;
pub mod device;
pub mod factor;
pub mod login;
pub mod security;

use latchkey_protocol::OAuthError;

/// What the sign-in and password pages say to an attempt the throttle
/// refused.
fn too_many_attempts(wait_secs: i64) -> String {
    format!("Too many attempts. Try again in {wait_secs} seconds.")
}

/// The pending request a page is for (`req`), checked for shape before any
/// lookup; none means a sign-in for the account pages.
pub(crate) fn pending_id(value: Option<&str>) -> Result<Option<&str>, OAuthError> {
    match value {
        None => Ok(None),
        Some(id)
            if id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(id))
        }
        _ => Err(OAuthError::invalid_request("malformed sign-in request")),
    }
}
