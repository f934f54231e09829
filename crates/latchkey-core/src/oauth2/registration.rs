//! Dynamic client registration (RFC 7591) and management (RFC 7592):
//! `POST /register`, `GET|PUT|DELETE /register/{client_id}` and
//! `POST /register/{client_id}/secret`, plus the pieces the admin service
//! shares with them (building a client from validated metadata, rotating a
//! secret with a grace period, deleting a client with every token it has).
//!
//! Registration is closed unless the request carries an unused initial
//! access token, or the operator opened it. The management endpoints take
//! the registration access token issued with the client; a wrong token and
//! an unknown client get the same 401, so nobody learns which ids exist.
//! Each read and update answers with a new registration access token
//! (RFC 7592 §3) and the presented one stops working at once: a
//! compare-and-swap on the stored hash, so of concurrent calls with one
//! token exactly one gets a working successor.

use latchkey_domain::{AuditEvent, RevokeReason};
use latchkey_domain::{
    Client, ClientRegistration, GrantType, RegistrationTokenRotation, RevocationKey, RevokedToken,
    SecretRotation, StoreError,
};
use latchkey_protocol::registration::{ClientInformation, ClientMetadata, ValidClientMetadata};
use latchkey_protocol::{ClientId, ErrorCode, OAuthError, ResponseType};
use subtle::ConstantTimeEq;

use crate::audit::Event;
use crate::error::CoreError;
use crate::secrets::token_hash;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// No, a wrong, used-up or expired token (401 `invalid_token`).
    #[error("not authorized: {0}")]
    Unauthorized(&'static str),
    /// The metadata broke a rule (RFC 7591 §3.2.2).
    #[error("refused metadata: {0}")]
    Metadata(OAuthError),
    /// A well-formed request that cannot apply to this client.
    #[error("invalid request: {0}")]
    Request(String),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for RegistrationError {
    fn from(e: StoreError) -> Self {
        RegistrationError::Core(e.into())
    }
}

impl RegistrationError {
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            RegistrationError::Unauthorized(_) => OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is missing, invalid, expired or used up",
            ),
            RegistrationError::Metadata(e) => e.clone(),
            RegistrationError::Request(m) => OAuthError::invalid_request(m.clone()),
            RegistrationError::Core(e) => e.to_oauth(),
        }
    }

    /// Whether the answer is a 401 with a Bearer challenge.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, RegistrationError::Unauthorized(_))
    }
}

/// A client with its registration record.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: Client,
    pub registration: ClientRegistration,
}

service! {
    /// `POST /register` (RFC 7591) and `/register/{client_id}` (RFC 7592), and
    /// what the admin service shares with them.
    pub struct RegistrationEndpoint { store, clock, random, settings, secrets, caches, audit, revocations }
}

