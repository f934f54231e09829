//! The token endpoint (RFC 6749 §3.2): client authentication, then the
//! grant. Every failure has a precise reason for the log and a plain RFC
//! error for the client.

use latchkey_domain::{
    AuthMethod, Client, CodeRedemption, GrantType, IssuedFromCode, RevokedToken,
};
use latchkey_protocol::claims::{AccessTokenClaims, IdTokenClaims, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::pkce::CodeVerifier;
use latchkey_protocol::token::{Opaque, TokenRequest, TokenResponse};
use latchkey_protocol::{left_half_hash, ErrorCode, OAuthError, Scope};
use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::secrets::token_hash;
use crate::Latchkey;

/// Scopes that only make sense with a user behind the token.
const USER_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("client authentication failed: {0}")]
    ClientAuth(&'static str),
    #[error("invalid grant: {0}")]
    Grant(&'static str),
    #[error("client may not use grant {0}")]
    Unauthorized(&'static str),
    #[error("invalid scope: {0}")]
    Scope(String),
    #[error(transparent)]
    Request(#[from] OAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for TokenError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        TokenError::Core(e.into())
    }
}

impl From<latchkey_domain::keys::KeyError> for TokenError {
    fn from(e: latchkey_domain::keys::KeyError) -> Self {
        TokenError::Core(e.into())
    }
}

impl TokenError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            TokenError::ClientAuth(_) => {
                OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
            }
            TokenError::Grant(_) => OAuthError::new(
                ErrorCode::InvalidGrant,
                "the grant is invalid, expired, already used or was issued to another client",
            ),
            TokenError::Unauthorized(g) => OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {g} grant"),
            ),
            TokenError::Scope(s) => OAuthError::new(ErrorCode::InvalidScope, s.clone()),
            TokenError::Request(e) => e.clone(),
            TokenError::Core(e) => e.to_oauth(),
        }
    }
}

