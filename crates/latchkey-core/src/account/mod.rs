//! What a user does for themselves: sign in (with the throttle in front),
//! list their sessions and end one or all of them, change their password,
//! edit the claims the operator lets them edit.

pub mod device;
pub mod factors;
pub mod login;
pub mod password;
pub mod profile;
pub mod sessions;
