//! One rule for whether a token is still live, shared by every endpoint
//! that accepts one: the refresh grant, introspection and userinfo. A token
//! dies with whatever it hangs from: itself, its refresh family, its
//! browser session and its client. Each check below is written once, so
//! the endpoints cannot disagree about the same token.

use latchkey_domain::{FamilyId, Jti, RefreshFamily, RevocationKey, SessionId};
use latchkey_protocol::claims::AccessTokenClaims;

use crate::error::CoreError;
use crate::Latchkey;

/// Everything whose revocation refuses this access token: itself, its
/// refresh family, its browser session and its client.
pub fn revocation_keys(claims: &AccessTokenClaims) -> Vec<String> {
    let mut keys = vec![RevocationKey::Token(Jti::new(claims.jti.as_str())).to_key()];
    if let Some(f) = &claims.fid {
        keys.push(RevocationKey::Family(FamilyId::new(f.as_str())).to_key());
    }
    if let Some(s) = &claims.sid {
        keys.push(RevocationKey::Session(SessionId::new(s.as_str())).to_key());
    }
    // A deleted client's tokens die with it.
    keys.push(RevocationKey::Client(claims.client_id.clone()).to_key());
    keys
}

/// Everything whose revocation ends a refresh family: itself, the browser
/// session it was issued in, and its client.
pub fn family_revocation_keys(family: &RefreshFamily) -> [String; 3] {
    [
        RevocationKey::Family(family.id.clone()).to_key(),
        RevocationKey::Session(family.session_id.clone()).to_key(),
        RevocationKey::Client(family.client_id.to_string()).to_key(),
    ]
}

impl Latchkey {
    /// Why a refresh family can no longer be used at `now`, if it cannot:
    /// its own state and lifetimes first, then every revocation that
    /// reaches it.
    pub(crate) async fn family_death(
        &self,
        family: &RefreshFamily,
        now: i64,
    ) -> Result<Option<&'static str>, CoreError> {
        if let Some(why) = family.unusable(now, self.settings.refresh.idle_timeout) {
            return Ok(Some(why));
        }
        if self.is_revoked(&family_revocation_keys(family)).await? {
            return Ok(Some("family, session or client revoked"));
        }
        Ok(None)
    }
}
