//! OpenID Connect endpoints.

pub mod discovery;
pub mod jwks;
pub mod userinfo;
