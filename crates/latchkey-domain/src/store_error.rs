//! How a storage port fails, shared by every repository trait.

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or timed out: retryable, nothing was
    /// changed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (e.g. the username is taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored row could not be read back as a valid value.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A value the database cannot hold (a NUL character, which PostgreSQL
    /// text refuses), to be written or looked up: the request's fault, and
    /// nothing was changed.
    #[error("unstorable value: {0}")]
    Unstorable(String),
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
