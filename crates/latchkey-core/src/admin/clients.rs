//! Clients as operators manage them: from the command line's flags or the
//! admin API's RFC 7591 metadata, plus the settings only an operator may
//! set, secret rotation and deletion (which revokes every token).

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::{AuditEvent, Requirement, RevokeReason};
use latchkey_domain::{Client, ClientAuthMethod, GrantType};
use latchkey_protocol::{ClientId, RedirectUri, Scope};

use super::*;
use crate::audit::Event;
use crate::error::CoreError;

/// An operator's settings of a client, beside its registration metadata;
/// `None` leaves a setting as it is. The admin API reads them from the
/// same JSON object as the metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ClientSettings {
    /// A resource server that may introspect any token.
    pub introspect: Option<bool>,
    /// Whether authorization requests must carry PKCE (S256); `optional`
    /// for confidential clients only.
    pub pkce: Option<Requirement>,
    /// Whether OpenID requests must carry a `nonce`; `optional` for
    /// confidential clients only.
    pub nonce: Option<Requirement>,
    /// Every sign-in to the client needs a second factor.
    pub require_mfa: Option<bool>,
    /// Its authorization requests must be pushed (RFC 9126 §6).
    pub require_par: Option<bool>,
    /// Its access tokens must be DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound: Option<bool>,
    /// The resources (RFC 8707) it may ask tokens for beyond every
    /// client's; replaces the list.
    pub resources: Option<Vec<String>>,
    /// It follows the FAPI 2.0 Security Profile (a `private_key_jwt`
    /// client with https redirect URIs).
    pub fapi2: Option<bool>,
}

impl ClientSettings {
    /// Whether these settings ask for an opt-out that a client with this
    /// metadata may not have, or a profile it cannot follow.
    fn check_for(
        &self,
        valid: &latchkey_protocol::registration::ValidClientMetadata,
    ) -> Result<(), AdminError> {
        let pkce = self.pkce.unwrap_or_default();
        latchkey_domain::check_compat(
            valid.token_endpoint_auth_method,
            pkce,
            self.nonce.unwrap_or_default(),
        )
        .map_err(|e| AdminError::Invalid(e.into()))?;
        if self.fapi2 == Some(true) && !crate::registration::fits_fapi2(valid, pkce) {
            return Err(AdminError::Invalid(
                "the FAPI 2.0 profile needs a private_key_jwt client with https redirect URIs and PKCE".into(),
            ));
        }
        Ok(())
    }
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
    /// Browser origins that may call `/token` and `/revoke` for it (CORS).
    pub allowed_cors_origins: Vec<String>,
    /// A resource server that may introspect any token.
    pub introspect: bool,
    /// `optional` only for a confidential client.
    pub pkce: Requirement,
    /// `optional` only for a confidential client.
    pub nonce: Requirement,
    /// Every sign-in to it needs a second factor.
    pub require_mfa: bool,
    /// Its authorization requests must be pushed (RFC 9126 §6).
    pub require_par: bool,
    /// Its access tokens must be DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound: bool,
    /// The resources (RFC 8707) it may ask tokens for beyond every
    /// client's.
    pub resources: Vec<String>,
}

/// Changes to a client by an operator: every setting [`NewClient`] takes
/// except whether the client is public. `None` leaves a setting as it is;
/// a list replaces the whole list.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scope: Option<String>,
    /// Between `client_secret_basic` and `client_secret_post` only.
    pub auth_method: Option<ClientAuthMethod>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// The empty text removes it.
    pub backchannel_logout_uri: Option<String>,
    /// `Some(None)` goes back to the server's default algorithm.
    pub id_token_alg: Option<Option<SigningAlg>>,
    pub allowed_cors_origins: Option<Vec<String>>,
    pub settings: ClientSettings,
}

