//! The token endpoint (RFC 6749 §3.2): client authentication, then the
//! grant. Every failure has a precise reason for the log and a plain RFC
//! error for the client.

use latchkey_domain::{
    AuthMethod, Client, CodePresenter, CodeRedemption, GrantType, IssuedFromCode, RefreshFamily,
    RefreshPresentation, RefreshToken, RevocationKey, Teardown,
};
use latchkey_protocol::claims::{AccessTokenClaims, IdTokenClaims, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use latchkey_protocol::client_auth::{assertion_subject, ClientAuthentication};
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
        // An assertion may name its client only in its own `sub` (RFC 7523
        // §3); it is read unverified here, to know whose keys verify it.
        let subject = match auth {
            ClientAuthentication::JwtAssertion {
                client_id: None,
                assertion,
            } => assertion_subject(assertion),
            _ => None,
        };
        let Some(id) = auth.client_id().or(subject.as_ref()) else {
            return Err(TokenError::ClientAuth("no client_id"));
        };
        // The hot path: a client read in the last second authenticates
        // without a database round trip. A failure against the cached copy
        // (a secret rotated a moment ago) is retried against the database.
        // Assertions are never tried twice, their jti being single-use.
        if let Some(cached) = self.caches.clients.get(id.as_str()) {
            if cached.auth_method != AuthMethod::PrivateKeyJwt {
                match self.authenticate_as(&cached, auth).await {
                    Ok(()) => return Ok((*cached).clone()),
                    Err(TokenError::ClientAuth(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let client = self
            .store
            .find_client(id)
            .await?
            .ok_or(TokenError::ClientAuth("unknown client"))?;
        self.caches
            .clients
            .insert(id.as_str().to_owned(), std::sync::Arc::new(client.clone()));
        self.authenticate_as(&client, auth).await?;
        Ok(client)
    }

    /// Checks `auth` against one stored client.
    async fn authenticate_as(
        &self,
        client: &Client,
        auth: &ClientAuthentication,
    ) -> Result<(), TokenError> {
        let now = self.now();
        let secret = match (auth, client.auth_method) {
            (ClientAuthentication::Basic { secret, .. }, AuthMethod::ClientSecretBasic)
            | (ClientAuthentication::Post { secret, .. }, AuthMethod::ClientSecretPost) => secret,
            (ClientAuthentication::None { .. }, AuthMethod::None) => return Ok(()),
            (ClientAuthentication::JwtAssertion { assertion, .. }, AuthMethod::PrivateKeyJwt) => {
                self.verify_client_assertion(client, assertion).await?;
                return Ok(());
            }
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
            Ok(())
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
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => self.refresh(&client, &refresh_token, scope).await,
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
            Grant::default(),
        )?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.tokens.access_token_ttl as u64,
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
        let exp = now + self.settings.tokens.access_token_ttl;
        // Decided before the code is consumed, so a replay finds the family
        // to revoke even if this request is still issuing.
        let family_id = client
            .allows_grant(GrantType::RefreshToken)
            .then(|| self.random.id());
        let issued = IssuedFromCode {
            access_token_jti: jti.clone(),
            access_token_expires_at: exp,
            family_id: family_id.clone(),
        };
        // What the presenter must prove is part of the redemption's guard: a
        // code shown by another client, or with the wrong redirect URI or
        // PKCE verifier, is refused and stays redeemable by its own client,
        // and such a presentation never counts as a replay (which would let
        // a stranger revoke the tokens the code gave its client).
        let challenge = verifier.challenge();
        let presenter = CodePresenter {
            client_id: &client.id,
            redirect_uri,
            code_challenge: &challenge,
        };
        let hash = token_hash(code.expose());
        let code = match self
            .store
            .redeem_code(&hash, &presenter, now, &issued)
            .await?
        {
            CodeRedemption::Redeemed(c) => c,
            CodeRedemption::NotFound => return Err(TokenError::Grant("unknown code")),
            CodeRedemption::WrongPresenter => {
                return Err(TokenError::Grant(
                    "code of another client, or wrong redirect_uri or PKCE verifier",
                ))
            }
            CodeRedemption::AlreadyUsed(c) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it gave.
                if let (Some(jti), Some(exp)) = (&c.access_token_jti, c.access_token_expires_at) {
                    self.revoke_jti(jti, exp, "code_replay").await?;
                }
                if let Some(fid) = &c.family_id {
                    self.teardown(Teardown {
                        now,
                        reason: "code_replay".into(),
                        families: vec![fid.clone()],
                        ..Teardown::default()
                    })
                    .await?;
                }
                self.audit_code_replay(&c).await;
                return Err(TokenError::Grant("code already used"));
            }
        };
        if code.is_expired(now) {
            return Err(TokenError::Grant("code expired"));
        }
        let user = match self.store.find_user(&code.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        let session_ended = || TokenError::Grant("the session that issued the code has ended");
        match self.store.find_session(&code.session_id).await? {
            Some(s) if s.is_active() => {}
            _ => return Err(session_ended()),
        }
        let refresh_token = match &family_id {
            Some(fid) => {
                let token = self.random.secret();
                let family = RefreshFamily {
                    id: fid.clone(),
                    user_id: user.id.clone(),
                    client_id: client.id.clone(),
                    session_id: code.session_id.clone(),
                    scope: code.scope.clone(),
                    auth_time: code.auth_time,
                    generation: 0,
                    revoked: false,
                    created_at: now,
                    last_used_at: now,
                    expires_at: now + self.settings.refresh.family_lifetime,
                    revoked_at: None,
                    revoked_reason: None,
                };
                let first = RefreshToken {
                    token_hash: token_hash(&token),
                    family_id: fid.clone(),
                    generation: 0,
                    created_at: now,
                    used_at: None,
                    access_token_jti: jti.clone(),
                    access_token_expires_at: exp,
                };
                // Checked again where it counts: the family is created
                // only while the session is live (a logout may have
                // committed since the read above).
                if !self.store.create_family(&family, &first).await? {
                    return Err(session_ended());
                }
                Some(token)
            }
            None => None,
        };
        let grant = Grant {
            auth_time: Some(code.auth_time),
            sid: Some(&code.session_id),
            fid: family_id.as_deref(),
        };
        let (access_token, _) =
            self.mint_access_token(&user.id, client, &code.scope, &jti, now, grant)?;
        let id_token = if code.scope.contains(Scope::OPENID) {
            // The client's registered algorithm; at_hash follows it.
            let id_alg = self.id_token_alg(client);
            let claims = IdTokenClaims {
                iss: self.settings.issuer.clone(),
                sub: user.id.clone(),
                aud: client.id.to_string(),
                azp: client.id.to_string(),
                exp: now + self.settings.tokens.id_token_ttl,
                iat: now,
                auth_time: code.auth_time,
                nonce: code.nonce.as_ref().map(|n| n.to_string()),
                at_hash: Some(left_half_hash(&access_token, id_alg.as_str())),
                sid: code.session_id.clone(),
            };
            Some(
                self.keys
                    .current()
                    .sign_with(id_alg, ID_TOKEN_TYP, &to_map(&claims)?)?
                    .token,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.tokens.access_token_ttl as u64,
            refresh_token,
            id_token,
            scope: code.scope.to_string(),
        })
    }

    /// The refresh grant (RFC 6749 §6) with rotation, reuse detection and,
    /// when configured, recovery of a lost response.
    async fn refresh(
        &self,
        client: &Client,
        presented: &Opaque,
        requested: Option<Scope>,
    ) -> Result<TokenResponse, TokenError> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(TokenError::Unauthorized("refresh_token"));
        }
        let now = self.now();
        let Some((token, family)) = self
            .store
            .find_refresh_token(&token_hash(presented.expose()))
            .await?
        else {
            return Err(TokenError::Grant("unknown refresh token"));
        };
        if family.client_id != client.id {
            // Not this client's: say nothing, change nothing.
            return Err(TokenError::Grant("refresh token of another client"));
        }
        if let Some(why) = self.family_death(&family, now).await? {
            tracing::info!(family = %family.id, why, "refresh refused");
            return Err(TokenError::Grant("refresh family is no longer usable"));
        }
        // What the family was granted, less whatever the client may no
        // longer ask for: narrowing a client's scope takes effect at its
        // next refresh, not when its families expire.
        let granted = family.scope.intersection(&client.scope);
        let scope = match requested {
            Some(s) if !s.is_subset(&granted) => {
                return Err(TokenError::Scope(
                    "a refresh may narrow the scope, never widen it".into(),
                ))
            }
            Some(s) => s,
            None => granted,
        };
        // The token this request consumes: the presented one, or, for a
        // recovery, its unused successor (which is revoked instead).
        let newest = if token.generation == family.generation {
            None
        } else {
            self.store
                .find_family_token(&family.id, family.generation)
                .await?
        };
        let successor_used = newest.as_ref().is_none_or(|n| n.used_at.is_some());
        let mut presentation = token.presentation(
            &family,
            successor_used,
            now,
            self.settings.refresh.recovery_window,
        );
        if presentation == RefreshPresentation::Retry
            && self
                .is_revoked(&[RevocationKey::Token(token.access_token_jti.clone()).to_key()])
                .await?
        {
            // Its access token was revoked by an earlier recovery: this
            // token was superseded, not lost. Retrying it is a replay.
            presentation = RefreshPresentation::Reuse;
        }
        let consumed = match presentation {
            RefreshPresentation::Current => token.clone(),
            RefreshPresentation::Retry => match newest {
                Some(n) => n,
                None => return Err(TokenError::Grant("refresh token already used")),
            },
            RefreshPresentation::Reuse => {
                return Err(self.refresh_reused(&family, token.generation, now).await?)
            }
        };
        // The one-second copy is enough: disabling or deleting a user also
        // revokes its families, which the rotation itself checks.
        let user = match self.user_copy(&family.user_id).await? {
            Some(u) if !u.disabled => u,
            _ => return Err(TokenError::Grant("user no longer exists or is disabled")),
        };
        let jti = self.random.id();
        let new_token = self.random.secret();
        let next = RefreshToken {
            token_hash: token_hash(&new_token),
            family_id: family.id.clone(),
            generation: family.generation + 1,
            created_at: now,
            used_at: None,
            access_token_jti: jti.clone(),
            access_token_expires_at: now + self.settings.tokens.access_token_ttl,
        };
        // The family's state is checked in the same transaction: a revoke
        // that answered first leaves this with nothing to rotate.
        if !self
            .store
            .rotate_refresh(&family.id, family.generation, &consumed.token_hash, &next)
            .await?
        {
            // Another request consumed the same token first: concurrent
            // presentations of one token are reuse too (docs/tokens.md), so
            // the outcome of a race never depends on its timing.
            return Err(self.refresh_reused(&family, token.generation, now).await?);
        }
        if consumed.token_hash != token.token_hash {
            // Recovery: the successor never reached the client; its access
            // token must not stay live either.
            self.revoke_jti(
                &consumed.access_token_jti,
                consumed.access_token_expires_at,
                "refresh_recovery",
            )
            .await?;
        }
        let grant = Grant {
            auth_time: Some(family.auth_time),
            sid: Some(&family.session_id),
            fid: Some(&family.id),
        };
        let (access_token, _) =
            self.mint_access_token(&user.id, client, &scope, &jti, now, grant)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.tokens.access_token_ttl as u64,
            refresh_token: Some(new_token),
            id_token: None,
            scope: scope.to_string(),
        })
    }

    /// A refresh token presented again: the whole family dies, the tokens
    /// of whoever used it first included (RFC 9700 §4.14.2).
    async fn refresh_reused(
        &self,
        family: &RefreshFamily,
        generation: i64,
        now: i64,
    ) -> Result<TokenError, CoreError> {
        self.teardown(Teardown {
            now,
            reason: "refresh_token_reuse".into(),
            families: vec![family.id.clone()],
            ..Teardown::default()
        })
        .await?;
        self.audit(crate::audit::Event {
            kind: "refresh_reuse",
            user_id: Some(&family.user_id),
            client_id: Some(family.client_id.as_str()),
            ip: None,
            detail: format!(
                "family {} revoked: generation {generation} presented again",
                family.id
            ),
        })
        .await;
        Ok(TokenError::Grant("refresh token already used"))
    }

    fn mint_access_token(
        &self,
        sub: &str,
        client: &Client,
        scope: &Scope,
        jti: &str,
        now: i64,
        grant: Grant<'_>,
    ) -> Result<(String, &'static str), CoreError> {
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.settings.access_token_audience().to_owned(),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            jti: jti.to_owned(),
            iat: now,
            exp: now + self.settings.tokens.access_token_ttl,
            auth_time: grant.auth_time,
            sid: grant.sid.map(str::to_owned),
            fid: grant.fid.map(str::to_owned),
        };
        let signed = self
            .keys
            .current()
            .sign(ACCESS_TOKEN_TYP, &to_map(&claims)?)?;
        Ok((signed.token, signed.alg))
    }
}

