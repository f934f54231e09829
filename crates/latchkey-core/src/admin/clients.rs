//! Clients as operators manage them: from the command line's flags or the
//! admin API's RFC 7591 metadata, plus the settings only an operator may
//! set, secret rotation and deletion (which revokes every token).

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::{AuditEvent, RevokeReason};
use latchkey_domain::{Client, ClientAuthMethod, GrantType};
use latchkey_protocol::{ClientId, RedirectUri, Scope};

use super::*;
use crate::audit::Event;
use crate::error::CoreError;

/// An operator's settings of a client, beside its registration metadata;
/// `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ClientSettings {
    /// A resource server that may introspect any token.
    pub introspect: Option<bool>,
}

/// A client to register.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty means `authorization_code`.
    pub grant_types: Vec<GrantType>,
    /// Allowed scopes; `None` means `openid profile email`.
    pub scope: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post` for
    /// confidential clients.
    pub auth_method: Option<ClientAuthMethod>,
    /// `id_token_signed_response_alg`, among the enabled algorithms;
    /// `None` means the default (RS256 when enabled).
    pub id_token_alg: Option<SigningAlg>,
    /// Where RP-initiated logout may send the browser back (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// A resource server that may introspect any token.
    pub introspect: bool,
}

service! {
    /// Clients, as operators manage them: from the command line (settings by
    /// flag) and from the admin API (RFC 7591 metadata plus settings).
    pub struct AdminClients { store, clock, random, settings, secrets, caches, audit, registration }
}

impl AdminClients<'_> {
    /// Registers a client. The secret, for a confidential client, is
    /// returned once and only its keyed hash is stored.
    pub async fn create(&self, new: NewClient) -> Result<(Client, Option<String>), AdminError> {
        let name = latchkey_protocol::types::check_display_name(&new.name, false)
            .map_err(|e| AdminError::Invalid(format!("name {e}")))?;
        let mut grant_types = Vec::new();
        for &g in &new.grant_types {
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        if grant_types.is_empty() {
            grant_types.push(GrantType::AuthorizationCode);
        }
        if new.public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(AdminError::Invalid(
                "a public client cannot use client_credentials".into(),
            ));
        }
        let mut redirect_uris = Vec::new();
        for r in &new.redirect_uris {
            let uri = RedirectUri::parse_registrable(r, new.public)
                .map_err(|e| AdminError::Invalid(format!("redirect URI {r:?}: {e}")))?;
            if !redirect_uris.contains(&uri) {
                redirect_uris.push(uri);
            }
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(AdminError::Invalid(
                "the authorization_code grant needs at least one redirect URI".into(),
            ));
        }
        let mut post_logout_redirect_uris = Vec::new();
        for r in &new.post_logout_redirect_uris {
            let uri = RedirectUri::parse_registrable(r, new.public)
                .map_err(|e| AdminError::Invalid(format!("post-logout redirect URI {r:?}: {e}")))?;
            if !post_logout_redirect_uris.contains(&uri) {
                post_logout_redirect_uris.push(uri);
            }
        }
        let backchannel_logout_uri = match &new.backchannel_logout_uri {
            Some(u) => Some(
                RedirectUri::parse_registrable(u, false)
                    .map_err(|e| {
                        AdminError::Invalid(format!("back-channel logout URI {u:?}: {e}"))
                    })?
                    .into_string(),
            ),
            None => None,
        };
        let scope = Scope::parse(new.scope.as_deref().unwrap_or("openid profile email"))
            .map_err(|_| AdminError::Invalid("malformed scope".into()))?;
        let auth_method = if new.public {
            ClientAuthMethod::None
        } else {
            match new.auth_method {
                None => ClientAuthMethod::ClientSecretBasic,
                Some(m) if m.uses_secret() => m,
                Some(m) => {
                    return Err(AdminError::Invalid(format!(
                        "auth method {m} is not available here (client_secret_basic, client_secret_post)"
                    )));
                }
            }
        };
        let id_token_signed_response_alg = match new.id_token_alg {
            None => None,
            Some(alg) => Some(self.enabled_alg(alg)?),
        };
        let secret = auth_method.uses_secret().then(|| self.random.secret());
        let now = self.clock.unix();
        let client = Client {
            id: ClientId::parse(&self.random.id())
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            name: name.to_owned(),
            auth_method,
            secret_hash: secret.as_deref().map(|s| self.secrets.hash(s)),
            secret_expires_at: secret
                .as_ref()
                .and_then(|_| self.registration.secret_expiry(now)),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scope,
            backchannel_logout_uri,
            id_token_signed_response_alg,
            allowed_cors_origins: Vec::new(),
            introspect: new.introspect,
            created_at: now,
            updated_at: now,
        };
        // The record says an operator vouches for the client.
        let registration = latchkey_domain::ClientRegistration {
            by_operator: true,
            ..Default::default()
        };
        self.store
            .insert_registered_client(&client, &registration)
            .await?;
        Ok((client, secret))
    }

    pub async fn list(&self) -> Result<Vec<Client>, AdminError> {
        Ok(self.store.list_clients().await?)
    }

    pub async fn show(&self, id: &str) -> Result<Client, AdminError> {
        let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
        self.store
            .find_client(&id)
            .await?
            .ok_or(AdminError::NotFound("client"))
    }

    /// Changes an operator's settings of a client (those that dynamic
    /// registration never sets); each change is audited.
    pub async fn update_settings(
        &self,
        id: &str,
        settings: &ClientSettings,
    ) -> Result<Client, AdminError> {
        let mut client = self.show(id).await?;
        let mut changed = Vec::new();
        if let Some(introspect) = settings.introspect {
            if client.introspect != introspect {
                client.introspect = introspect;
                changed.push(format!("introspect={introspect}"));
            }
        }
        if changed.is_empty() {
            return Ok(client);
        }
        client.updated_at = self.clock.unix();
        if !self.store.update_client(&client).await? {
            return Err(AdminError::NotFound("client"));
        }
        self.caches.forget_client(client.id.as_str());
        self.audit
            .record(Event {
                kind: AuditEvent::ClientSettingsChanged,
                user_id: None,
                client_id: Some(client.id.as_str()),
                ip: None,
                detail: changed.join(", "),
            })
            .await;
        Ok(client)
    }

    /// Deletes a client and revokes every token it holds (see
    /// `registration::remove_client`).
    pub async fn delete(&self, id: &str) -> Result<(), AdminError> {
        let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
        if !self
            .registration
            .remove_client(&id, RevokeReason::ClientDeletedByOperator)
            .await?
        {
            return Err(AdminError::NotFound("client"));
        }
        Ok(())
    }

    /// An algorithm name that is enabled in `[keys] algorithms`.
    fn enabled_alg(&self, alg: SigningAlg) -> Result<SigningAlg, AdminError> {
        let enabled = &self.settings.keys.algorithms;
        if enabled.contains(&alg) {
            return Ok(alg);
        }
        let names: Vec<&str> = enabled.iter().map(|a| a.as_str()).collect();
        Err(AdminError::Invalid(format!(
            "ID-token algorithm {alg} is not enabled (enabled: {})",
            names.join(", ")
        )))
    }

    /// Registers a client from RFC 7591 metadata, by an operator: the same
    /// rules as `POST /register`, without a registration access token.
    pub async fn register(
        &self,
        metadata: &latchkey_protocol::registration::ClientMetadata,
        settings: &ClientSettings,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let valid = self
            .settings
            .validate_metadata(metadata, true)
            .map_err(AdminError::Metadata)?;
        let (created, secret) = self
            .registration
            .insert_client_from(&valid, None, true)
            .await?;
        self.audit
            .record(Event {
                kind: AuditEvent::ClientRegistered,
                user_id: None,
                client_id: Some(created.client.id.as_str()),
                ip: None,
                detail: "by an operator".into(),
            })
            .await;
        let created = self.apply_settings(created, settings).await?;
        Ok(self.admin_information(&created, secret))
    }

    /// A client with its registration record (an empty one for clients
    /// added before registration existed).
    pub async fn with_registration(
        &self,
        id: &str,
    ) -> Result<crate::registration::RegisteredClient, AdminError> {
        let client = self.show(id).await?;
        let registration = self
            .store
            .find_registration(&client.id)
            .await?
            .unwrap_or_default();
        Ok(crate::registration::RegisteredClient {
            client,
            registration,
        })
    }

    pub async fn information(
        &self,
        id: &str,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let c = self.with_registration(id).await?;
        Ok(self.admin_information(&c, None))
    }

    pub async fn list_information(
        &self,
    ) -> Result<Vec<latchkey_protocol::registration::ClientInformation>, AdminError> {
        let mut out = Vec::new();
        for client in self.store.list_clients().await? {
            let registration = self
                .store
                .find_registration(&client.id)
                .await?
                .unwrap_or_default();
            let c = crate::registration::RegisteredClient {
                client,
                registration,
            };
            out.push(self.admin_information(&c, None));
        }
        Ok(out)
    }

    /// Replaces a client's metadata (PUT semantics, the registration rules).
    pub async fn replace_metadata(
        &self,
        id: &str,
        metadata: &latchkey_protocol::registration::ClientMetadata,
        settings: &ClientSettings,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let current = self.with_registration(id).await?;
        let valid = self
            .settings
            .validate_metadata(metadata, true)
            .map_err(AdminError::Metadata)?;
        let (updated, secret) = self
            .registration
            .replace_metadata(current, &valid, true)
            .await?;
        let updated = self.apply_settings(updated, settings).await?;
        Ok(self.admin_information(&updated, secret))
    }

    /// Applies an operator's settings to a client just written.
    async fn apply_settings(
        &self,
        mut c: crate::registration::RegisteredClient,
        settings: &ClientSettings,
    ) -> Result<crate::registration::RegisteredClient, AdminError> {
        if *settings != ClientSettings::default() {
            c.client = self.update_settings(c.client.id.as_str(), settings).await?;
        }
        Ok(c)
    }

    /// A client as the admin API shows it: its metadata and Latchkey's own
    /// settings.
    fn admin_information(
        &self,
        c: &crate::registration::RegisteredClient,
        secret: Option<String>,
    ) -> latchkey_protocol::registration::ClientInformation {
        let mut info = self.registration.client_information(c, secret, None, None);
        info.introspect = Some(c.client.introspect);
        info
    }

    /// A new secret for a confidential client; the old one keeps working
    /// for `[registration] secret_grace` seconds.
    pub async fn rotate_secret(&self, id: &str) -> Result<(Client, String), AdminError> {
        let client = self.show(id).await?;
        self.registration
            .rotate_secret_of(&client)
            .await
            .map_err(|e| match e {
                crate::registration::RotateError::NoSecret => {
                    AdminError::Invalid("this client does not authenticate with a secret".into())
                }
                crate::registration::RotateError::Raced => {
                    AdminError::Invalid("the secret changed meanwhile; retry".into())
                }
                crate::registration::RotateError::Core(e) => AdminError::Core(e),
            })
    }
}
