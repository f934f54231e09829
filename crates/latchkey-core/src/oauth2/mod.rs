//! The OAuth 2.0 endpoints: authorization (RFC 6749 §4.1), the token
//! endpoint with one file per grant under [`token`], revocation (RFC 7009),
//! introspection (RFC 7662), the device authorization grant (RFC 8628,
//! [`device`]), dynamic registration (RFC 7591/7592), and how
//! clients authenticate to them ([`client_auth`]).

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod introspect;
pub mod par;
pub mod registration;
pub mod revoke;
pub mod token;
