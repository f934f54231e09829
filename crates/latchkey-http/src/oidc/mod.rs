//! OpenID Connect endpoints.

pub mod discovery;
pub mod end_session;
pub mod jwks;
pub mod userinfo;