/// A client whose opt-outs from the strict defaults deserve a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatWarning {
    pub client_id: ClientId,
    pub name: String,
    pub warnings: Vec<&'static str>,
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
        let name = checked_name(&new.name)?;
        let grant_types = checked_grants(&new.grant_types, new.public)?;
        let redirect_uris = checked_uris(&new.redirect_uris, new.public, "redirect URI")?;
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(no_redirect_uri());
        }
        let post_logout_redirect_uris = checked_uris(
            &new.post_logout_redirect_uris,
            new.public,
            "post-logout redirect URI",
        )?;
        let backchannel_logout_uri = new
            .backchannel_logout_uri
            .as_deref()
            .map(checked_backchannel_uri)
            .transpose()?;
        let scope = checked_scope(new.scope.as_deref().unwrap_or("openid profile email"))?;
        let auth_method = if new.public {
            ClientAuthMethod::None
        } else {
            checked_auth_method(
                new.auth_method
                    .unwrap_or(ClientAuthMethod::ClientSecretBasic),
            )?
        };
        let id_token_signed_response_alg = match new.id_token_alg {
            None => None,
            Some(alg) => Some(self.enabled_alg(alg)?),
        };
        latchkey_domain::check_compat(auth_method, new.pkce, new.nonce)
            .map_err(|e| AdminError::Invalid(e.into()))?;
        let secret = auth_method.uses_secret().then(|| self.random.secret());
        let now = self.clock.unix();
        let client = Client {
            id: ClientId::parse(&self.random.id())
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            name,
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
            allowed_cors_origins: checked_origins(&new.allowed_cors_origins)?,
            introspect: new.introspect,
            pkce: new.pkce,
            nonce: new.nonce,
            require_mfa: new.require_mfa,
            require_par: new.require_par,
            dpop_bound: new.dpop_bound,
            resources: checked_resources(&new.resources)?,
            fapi2: false,
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
        // Its origins join the set CORS answers for.
        self.caches.forget_client(client.id.as_str());
        // Recorded as the admin API's registration is.
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientRegistered,
                client.id.as_str(),
                "by an operator",
            ))
            .await;
        let defaults = Client {
            pkce: Requirement::Required,
            nonce: Requirement::Required,
            ..client.clone()
        };
        self.record_compat(&client, &compat_changes(&defaults, &client))
            .await;
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

    /// Every client with an opt-out from the strict defaults, with what it
    /// gives up: `latchkey serve` logs them at start-up.
    pub async fn compat_warnings(&self) -> Result<Vec<CompatWarning>, AdminError> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .filter_map(|c| {
                let warnings = c.compat_warnings();
                (!warnings.is_empty()).then_some(CompatWarning {
                    client_id: c.id,
                    name: c.name,
                    warnings,
                })
            })
            .collect())
    }

    /// Changes an operator's settings of a client (those that dynamic
    /// registration never sets); each change is audited.
    pub async fn update_settings(
        &self,
        id: &str,
        settings: &ClientSettings,
    ) -> Result<Client, AdminError> {
        self.update(
            id,
            &ClientChanges {
                settings: settings.clone(),
                ..Default::default()
            },
        )
        .await
    }

    /// Changes a client's settings by an operator, with the rules of
    /// [`AdminClients::create`]. Metadata changes mark the client as one
    /// an operator vouches for (like the admin API's replacement); each
    /// change is audited.
    pub async fn update(&self, id: &str, changes: &ClientChanges) -> Result<Client, AdminError> {
        let old = self.show(id).await?;
        let mut client = old.clone();
        let public = client.is_public();
        let mut metadata = Vec::new();
        if let Some(name) = &changes.name {
            client.name = checked_name(name)?;
            if client.name != old.name {
                metadata.push("name");
            }
        }
        if let Some(uris) = &changes.redirect_uris {
            client.redirect_uris = checked_uris(uris, public, "redirect URI")?;
            if client.redirect_uris != old.redirect_uris {
                metadata.push("redirect_uris");
            }
        }
        if let Some(grants) = &changes.grant_types {
            client.grant_types = checked_grants(grants, public)?;
            if client.grant_types != old.grant_types {
                metadata.push("grant_types");
            }
        }
        if client.allows_grant(GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
            return Err(no_redirect_uri());
        }
        if let Some(scope) = &changes.scope {
            client.scope = checked_scope(scope)?;
            if client.scope != old.scope {
                metadata.push("scope");
            }
        }
        if let Some(method) = changes.auth_method {
            if !old.auth_method.uses_secret() {
                return Err(AdminError::Invalid(format!(
                    "this client authenticates with {}; only a client with a secret may \
                     switch between client_secret_basic and client_secret_post",
                    old.auth_method
                )));
            }
            client.auth_method = checked_auth_method(method)?;
            if client.auth_method != old.auth_method {
                metadata.push("token_endpoint_auth_method");
            }
        }
        if let Some(uris) = &changes.post_logout_redirect_uris {
            client.post_logout_redirect_uris =
                checked_uris(uris, public, "post-logout redirect URI")?;
            if client.post_logout_redirect_uris != old.post_logout_redirect_uris {
                metadata.push("post_logout_redirect_uris");
            }
        }
        if let Some(uri) = &changes.backchannel_logout_uri {
            client.backchannel_logout_uri = match uri.as_str() {
                "" => None,
                u => Some(checked_backchannel_uri(u)?),
            };
            if client.backchannel_logout_uri != old.backchannel_logout_uri {
                metadata.push("backchannel_logout_uri");
            }
        }
        if let Some(origins) = &changes.allowed_cors_origins {
            client.allowed_cors_origins = checked_origins(origins)?;
            if client.allowed_cors_origins != old.allowed_cors_origins {
                metadata.push("allowed_cors_origins");
            }
        }
        if let Some(alg) = changes.id_token_alg {
            client.id_token_signed_response_alg = match alg {
                Some(alg) => Some(self.enabled_alg(alg)?),
                None => None,
            };
            if client.id_token_signed_response_alg != old.id_token_signed_response_alg {
                metadata.push("id_token_signed_response_alg");
            }
        }
        let settings = &changes.settings;
        let mut changed = Vec::new();
        if let Some(introspect) = settings.introspect {
            if client.introspect != introspect {
                client.introspect = introspect;
                changed.push(format!("introspect={introspect}"));
            }
        }
        for (name, wanted, flag) in [
            ("require_mfa", settings.require_mfa, &mut client.require_mfa),
            ("require_par", settings.require_par, &mut client.require_par),
            ("dpop_bound", settings.dpop_bound, &mut client.dpop_bound),
            ("fapi2", settings.fapi2, &mut client.fapi2),
        ] {
            if let Some(wanted) = wanted {
                if *flag != wanted {
                    *flag = wanted;
                    changed.push(format!("{name}={wanted}"));
                }
            }
        }
        if let Some(list) = &settings.resources {
            let resources = checked_resources(list)?;
            if client.resources != resources {
                changed.push(format!("resources={}", resources.to_stored()));
                client.resources = resources;
            }
        }
        client.pkce = settings.pkce.unwrap_or(client.pkce);
        client.nonce = settings.nonce.unwrap_or(client.nonce);
        client
            .check_compat()
            .map_err(|e| AdminError::Invalid(e.into()))?;
        let compat = compat_changes(&old, &client);
        if metadata.is_empty() && changed.is_empty() && compat.is_empty() {
            return Ok(old);
        }
        client.updated_at = self.clock.unix();
        let written = if metadata.is_empty() {
            self.store.update_client(&client).await?
        } else {
            let mut registration = self
                .store
                .find_registration(&client.id)
                .await?
                .unwrap_or_default();
            // The operator vouches for the URLs Latchkey connects to only
            // when they are the operator's: a back-channel URI they set on
            // a record without a registrant's `jwks_uri`. Any other edit
            // (a name, a redirect URI) leaves the vouching as it was, so it
            // never lets a registrant's own URLs reach inside.
            if metadata.contains(&"backchannel_logout_uri") && registration.jwks_uri.is_none() {
                registration.by_operator = true;
            }
            self.store
                .update_registered_client(&client, &registration, None)
                .await?
        };
        if !written {
            return Err(AdminError::NotFound("client"));
        }
        self.caches.forget_client(client.id.as_str());
        if !metadata.is_empty() {
            self.audit
                .record(Event::about_client(
                    AuditEvent::ClientUpdated,
                    client.id.as_str(),
                    format!("changed by an operator: {}", metadata.join(", ")),
                ))
                .await;
        }
        if !changed.is_empty() {
            self.audit
                .record(Event::about_client(
                    AuditEvent::ClientSettingsChanged,
                    client.id.as_str(),
                    changed.join(", "),
                ))
                .await;
        }
        self.record_compat(&client, &compat).await;
        Ok(client)
    }

    /// Audits changes of the opt-outs from the strict defaults.
    async fn record_compat(&self, client: &Client, changes: &[String]) {
        if changes.is_empty() {
            return;
        }
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientCompatChanged,
                client.id.as_str(),
                changes.join(", "),
            ))
            .await;
    }

    /// Deletes a client and revokes every token it holds (see
    /// `registration::remove_client`).
    pub async fn delete(&self, id: &str) -> Result<(), AdminError> {
        let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
        if !self
            .registration
            .remove_client(&id, RevokeReason::ClientDeletedByOperator, None)
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
        // Before anything is written: an opt-out a public client may not have.
        settings.check_for(&valid)?;
        let (created, secret) = self
            .registration
            .insert_client_from(&valid, None, true)
            .await?;
        self.audit
            .record(Event::about_client(
                AuditEvent::ClientRegistered,
                created.client.id.as_str(),
                "by an operator",
            ))
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
        settings.check_for(&valid)?;
        // Still on the FAPI 2.0 profile after this: the new metadata must
        // fit it.
        let pkce = settings.pkce.unwrap_or(current.client.pkce);
        let stays = settings.fapi2.unwrap_or(current.client.fapi2);
        if stays && !crate::registration::fits_fapi2(&valid, pkce) {
            return Err(AdminError::Invalid(
                "the client follows the FAPI 2.0 profile: it keeps private_key_jwt, https redirect URIs and PKCE".into(),
            ));
        }
        // The operator vouches for the URLs Latchkey connects to only when
        // none of them is the registrant's own kept as it was: writing
        // back what was read, with a change elsewhere, vouches for nothing
        // (and is then checked as a registrant's metadata would be).
        let keeps_registrants = !current.registration.by_operator
            && ((valid.jwks_uri.is_some() && valid.jwks_uri == current.registration.jwks_uri)
                || (valid.backchannel_logout_uri.is_some()
                    && valid.backchannel_logout_uri == current.client.backchannel_logout_uri));
        if keeps_registrants {
            self.settings
                .validate_metadata(metadata, false)
                .map_err(AdminError::Metadata)?;
        }
        let (updated, secret) = self
            .registration
            .replace_metadata(current, &valid, true, !keeps_registrants, None)
            .await?
            .ok_or(AdminError::NotFound("client"))?;
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
        info.pkce = Some(c.client.pkce);
        info.nonce = Some(c.client.nonce);
        info.require_mfa = Some(c.client.require_mfa);
        info.fapi2 = Some(c.client.fapi2);
        info.resources = Some(
            c.client
                .resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
        );
        info.warnings = Some(
            c.client
                .compat_warnings()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        );
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

/// The opt-out settings that differ between two versions of a client
/// (`pkce=optional`, `nonce=required`, ...).
fn compat_changes(old: &Client, new: &Client) -> Vec<String> {
    let mut out = Vec::new();
    if old.pkce != new.pkce {
        out.push(format!("pkce={}", new.pkce));
    }
    if old.nonce != new.nonce {
        out.push(format!("nonce={}", new.nonce));
    }
    out
}

fn checked_name(name: &str) -> Result<String, AdminError> {
    latchkey_protocol::types::check_display_name(name, false)
        .map(str::to_owned)
        .map_err(|e| AdminError::Invalid(format!("name {e}")))
}

/// In the order given, without duplicates; empty means `authorization_code`.
fn checked_grants(grants: &[GrantType], public: bool) -> Result<Vec<GrantType>, AdminError> {
    let mut out = Vec::new();
    for &g in grants {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        out.push(GrantType::AuthorizationCode);
    }
    if public && out.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::Invalid(
            "a public client cannot use client_credentials".into(),
        ));
    }
    Ok(out)
}

