//! The UserInfo endpoint (OIDC Core §5.3): the claims of an access token's
//! user, by scope and by name (the `claims` request, OIDC Core §5.5, whose
//! names the token carries in `ucl`). The token itself is checked by
//! [`crate::liveness`].

use latchkey_domain::{User, UserId};
use latchkey_protocol::user_claims::{claims_of_scope, ClaimNames, GROUPS_SCOPE};
use latchkey_protocol::Scope;
use serde_json::{Map, Value};

pub use crate::liveness::BearerError;
pub use crate::support::dpop::Presentation;
use latchkey_protocol::claims::AccessTokenClaims;

service! {
    /// `GET|POST /userinfo` (OIDC Core §5.3).
    pub struct UserinfoEndpoint { directory }
}

impl UserinfoEndpoint<'_> {
    /// `GET|POST /userinfo`: the claims of the token's user, by scope and
    /// by name.
    /// `claims` are those of a token the protected-resource check
    /// ([`crate::support::dpop::ProtectedResource`]) accepted.
    pub async fn claims(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<Map<String, Value>, BearerError> {
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
        // The names were checked when the token was minted; reading them
        // again keeps only names Latchkey releases.
        let named = claims
            .ucl
            .as_deref()
            .map(ClaimNames::from_stored)
            .unwrap_or_default();
        Ok(released(&user, &scope, &named))
    }
}

/// Everything Latchkey can say about `user`: `sub`, the username as
/// `preferred_username`, `updated_at`, the standard claims that have a
/// value, and the groups if there are any.
pub(crate) fn user_claims(user: &User) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(user.id.to_string()));
    out.insert(
        "preferred_username".into(),
        Value::String(user.username.clone()),
    );
    out.insert("updated_at".into(), Value::from(user.updated_at));
    out.extend(user.claims.to_json());
    if !user.groups.is_empty() {
        out.insert(
            "groups".into(),
            Value::Array(user.groups.names().map(Value::from).collect()),
        );
    }
    out
}

/// The claims `scope` releases (OIDC Core §5.4) and those `named` (§5.5):
/// `sub` always, then each that has a value.
fn released(user: &User, scope: &Scope, named: &ClaimNames) -> Map<String, Value> {
    pick(
        user,
        std::iter::once("sub")
            .chain(scope.iter().flat_map(claims_of_scope).copied())
            .chain(named.iter()),
    )
}

/// The claims an ID token carries about `user`: those of the granted
/// scopes, as at the UserInfo endpoint, so that relying parties reading
/// only the ID token see them too, and those `named` by the request (OIDC
/// Core §5.5). The `groups` scope is the exception: a user's groups can be
/// long, and an ID token travels in URLs (`id_token_hint`) and cookies,
/// so they come in the ID token only when the claims request names them.
pub(crate) fn id_token_claims(
    user: &User,
    scope: &Scope,
    named: &ClaimNames,
) -> Map<String, Value> {
    pick(
        user,
        scope
            .iter()
            .filter(|s| *s != GROUPS_SCOPE)
            .flat_map(claims_of_scope)
            .copied()
            .chain(named.iter()),
    )
}

fn pick<'a>(user: &User, names: impl Iterator<Item = &'a str>) -> Map<String, Value> {
    let mut all = user_claims(user);
    let mut out = Map::new();
    for name in names {
        if let Some(v) = all.remove(name) {
            out.insert(name.to_owned(), v);
        }
    }
    out
}
