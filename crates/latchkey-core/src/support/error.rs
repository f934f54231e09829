//! The core's own failure, and how storage and key errors fold into the
//! protocol's error codes (once, here).

use latchkey_domain::keys::KeyError;
use latchkey_domain::StoreError;
use latchkey_protocol::{ErrorCode, OAuthError};

/// Failures that are not the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    /// The wire error: 503 when storage is unreachable (retry later), 400
    /// for a value no database column may hold (NUL), a bare `server_error`
    /// otherwise. Internal detail never leaves the server.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            CoreError::Store(StoreError::Unavailable(_)) => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable, retry later",
            ),
            CoreError::Store(StoreError::Unstorable(_)) => {
                OAuthError::invalid_request("a value contains a NUL character")
            }
            _ => OAuthError::bare(ErrorCode::ServerError),
        }
    }
}

impl From<CoreError> for OAuthError {
    fn from(e: CoreError) -> OAuthError {
        e.to_oauth()
    }
}