impl Latchkey {
    /// Authenticates the client of a token, revocation or introspection
    /// request. Costs one lookup and one HMAC.
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuthentication,
    ) -> Result<Client, TokenError> {
        let Some(id) = auth.client_id() else {
            return Err(TokenError::ClientAuth("no client_id"));
        };
        let client = self
            .store
            .find_client(id)
            .await?
            .ok_or(TokenError::ClientAuth("unknown client"))?;
        let now = self.now();
        let secret = match (auth, client.auth_method) {
            (ClientAuthentication::Basic { secret, .. }, AuthMethod::ClientSecretBasic)
            | (ClientAuthentication::Post { secret, .. }, AuthMethod::ClientSecretPost) => secret,
            (ClientAuthentication::None { .. }, AuthMethod::None) => return Ok(client),
            _ => {
                return Err(TokenError::ClientAuth(
                    "authentication method does not match the registration",
                ))
            }
        };
        let current = client
            .secret_hash
            .as_deref()
            .filter(|_| client.secret_expires_at.is_none_or(|t| now < t))
            .is_some_and(|h| self.secrets.verify(secret.expose(), h));
        let previous = client
            .previous_secret_hash
            .as_deref()
            .filter(|_| client.previous_secret_expires_at.is_some_and(|t| now < t))
            .is_some_and(|h| self.secrets.verify(secret.expose(), h));
        if current || previous {
            Ok(client)
        } else {
            Err(TokenError::ClientAuth("wrong or expired secret"))
        }
    }

    /// `POST /token`.
    pub async fn token(
        &self,
        auth: &ClientAuthentication,
        request: TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        let client = self.authenticate_client(auth).await?;
        match request {
            TokenRequest::ClientCredentials { scope } => self.client_credentials(&client, scope),
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem(&client, &code, &redirect_uri, &code_verifier)
                    .await
            }
            TokenRequest::RefreshToken { .. } => Err(TokenError::Request(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "refresh tokens are not issued by this server",
            ))),
        }
    }

    fn client_credentials(
        &self,
        client: &Client,
        requested: Option<Scope>,
    ) -> Result<TokenResponse, TokenError> {
        if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
            return Err(TokenError::Unauthorized("client_credentials"));
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
        let now = self.now();
        let (access_token, _) = self.mint_access_token(
            client.id.as_str(),
            client,
            &scope,
            &self.random.id(),
            now,
            None,
            None,
        )?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl as u64,
            refresh_token: None,
            id_token: None,
            scope: scope.to_string(),
        })
    }

    async fn redeem(
        &self,
        client: &Client,
        code: &Opaque,
        redirect_uri: &str,
        verifier: &CodeVerifier,
    ) -> Result<TokenResponse, TokenError> {
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(TokenError::Unauthorized("authorization_code"));
        }
        let now = self.now();
        let jti = self.random.id();
        let exp = now + self.settings.access_token_ttl;
        let issued = IssuedFromCode {
            access_token_jti: jti.clone(),
            access_token_expires_at: exp,
        };
        let code = match self
            .store
            .redeem_code(&token_hash(code.expose()), now, &issued)
            .await?
        {
            CodeRedemption::Redeemed(c) => c,
            CodeRedemption::NotFound => return Err(TokenError::Grant("unknown code")),
            CodeRedemption::AlreadyUsed(c) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it gave.
                if let (Some(jti), Some(exp)) = (&c.access_token_jti, c.access_token_expires_at) {
                    self.store
                        .revoke_token(&RevokedToken {
                            jti: jti.clone(),
                            expires_at: exp,
                            revoked_at: now,
                            reason: "code_replay".into(),
                        })
                        .await?;
                }
                self.audit_code_replay(&c).await;
                return Err(TokenError::Grant("code already used"));
            }
        };
        if code.client_id != client.id {
            return Err(TokenError::Grant("code was issued to another client"));
        }
        if code.is_expired(now) {
            return Err(TokenError::Grant("code expired"));
        }
        if code.redirect_uri.as_str() != redirect_uri {
            return Err(TokenError::Grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        if !code.code_challenge.verify(verifier) {
            return Err(TokenError::Grant("PKCE verifier does not match"));
        }
        let user = match self.store.find_user(&code.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        match self.store.find_session(&code.session_id).await? {
            Some(s) if s.is_active() => {}
            _ => {
                return Err(TokenError::Grant(
                    "the session that issued the code has ended",
                ))
            }
        }
        let (access_token, _) = self.mint_access_token(
            &user.id,
            client,
            &code.scope,
            &jti,
            now,
            Some(code.auth_time),
            Some(&code.session_id),
        )?;
        let id_token = if code.scope.contains(Scope::OPENID) {
            // The client's registered algorithm; at_hash follows it.
            let id_alg = self.id_token_alg(client);
            let claims = IdTokenClaims {
                iss: self.settings.issuer.clone(),
                sub: user.id.clone(),
                aud: client.id.to_string(),
                azp: client.id.to_string(),
                exp: now + self.settings.id_token_ttl,
                iat: now,
                auth_time: code.auth_time,
                nonce: code.nonce.as_ref().map(|n| n.to_string()),
                at_hash: Some(left_half_hash(&access_token, id_alg.as_str())),
                sid: code.session_id.clone(),
            };
            Some(
                self.keys
                    .current()
                    .sign_with(id_alg, ID_TOKEN_TYP, &to_map(&claims))?
                    .token,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl as u64,
            refresh_token: None,
            id_token,
            scope: code.scope.to_string(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn mint_access_token(
        &self,
        sub: &str,
        client: &Client,
        scope: &Scope,
        jti: &str,
        now: i64,
        auth_time: Option<i64>,
        sid: Option<&str>,
    ) -> Result<(String, &'static str), CoreError> {
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.settings.access_token_audience.clone(),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            jti: jti.to_owned(),
            iat: now,
            exp: now + self.settings.access_token_ttl,
            auth_time,
            sid: sid.map(str::to_owned),
        };
        let signed = self
            .keys
            .current()
            .sign(ACCESS_TOKEN_TYP, &to_map(&claims))?;
        Ok((signed.token, signed.alg))
    }
}

fn machine_scope(allowed: &Scope) -> Scope {
    let kept: Vec<&str> = allowed
        .iter()
        .filter(|s| !USER_SCOPES.contains(s))
        .collect();
    if kept.is_empty() {
        Scope::empty()
    } else {
        Scope::parse(&kept.join(" ")).unwrap_or_default()
    }
}

pub(crate) fn to_map<T: serde::Serialize>(claims: &T) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
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
