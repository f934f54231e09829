//! OAuth 2.0 endpoints.

pub mod authorize;
pub mod device_authorization;
pub mod introspect;
pub mod par;
pub mod registration;
pub mod revoke;
pub mod token;