impl RegistrationEndpoint<'_> {
    /// `POST /register`: with an initial access token, or without one when
    /// registration is open. The token is checked first, spent only once
    /// the metadata is valid, and the client gets a registration access
    /// token for RFC 7592.
    pub async fn register_client(
        &self,
        initial_token: Option<&str>,
        metadata: &ClientMetadata,
        registration_uri: impl Fn(&ClientId) -> String,
    ) -> Result<ClientInformation, RegistrationError> {
        let now = self.clock.unix();
        let hash = initial_token.map(token_hash);
        match &hash {
            Some(h) => match self.store.find_initial_token(h.as_str()).await? {
                Some(t) if t.usable(now) => {}
                _ => {
                    return Err(RegistrationError::Unauthorized(
                        "unknown or used-up initial token",
                    ))
                }
            },
            None if self.settings.registration.open => {}
            None => return Err(RegistrationError::Unauthorized("registration is closed")),
        }
        let valid = self
            .settings
            .validate_metadata(metadata, false)
            .map_err(RegistrationError::Metadata)?;
        if let Some(h) = &hash {
            // The conditional update decides races for the last use.
            if !self.store.consume_initial_token(h.as_str(), now).await? {
                return Err(RegistrationError::Unauthorized("initial token used up"));
            }
        }
        let rat = self.random.secret();
        let (created, secret) = self
            .insert_client_from(&valid, Some(token_hash(&rat).into_string()), false)
            .await?;
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientRegistered,
                created.client.id.as_str(),
                format!(
                    "dynamic registration ({}, {})",
                    if initial_token.is_some() {
                        "initial access token"
                    } else {
                        "open"
                    },
                    created.client.auth_method.as_str()
                ),
            ))
            .await;
        let uri = registration_uri(&created.client.id);
        Ok(self.client_information(&created, secret, Some(rat), Some(uri)))
    }

    /// The client a registration access token manages. An unknown client,
    /// a client without such a token (an operator's) and a wrong token are
    /// the same 401.
    pub async fn registered_client(
        &self,
        client_id: &str,
        rat: &str,
    ) -> Result<RegisteredClient, RegistrationError> {
        let denied = RegistrationError::Unauthorized("wrong registration access token");
        let Ok(id) = ClientId::parse(client_id) else {
            return Err(denied);
        };
        let (Some(client), Some(registration)) = (
            self.store.find_client(&id).await?,
            self.store.find_registration(&id).await?,
        ) else {
            return Err(denied);
        };
        let presented = token_hash(rat);
        let ok = registration
            .registration_token_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(presented.as_str().as_bytes())));
        if !ok {
            return Err(denied);
        }
        Ok(RegisteredClient {
            client,
            registration,
        })
    }

    /// A successor for the presented registration access token: the
    /// rotation to store and the token to return.
    fn next_token(&self, rat: &str) -> (RegistrationTokenRotation, String) {
        let token = self.random.secret();
        let rotation = RegistrationTokenRotation {
            seen_hash: token_hash(rat).into_string(),
            new_hash: token_hash(&token).into_string(),
        };
        (rotation, token)
    }

    /// `GET /register/{client_id}`: the registration, with a new
    /// registration access token that replaces the presented one.
    pub async fn read_registration(
        &self,
        client_id: &str,
        rat: &str,
        registration_uri: String,
    ) -> Result<ClientInformation, RegistrationError> {
        let mut c = self.registered_client(client_id, rat).await?;
        let (rotation, token) = self.next_token(rat);
        if !self
            .store
            .rotate_registration_token(&c.client.id, &rotation)
            .await?
        {
            return Err(RegistrationError::Unauthorized(
                "registration access token rotated meanwhile",
            ));
        }
        c.registration.registration_token_hash = Some(rotation.new_hash);
        Ok(self.client_information(&c, None, Some(token), Some(registration_uri)))
    }

    /// `PUT /register/{client_id}` (RFC 7592 §2.2): the body replaces every
    /// metadata member (omitted ones fall back to their defaults). It must
    /// name the client, and a `client_secret` in it must be the current
    /// one. The secret is kept; a client that starts using a secret gets
    /// one (returned once), one that stops loses it. A refused update
    /// changes nothing, the token included; an accepted one answers with a
    /// new registration access token, written with the metadata.
    pub async fn update_registration(
        &self,
        client_id: &str,
        rat: &str,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
        metadata: &ClientMetadata,
        registration_uri: String,
    ) -> Result<ClientInformation, RegistrationError> {
        let current = self.registered_client(client_id, rat).await?;
        if body_client_id != Some(current.client.id.as_str()) {
            return Err(RegistrationError::Request(
                "the body must carry the client_id of the client being updated".into(),
            ));
        }
        if let Some(s) = body_secret {
            let matches = current
                .client
                .secret_hash
                .as_deref()
                .is_some_and(|h| self.secrets.verify(s, h));
            if !matches {
                return Err(RegistrationError::Request(
                    "client_secret does not match the current secret".into(),
                ));
            }
        }
        let valid = self
            .settings
            .validate_metadata(metadata, false)
            .map_err(RegistrationError::Metadata)?;
        // A client an operator put on the FAPI 2.0 profile stays fit for it.
        if current.client.fapi2 && !fits_fapi2(&valid, current.client.pkce) {
            return Err(RegistrationError::Metadata(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "this client follows the FAPI 2.0 profile: it keeps private_key_jwt and https redirect URIs",
            )));
        }
        let (rotation, token) = self.next_token(rat);
        let Some((updated, secret)) = self
            .replace_metadata(current, &valid, false, false, Some(&rotation))
            .await?
        else {
            return Err(RegistrationError::Unauthorized(
                "registration access token rotated meanwhile",
            ));
        };
        Ok(self.client_information(&updated, secret, Some(token), Some(registration_uri)))
    }

    /// `DELETE /register/{client_id}`: the client and every token it
    /// holds, only while the presented token is still the current one.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        rat: &str,
    ) -> Result<(), RegistrationError> {
        let c = self.registered_client(client_id, rat).await?;
        let seen = token_hash(rat);
        if !self
            .remove_client(
                &c.client.id,
                RevokeReason::ClientDeletedByRegistrant,
                Some(seen.as_str()),
            )
            .await?
        {
            return Err(RegistrationError::Unauthorized(
                "registration access token rotated meanwhile",
            ));
        }
        Ok(())
    }

    /// `POST /register/{client_id}/secret`: a new secret (the old one keeps
    /// working for the grace period) and, as a read or an update does, a
    /// new registration access token that replaces the presented one. So a
    /// stolen token mints a secret once at most, and its use locks the
    /// other holder out, who then notices.
    pub async fn rotate_registered_secret(
        &self,
        client_id: &str,
        rat: &str,
        registration_uri: String,
    ) -> Result<ClientInformation, RegistrationError> {
        let c = self.registered_client(client_id, rat).await?;
        let no_secret =
            || RegistrationError::Request("this client does not authenticate with a secret".into());
        if c.client.secret_hash.is_none() {
            return Err(no_secret());
        }
        // The presented token is spent first: of several calls with it,
        // one goes on.
        let (rotation, token) = self.next_token(rat);
        if !self
            .store
            .rotate_registration_token(&c.client.id, &rotation)
            .await?
        {
            return Err(RegistrationError::Unauthorized(
                "registration access token rotated meanwhile",
            ));
        }
        let mut registration = c.registration;
        registration.registration_token_hash = Some(rotation.new_hash);
        // An operator rotating the secret at the same moment: once more on
        // what is stored now, since the caller already holds a new token.
        let mut client = c.client;
        let mut tries = 3;
        let (client, secret) = loop {
            match self.rotate_secret_of(&client).await {
                Ok(done) => break done,
                Err(RotateError::Raced) if tries > 1 => {
                    tries -= 1;
                    client = self
                        .store
                        .find_client(&client.id)
                        .await?
                        .ok_or(RegistrationError::Unauthorized("the client is gone"))?;
                }
                Err(RotateError::Raced) => {
                    return Err(RegistrationError::Request(
                        "the secret keeps changing; ask the operator".into(),
                    ))
                }
                Err(RotateError::NoSecret) => return Err(no_secret()),
                Err(RotateError::Core(e)) => return Err(RegistrationError::Core(e)),
            }
        };
        let rotated = RegisteredClient {
            client,
            registration,
        };
        Ok(self.client_information(&rotated, Some(secret), Some(token), Some(registration_uri)))
    }

    // ------------------------------------------------ shared with admin

    /// Inserts a client built from validated metadata; returns it and its
    /// secret (shown once).
    pub(crate) async fn insert_client_from(
        &self,
        valid: &ValidClientMetadata,
        registration_token_hash: Option<String>,
        by_operator: bool,
    ) -> Result<(RegisteredClient, Option<String>), CoreError> {
        let now = self.clock.unix();
        let id =
            ClientId::parse(&self.random.id()).map_err(|e| CoreError::Internal(e.to_string()))?;
        let secret = valid.uses_secret().then(|| self.random.secret());
        let mut client = client_from(id, valid, now, now);
        client.secret_hash = secret.as_deref().map(|s| self.secrets.hash(s));
        client.secret_expires_at = secret.as_ref().and_then(|_| self.secret_expiry(now));
        let registration = registration_from(valid, registration_token_hash, by_operator);
        self.store
            .insert_registered_client(&client, &registration)
            .await?;
        Ok((
            RegisteredClient {
                client,
                registration,
            },
            secret,
        ))
    }

    /// Replaces a client's metadata, keeping its id, creation time, secret
    /// and registration access token (unless `rotation` replaces it, in the
    /// same transaction); `by_operator` says who sent it (and goes in the
    /// audit record). It also sets the operator's vouching afresh
    /// (`vouches`, never true for a registrant), so a registrant's update
    /// never keeps an operator's. None, having
    /// changed nothing, if the client is gone or `rotation` no longer
    /// applies (its token was rotated meanwhile).
    pub(crate) async fn replace_metadata(
        &self,
        current: RegisteredClient,
        valid: &ValidClientMetadata,
        by_operator: bool,
        vouches: bool,
        rotation: Option<&RegistrationTokenRotation>,
    ) -> Result<Option<(RegisteredClient, Option<String>)>, CoreError> {
        let now = self.clock.unix();
        let old = current.client;
        let mut client = client_from(old.id.clone(), valid, old.created_at, now);
        // Operator's settings, not registration metadata: kept, except an
        // opt-out that a client turned public may not keep.
        client.introspect = old.introspect;
        client.require_mfa = old.require_mfa;
        client.fapi2 = old.fapi2;
        client.resources = old.resources.clone();
        // A protection once on stays on through a registrant's update: only
        // an operator turns it off (`latchkey client update`).
        client.require_par |= old.require_par;
        client.dpop_bound |= old.dpop_bound;
        let dropped = client.keep_compat_of(&old);
        let mut secret = None;
        if valid.uses_secret() {
            if old.secret_hash.is_some() {
                client.secret_hash = old.secret_hash;
                client.secret_expires_at = old.secret_expires_at;
                client.previous_secret_hash = old.previous_secret_hash;
                client.previous_secret_expires_at = old.previous_secret_expires_at;
            } else {
                let s = self.random.secret();
                client.secret_hash = Some(self.secrets.hash(&s));
                client.secret_expires_at = self.secret_expiry(now);
                secret = Some(s);
            }
        }
        let token_hash = match rotation {
            Some(r) => Some(r.new_hash.clone()),
            None => current.registration.registration_token_hash,
        };
        let registration = registration_from(valid, token_hash, by_operator && vouches);
        if !self
            .store
            .update_registered_client(&client, &registration, rotation)
            .await?
        {
            return Ok(None);
        }
        self.caches.forget_client(client.id.as_str());
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientUpdated,
                client.id.as_str(),
                if by_operator {
                    "metadata replaced by an operator"
                } else {
                    "metadata replaced through RFC 7592"
                },
            ))
            .await;
        if !dropped.is_empty() {
            self.audit
                .record(Event::about_client(
                    AuditEvent::ClientCompatChanged,
                    client.id.as_str(),
                    format!("{} (the client became public)", dropped.join(", ")),
                ))
                .await;
        }
        Ok(Some((
            RegisteredClient {
                client,
                registration,
            },
            secret,
        )))
    }

    /// A new secret for a confidential client. The old one keeps working
    /// for `registration.secret_grace` seconds, but never past its own
    /// expiry: a rotation must not revive an expired secret.
    pub(crate) async fn rotate_secret_of(
        &self,
        client: &Client,
    ) -> Result<(Client, String), RotateError> {
        if !client.auth_method.uses_secret() {
            return Err(RotateError::NoSecret);
        }
        let now = self.clock.unix();
        let secret = self.random.secret();
        let mut grace_until = now + self.settings.registration.secret_grace;
        if let Some(exp) = client.secret_expires_at {
            grace_until = grace_until.min(exp);
        }
        let rotation = SecretRotation {
            seen_hash: client.secret_hash.clone(),
            new_hash: self.secrets.hash(&secret),
            new_expires_at: self.secret_expiry(now),
            previous_expires_at: grace_until,
            now,
        };
        if !self
            .store
            .rotate_client_secret(&client.id, &rotation)
            .await
            .map_err(|e| RotateError::Core(e.into()))?
        {
            return Err(RotateError::Raced);
        }
        self.caches.forget_client(client.id.as_str());
        let mut rotated = client.clone();
        rotated.previous_secret_hash = client.secret_hash.clone();
        rotated.previous_secret_expires_at = Some(grace_until);
        rotated.secret_hash = Some(rotation.new_hash);
        rotated.secret_expires_at = rotation.new_expires_at;
        rotated.updated_at = now;
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientSecretRotated,
                client.id.as_str(),
                format!("previous secret accepted until {grace_until}"),
            ))
            .await;
        Ok((rotated, secret))
    }

    /// Deletes a client and kills every token it holds: one transaction
    /// records a client-wide revocation (every access token carries its
    /// `client_id`) and deletes the client, whose codes, consents and
    /// refresh families go with it. With `token_hash`, only while that is
    /// the client's registration access token hash. False, changing
    /// nothing, if there was no such client or the token changed.
    pub(crate) async fn remove_client(
        &self,
        id: &ClientId,
        reason: RevokeReason,
        token_hash: Option<&str>,
    ) -> Result<bool, CoreError> {
        let now = self.clock.unix();
        let revocation = RevokedToken {
            key: RevocationKey::Client(id.as_str().to_owned()).to_key(),
            expires_at: now + self.settings.revocation_ttl(),
            revoked_at: now,
            reason,
        };
        if !self
            .store
            .delete_client_revoking(id, &revocation, token_hash)
            .await?
        {
            return Ok(false);
        }
        self.caches.forget_client(id.as_str());
        self.revocations.spread(&[revocation]).await;
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientDeleted,
                id.as_str(),
                format!("{reason}; every token of the client revoked"),
            ))
            .await;
        Ok(true)
    }

    /// When a secret issued now expires (`registration.secret_lifetime`),
    /// whichever way it is issued.
    pub(crate) fn secret_expiry(&self, now: i64) -> Option<i64> {
        let lifetime = self.settings.registration.secret_lifetime;
        (lifetime > 0).then(|| now + lifetime)
    }

    /// The RFC 7591 §3.2.1 / RFC 7592 §3 answer.
    pub fn client_information(
        &self,
        c: &RegisteredClient,
        secret: Option<String>,
        registration_access_token: Option<String>,
        registration_client_uri: Option<String>,
    ) -> ClientInformation {
        let client = &c.client;
        let r = &c.registration;
        let code = client.allows_grant(GrantType::AuthorizationCode);
        ClientInformation {
            client_id: client.id.to_string(),
            client_secret: secret,
            client_id_issued_at: client.created_at,
            client_secret_expires_at: client
                .secret_hash
                .as_ref()
                .map(|_| client.secret_expires_at.unwrap_or(0)),
            registration_access_token,
            registration_client_uri,
            redirect_uris: client.redirect_uris.iter().map(|u| u.to_string()).collect(),
            token_endpoint_auth_method: client.auth_method,
            grant_types: client.grant_types.clone(),
            response_types: if code {
                vec![ResponseType::Code]
            } else {
                vec![]
            },
            client_name: client.name.clone(),
            client_uri: r.client_uri.clone(),
            logo_uri: r.logo_uri.clone(),
            scope: client.scope.to_string(),
            contacts: r.contacts.clone(),
            tos_uri: r.tos_uri.clone(),
            policy_uri: r.policy_uri.clone(),
            jwks_uri: r.jwks_uri.clone(),
            jwks: r.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            id_token_signed_response_alg: client.id_token_signed_response_alg,
            post_logout_redirect_uris: client
                .post_logout_redirect_uris
                .iter()
                .map(|u| u.to_string())
                .collect(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            allowed_cors_origins: client.allowed_cors_origins.clone(),
            require_pushed_authorization_requests: client.require_par,
            dpop_bound_access_tokens: client.dpop_bound,
            introspect: None,
            require_mfa: None,
            resources: None,
            fapi2: None,
            pkce: None,
            nonce: None,
            warnings: None,
        }
    }
}