fn checked_uris(uris: &[String], public: bool, what: &str) -> Result<Vec<RedirectUri>, AdminError> {
    let mut out = Vec::new();
    for r in uris {
        let uri = RedirectUri::parse_registrable(r, public)
            .map_err(|e| AdminError::Invalid(format!("{what} {r:?}: {e}")))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Browser origins (`https://app.example.com`), as registration takes
/// them: exact, deduplicated.
fn checked_origins(origins: &[String]) -> Result<Vec<String>, AdminError> {
    const MOST: usize = 20;
    if origins.len() > MOST {
        return Err(AdminError::Invalid(format!("at most {MOST} CORS origins")));
    }
    let mut out = Vec::new();
    for o in origins {
        let origin = latchkey_protocol::registration::exact_origin(o)
            .map_err(|why| AdminError::Invalid(format!("CORS origin {o:?}: {why}")))?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

fn checked_backchannel_uri(u: &str) -> Result<String, AdminError> {
    Ok(RedirectUri::parse_registrable(u, false)
        .map_err(|e| AdminError::Invalid(format!("back-channel logout URI {u:?}: {e}")))?
        .into_string())
}

fn checked_scope(scope: &str) -> Result<Scope, AdminError> {
    Scope::parse(scope).map_err(|_| AdminError::Invalid("malformed scope".into()))
}

/// The secret methods only: `private_key_jwt` needs keys that only
/// registration metadata carries, and a public client is made as one.
fn checked_auth_method(m: ClientAuthMethod) -> Result<ClientAuthMethod, AdminError> {
    if m.uses_secret() {
        return Ok(m);
    }
    Err(AdminError::Invalid(format!(
        "auth method {m} is not available here (client_secret_basic, client_secret_post)"
    )))
}

fn no_redirect_uri() -> AdminError {
    AdminError::Invalid("the authorization_code grant needs at least one redirect URI".into())
}

/// Resource indicators an operator gives a client: absolute URIs without
/// fragments (RFC 8707 §2).
fn checked_resources(list: &[String]) -> Result<latchkey_domain::Resources, AdminError> {
    latchkey_domain::Resources::from_texts(list.iter().map(String::as_str)).map_err(|e| {
        AdminError::Invalid(
            e.description
                .map(|d| d.into_owned())
                .unwrap_or_else(|| "invalid resource".into()),
        )
    })
}
