//! OAuth 2.0 endpoints.

pub mod authorize;
pub mod token;
