//! Token introspection (RFC 7662) for resource servers, which are
//! registered confidential clients. Anything not known to be live, whatever
//! the reason, is `{"active": false}`, and so is a token the caller may not
//! learn about: a client sees the tokens issued to it and those whose
//! audience names it; a client an administrator marked as a resource
//! server (`introspect`) sees every token.

use latchkey_protocol::claims::{Confirmation, Introspection};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::resource::Audience;
use latchkey_protocol::TokenTypeHint;
use latchkey_protocol::{ErrorCode, OAuthError};

use crate::error::CoreError;
use crate::oauth2::client_auth::ClientAuthError;
use crate::secrets::token_hash;
use crate::userinfo::BearerError;

/// Why an introspection request was refused (RFC 7662 §2.3). An unknown,
/// expired or hidden token is not an error: it is `{"active": false}`.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    #[error("public clients may not introspect")]
    PublicClient,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<latchkey_domain::StoreError> for IntrospectError {
    fn from(e: latchkey_domain::StoreError) -> Self {
        IntrospectError::Core(e.into())
    }
}

impl IntrospectError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            IntrospectError::ClientAuth(e) => e.to_oauth(),
            // Said as a failed authentication: a public client has no
            // credentials that could make it a resource server.
            IntrospectError::PublicClient => {
                OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
            }
            IntrospectError::Core(e) => e.to_oauth(),
        }
    }
}

service! {
    /// `POST /introspect` (RFC 7662).
    pub struct IntrospectEndpoint { store, clock, settings, clients, liveness }
}

impl IntrospectEndpoint<'_> {
    /// `POST /introspect`.
    pub async fn handle(
        &self,
        auth: &ClientAuthentication,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Introspection, IntrospectError> {
        let client = self.clients.authenticate(auth).await?;
        if client.is_public() {
            return Err(IntrospectError::PublicClient);
        }
        if token.len() > 8192 {
            return Ok(Introspection::default());
        }
        let looks_like_jwt = token.split('.').count() == 3;
        if looks_like_jwt || TokenTypeHint::from_param(hint) == Some(TokenTypeHint::AccessToken) {
            // Introspection answers for a token of any audience (RFC 8707):
            // which resource server may see it is `may_see`'s question.
            match self.liveness.access_token_of_any_audience(token).await {
                Ok(c) if !may_see(&client, &c.client_id, Some(&c.aud)) => {
                    return Ok(Introspection::default())
                }
                Ok(c) => {
                    return Ok(Introspection {
                        active: true,
                        scope: Some(c.scope),
                        client_id: Some(c.client_id),
                        sub: Some(c.sub),
                        exp: Some(c.exp),
                        iat: Some(c.iat),
                        iss: Some(c.iss),
                        aud: Some(c.aud),
                        // RFC 9449 §6.2: a bound token says so, and to
                        // which key.
                        token_type: Some(match &c.cnf {
                            Some(_) => latchkey_protocol::dpop::TOKEN_TYPE,
                            None => "Bearer",
                        }),
                        jti: Some(c.jti),
                        cnf: c.cnf,
                    });
                }
                Err(BearerError::Core(e)) => return Err(IntrospectError::Core(e)),
                Err(_) if looks_like_jwt => return Ok(Introspection::default()),
                Err(_) => {}
            }
        }
        // A refresh token: only its own client (or a marked resource
        // server) learns about it.
        let now = self.clock.unix();
        let Some((t, family)) = self.store.find_refresh_token(&token_hash(token)).await? else {
            return Ok(Introspection::default());
        };
        let live = may_see(&client, family.client_id.as_str(), None)
            && t.used_at.is_none()
            && t.generation == family.generation
            && self.liveness.family(&family, now).await?.is_none();
        if !live {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(family.scope.to_string()),
            client_id: Some(family.client_id.to_string()),
            sub: Some(family.user_id.to_string()),
            exp: Some(
                family
                    .expires_at
                    .min(family.last_used_at + self.settings.refresh.idle_timeout),
            ),
            iat: Some(t.created_at),
            iss: Some(self.settings.issuer.clone()),
            aud: None,
            token_type: Some("refresh_token"),
            jti: None,
            cnf: family.dpop_jkt.as_ref().map(|j| Confirmation {
                jkt: j.as_str().to_owned(),
            }),
        })
    }
}

/// Whether `client` may learn about a token issued to `holder` for `aud`.
fn may_see(client: &latchkey_domain::Client, holder: &str, aud: Option<&Audience>) -> bool {
    client.introspect
        || client.id.as_str() == holder
        || aud.is_some_and(|aud| {
            aud.contains(client.id.as_str())
                || client.resources.iter().any(|r| aud.contains(r.as_str()))
        })
}