/// What ties an access token to a user's sign-in, for revocation.
#[derive(Debug, Clone, Copy, Default)]
struct Grant<'a> {
    auth_time: Option<i64>,
    sid: Option<&'a str>,
    fid: Option<&'a str>,
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

/// The claims of a token as a JSON object, for the signer. Anything else
/// is an internal error: a token is never signed with fewer claims than
/// it was built with.
pub(crate) fn to_map<T: serde::Serialize>(claims: &T) -> Result<Map<String, Value>, CoreError> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CoreError::Internal(
            "token claims are not a JSON object".into(),
        )),
        Err(e) => Err(CoreError::Internal(format!("token claims: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_that_are_not_an_object_are_never_signed() {
        assert!(to_map(&serde_json::json!({"sub": "u"})).is_ok());
        assert!(to_map(&"just a string").is_err());
        assert!(to_map(&vec![1, 2]).is_err());
        // A map with non-string keys cannot be JSON at all.
        let mut odd = std::collections::BTreeMap::new();
        odd.insert(vec![1u8], 1);
        assert!(to_map(&odd).is_err());
    }

    #[test]
    fn machine_scope_drops_user_scopes() {
        let s = Scope::parse("openid profile api:read api:write offline_access").unwrap();
        assert_eq!(machine_scope(&s).to_string(), "api:read api:write");
        assert!(machine_scope(&Scope::parse("openid").unwrap()).is_empty());
    }
}
