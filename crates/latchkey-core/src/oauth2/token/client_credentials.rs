//! The `client_credentials` grant (RFC 6749 §4.4): a machine client gets
//! an access token for itself, from cached rows only (no database write).

use latchkey_domain::{Client, GrantType, Jti};
use latchkey_protocol::token::TokenResponse;
use latchkey_protocol::Scope;

use super::TokenEndpoint;
use super::{Grant, TokenError};

/// Scopes that only make sense with a user behind the token.
const USER_SCOPES: [&str; 8] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "groups",
    "offline_access",
    "sessions",
];

impl TokenEndpoint<'_> {
    pub(super) fn client_credentials(
        &self,
        client: &Client,
        requested: Option<Scope>,
        asked: super::Asked<'_>,
    ) -> Result<TokenResponse, TokenError> {
        if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
            return Err(TokenError::Unauthorized(GrantType::ClientCredentials));
        }
        let machine_scope = machine_scope(&client.scope);
        let scope = match requested {
            Some(s) => {
                let extra = s.difference(&machine_scope);
                if !extra.is_empty() {
                    return Err(TokenError::Scope(format!(
                        "scope not allowed for this client: {}",
                        extra.join(" ")
                    )));
                }
                s
            }
            None => machine_scope,
        };
        let now = self.clock.unix();
        let grant = Grant {
            jkt: asked.jkt,
            resources: Some(asked.resources),
            ..Grant::default()
        };
        let (access_token, _) = self.mint_access_token(
            client.id.as_str(),
            client,
            &scope,
            &Jti::generate(self.random),
            now,
            grant,
        )?;
        Ok(TokenResponse {
            access_token,
            token_type: grant.token_type(),
            expires_in: self.settings.tokens.access_token_ttl as u64,
            refresh_token: None,
            id_token: None,
            scope: scope.to_string(),
        })
    }
}

fn machine_scope(allowed: &Scope) -> Scope {
    allowed.filter(|s| !USER_SCOPES.contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_scope_drops_user_scopes() {
        let s = Scope::parse("openid profile api:read api:write offline_access").unwrap();
        assert_eq!(machine_scope(&s).to_string(), "api:read api:write");
        assert!(machine_scope(&Scope::parse("openid").unwrap()).is_empty());
    }
}
