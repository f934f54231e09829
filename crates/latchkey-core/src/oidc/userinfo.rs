//! The UserInfo endpoint (OIDC Core §5.3): the claims of an access token's
//! user, by scope. The token itself is checked by [`crate::liveness`].

use latchkey_domain::UserId;
use latchkey_protocol::Scope;
use serde_json::{Map, Value};

pub use crate::liveness::BearerError;

service! {
    /// `GET|POST /userinfo` (OIDC Core §5.3).
    pub struct UserinfoEndpoint { liveness, directory }
}

impl UserinfoEndpoint<'_> {
    /// `GET|POST /userinfo`: the claims of the token's user, by scope.
    pub async fn claims(&self, token: &str) -> Result<Map<String, Value>, BearerError> {
        let claims = self.liveness.access_token(token).await?;
        // Signed by Latchkey, so it parses; a token whose scope does not is
        // refused all the same.
        let scope = Scope::parse(&claims.scope)
            .map_err(|_| BearerError::Invalid("unreadable scope".into()))?;
        if !scope.contains(Scope::OPENID) {
            return Err(BearerError::InsufficientScope("openid"));
        }
        let Some(user) = self
            .directory
            .user(&UserId::new(claims.sub.as_str()))
            .await?
        else {
            return Err(BearerError::Invalid("no such user".into()));
        };
        if user.disabled {
            return Err(BearerError::Invalid("user disabled".into()));
        }
        let mut out = Map::new();
        out.insert("sub".into(), Value::String(user.id.to_string()));
        if scope.contains("profile") {
            out.insert(
                "preferred_username".into(),
                Value::String(user.username.clone()),
            );
            if let Some(name) = &user.name {
                out.insert("name".into(), Value::String(name.clone()));
            }
        }
        if scope.contains("email") {
            if let Some(email) = &user.email {
                out.insert("email".into(), Value::String(email.clone()));
            }
        }
        Ok(out)
    }
}