#[derive(Debug)]
pub(crate) enum RotateError {
    NoSecret,
    Raced,
    Core(CoreError),
}

/// Whether a client with this metadata can follow the FAPI 2.0 profile:
/// `private_key_jwt`, https redirect URIs, PKCE not optional.
pub(crate) fn fits_fapi2(valid: &ValidClientMetadata, pkce: latchkey_domain::Requirement) -> bool {
    valid.token_endpoint_auth_method == latchkey_domain::ClientAuthMethod::PrivateKeyJwt
        && valid
            .redirect_uris
            .iter()
            .all(|u| u.url().scheme() == "https")
        && !pkce.is_optional()
}

/// The client row for validated metadata (without its secret).
fn client_from(id: ClientId, v: &ValidClientMetadata, created_at: i64, now: i64) -> Client {
    // The consent page must name the application somehow: the metadata's
    // name (its own, or its site's host, checked by the protocol rules),
    // else its id.
    let name = v
        .client_name
        .clone()
        .unwrap_or_else(|| format!("Client {id}"));
    Client {
        name,
        auth_method: v.token_endpoint_auth_method,
        secret_hash: None,
        secret_expires_at: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: v.redirect_uris.clone(),
        post_logout_redirect_uris: v.post_logout_redirect_uris.clone(),
        grant_types: v.grant_types.clone(),
        scope: v.scope.clone(),
        backchannel_logout_uri: v.backchannel_logout_uri.clone(),
        id_token_signed_response_alg: v.id_token_signed_response_alg,
        allowed_cors_origins: v.allowed_cors_origins.clone(),
        introspect: false,
        require_mfa: false,
        require_par: v.require_pushed_authorization_requests,
        dpop_bound: v.dpop_bound_access_tokens,
        // An operator's grant: never from registration metadata.
        resources: latchkey_domain::Resources::default(),
        fapi2: false,
        // Operator's opt-outs: never from registration metadata.
        pkce: latchkey_domain::Requirement::Required,
        nonce: latchkey_domain::Requirement::Required,
        created_at,
        updated_at: now,
        id,
    }
}

fn registration_from(
    v: &ValidClientMetadata,
    token_hash: Option<String>,
    by_operator: bool,
) -> ClientRegistration {
    ClientRegistration {
        registration_token_hash: token_hash,
        jwks: v.jwks.clone(),
        jwks_uri: v.jwks_uri.clone(),
        client_uri: v.client_uri.clone(),
        logo_uri: v.logo_uri.clone(),
        policy_uri: v.policy_uri.clone(),
        tos_uri: v.tos_uri.clone(),
        contacts: v.contacts.clone(),
        by_operator,
    }
}
