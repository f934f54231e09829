//! JSON APIs for clients acting for a user, authorized by the user's
//! access token in the `Authorization` header only (never cookies, so no
//! cross-site request can ride on a browser's credentials).

pub mod sessions;
