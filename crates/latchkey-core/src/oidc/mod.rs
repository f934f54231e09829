//! The OpenID Connect endpoints: discovery, the published key set, userinfo
//! and RP-initiated logout (which queues back-channel logout tokens).

pub mod backchannel;
pub mod discovery;
pub mod end_session;
pub mod jwks;
pub mod userinfo;
