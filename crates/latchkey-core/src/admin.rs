//! Operator actions on users and clients, shared by the command line and
//! (later) the admin API so both follow the same rules.

use latchkey_domain::keys::SigningAlg;
use latchkey_domain::{AuditEvent, RevokeReason};
use latchkey_domain::{Client, ClientAuthMethod, GrantType, StoreError, User};
use latchkey_protocol::{ClientId, RedirectUri, Scope};

use crate::audit::Event;
use crate::error::CoreError;
use crate::passwords::PasswordError;
use crate::Latchkey;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Exists(&'static str),
    /// Client metadata that broke a registration rule (RFC 7591 §3.2.2).
    #[error("{0}")]
    Metadata(latchkey_protocol::OAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Too many password checks: try again after this many seconds.
    #[error("too many attempts; try again in {wait_secs} seconds")]
    Throttled { wait_secs: i64 },
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Core(e.into())
    }
}

impl From<PasswordError> for AdminError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::BadLength => AdminError::Invalid(e.to_string()),
            PasswordError::Hash(m) => AdminError::Core(CoreError::Internal(m)),
        }
    }
}

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
    /// Grant type names; empty means `authorization_code`.
    pub grant_types: Vec<String>,
    /// Allowed scopes; `None` means `openid profile email`.
    pub scope: Option<String>,
    /// `client_secret_basic` (default) or `client_secret_post` for
    /// confidential clients.
    pub auth_method: Option<String>,
    /// `id_token_signed_response_alg`, among the enabled algorithms;
    /// `None` means the default (RS256 when enabled).
    pub id_token_alg: Option<String>,
    /// Where RP-initiated logout may send the browser back (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// A resource server that may introspect any token.
    pub introspect: bool,
}

impl Latchkey {
    pub async fn create_user(
        &self,
        username: &str,
        password: String,
        name: Option<String>,
        email: Option<String>,
    ) -> Result<User, AdminError> {
        let username = username.trim();
        if username.is_empty()
            || username.len() > 128
            || username
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(AdminError::Invalid(
                "username must be 1-128 characters without spaces or control characters".into(),
            ));
        }
        if self.store.find_user_by_username(username).await?.is_some() {
            return Err(AdminError::Exists("user"));
        }
        let hash = self.passwords.hash(password, self.salt()).await?;
        let now = self.now();
        let user = User {
            id: uuid_like(self),
            username: username.to_owned(),
            password_hash: hash,
            name,
            email,
            disabled: false,
            created_at: now,
            password_changed_at: now,
        };
        match self.store.insert_user(&user).await {
            Err(StoreError::Conflict(_)) => return Err(AdminError::Exists("user")),
            r => r?,
        }
        Ok(user)
    }

    /// The account page's password change: the current password must be
    /// right, checked behind the sign-in throttle from `ip` (a stolen
    /// session is no way around it). Every session of the user ends, this
    /// one included, and every refresh family dies, so no token issued
    /// before the change survives it (an access token carries its session).
    /// This browser stays signed in with a new session: the returned cookie
    /// value replaces its old one, which an attacker may have copied.
    pub async fn change_own_password(
        &self,
        me: &crate::authorize::SignedIn,
        ip: &str,
        current: String,
        new: String,
    ) -> Result<String, AdminError> {
        let user = &me.user;
        self.password_turn(&user.username, ip)
            .await
            .map_err(|wait_secs| AdminError::Throttled { wait_secs })?;
        if !self
            .passwords
            .verify(current, Some(user.password_hash.clone()))
            .await
        {
            return Err(AdminError::Invalid("the current password is wrong".into()));
        }
        self.throttle.succeeded(&user.username, ip).await;
        let hash = self.passwords.hash(new, self.salt()).await?;
        let now = self.now();
        self.store.set_password(&user.id, &hash, now).await?;
        self.caches.forget_user(&user.id);
        self.end_sessions(&user.id, None, true, RevokeReason::PasswordChanged)
            .await?;
        let (cookie, session) = self
            .open_session(&user.id, &hash, ip, me.session.user_agent.as_deref())
            .await?
            .ok_or_else(|| {
                AdminError::Invalid(
                    "the password was changed again meanwhile; sign in with the new one".into(),
                )
            })?;
        self.audit(Event {
            kind: AuditEvent::PasswordChanged,
            user_id: Some(&user.id),
            client_id: None,
            ip: None,
            detail: format!(
                "by the user; every session and token ended, this browser continues as session {}",
                session.id
            ),
        })
        .await;
        Ok(cookie)
    }

    pub async fn list_users(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.list_users().await?)
    }

    async fn user_by_name(&self, username: &str) -> Result<User, AdminError> {
        self.store
            .find_user_by_username(username)
            .await?
            .ok_or(AdminError::NotFound("user"))
    }

    /// Sets a new password and ends every session of the user, so a stolen
    /// session does not outlive the password it was opened with.
    pub async fn set_user_password(
        &self,
        username: &str,
        password: String,
    ) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        let hash = self.passwords.hash(password, self.salt()).await?;
        let now = self.now();
        self.store.set_password(&user.id, &hash, now).await?;
        self.caches.forget_user(&user.id);
        self.end_sessions(&user.id, None, true, RevokeReason::PasswordChanged)
            .await?;
        self.audit(Event {
            kind: AuditEvent::PasswordChanged,
            user_id: Some(&user.id),
            client_id: None,
            ip: None,
            detail: "all sessions ended, all refresh families revoked".into(),
        })
        .await;
        Ok(user)
    }

    /// Disables or enables a user. Disabling ends every session and
    /// revokes every refresh family: a disabled user's tokens stop working.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<User, AdminError> {
        let user = self.user_by_name(username).await?;
        self.store.set_user_disabled(&user.id, disabled).await?;
        self.caches.forget_user(&user.id);
        if disabled {
            self.end_sessions(&user.id, None, true, RevokeReason::UserDisabled)
                .await?;
        }
        self.audit(Event {
            kind: if disabled {
                AuditEvent::UserDisabled
            } else {
                AuditEvent::UserEnabled
            },
            user_id: Some(&user.id),
            client_id: None,
            ip: None,
            detail: String::new(),
        })
        .await;
        Ok(user)
    }

    pub async fn delete_user(&self, username: &str) -> Result<(), AdminError> {
        let user = self.user_by_name(username).await?;
        // Record the revocations before the rows go: tokens already issued
        // must stop working too.
        self.end_sessions(&user.id, None, true, RevokeReason::UserDeleted)
            .await?;
        self.caches.forget_user(&user.id);
        if !self.store.delete_user(&user.id).await? {
            return Err(AdminError::NotFound("user"));
        }
        self.audit(Event {
            kind: AuditEvent::UserDeleted,
            user_id: Some(&user.id),
            client_id: None,
            ip: None,
            detail: String::new(),
        })
        .await;
        Ok(())
    }

    /// Registers a client. The secret, for a confidential client, is
    /// returned once and only its keyed hash is stored.
    pub async fn create_client(
        &self,
        new: NewClient,
    ) -> Result<(Client, Option<String>), AdminError> {
        let name = latchkey_protocol::types::check_display_name(&new.name, false)
            .map_err(|e| AdminError::Invalid(format!("name {e}")))?;
        let mut grant_types = Vec::new();
        for g in &new.grant_types {
            let g = GrantType::parse(g)
                .map_err(|_| AdminError::Invalid(format!("unknown grant type {g:?}")))?;
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
            match new.auth_method.as_deref().map(ClientAuthMethod::parse) {
                None => ClientAuthMethod::ClientSecretBasic,
                Some(Ok(m)) if m.uses_secret() => m,
                Some(_) => {
                    let m = new.auth_method.as_deref().unwrap_or_default();
                    return Err(AdminError::Invalid(format!(
                        "auth method {m:?} is not available here (client_secret_basic, client_secret_post)"
                    )));
                }
            }
        };
        let id_token_signed_response_alg = match new.id_token_alg.as_deref() {
            None => None,
            Some(name) => Some(self.enabled_alg(name)?),
        };
        let secret = auth_method.uses_secret().then(|| self.random.secret());
        let now = self.now();
        let client = Client {
            id: ClientId::parse(&self.random.id())
                .map_err(|e| CoreError::Internal(e.to_string()))?,
            name: name.to_owned(),
            auth_method,
            secret_hash: secret.as_deref().map(|s| self.secrets.hash(s)),
            secret_expires_at: None,
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

    pub async fn list_clients(&self) -> Result<Vec<Client>, AdminError> {
        Ok(self.store.list_clients().await?)
    }

    pub async fn show_client(&self, id: &str) -> Result<Client, AdminError> {
        let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
        self.store
            .find_client(&id)
            .await?
            .ok_or(AdminError::NotFound("client"))
    }

    /// Changes an operator's settings of a client (those that dynamic
    /// registration never sets); each change is audited.
    pub async fn update_client_settings(
        &self,
        id: &str,
        settings: &ClientSettings,
    ) -> Result<Client, AdminError> {
        let mut client = self.show_client(id).await?;
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
        client.updated_at = self.now();
        if !self.store.update_client(&client).await? {
            return Err(AdminError::NotFound("client"));
        }
        self.caches.forget_client(client.id.as_str());
        self.audit(Event {
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
    pub async fn delete_client(&self, id: &str) -> Result<(), AdminError> {
        let id = ClientId::parse(id).map_err(|_| AdminError::NotFound("client"))?;
        if !self
            .remove_client(&id, RevokeReason::ClientDeletedByOperator)
            .await?
        {
            return Err(AdminError::NotFound("client"));
        }
        Ok(())
    }

    /// An algorithm name that is enabled in `[keys] algorithms`.
    fn enabled_alg(&self, name: &str) -> Result<SigningAlg, AdminError> {
        let enabled = &self.settings.keys.algorithms;
        match SigningAlg::parse(name) {
            Ok(alg) if enabled.contains(&alg) => Ok(alg),
            _ => {
                let names: Vec<&str> = enabled.iter().map(|a| a.as_str()).collect();
                Err(AdminError::Invalid(format!(
                    "ID-token algorithm {name:?} is not enabled (enabled: {})",
                    names.join(", ")
                )))
            }
        }
    }

    fn salt(&self) -> [u8; 16] {
        let mut s = [0u8; 16];
        self.random.fill(&mut s);
        s
    }
}

/// A random (version 4) UUID from the injected source, for user ids.
fn uuid_like(l: &Latchkey) -> String {
    let mut b = [0u8; 16];
    l.random.fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

// ------------------------------------------------------------------
// The rest of the admin service (issue 6): what the admin API and the
// command line share for clients, sessions, registration and admin tokens.

/// A new registration (initial access) or admin token: the value is shown
/// once; only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub struct IssuedToken<T> {
    pub token: String,
    pub record: T,
}

/// Initial access tokens start with this, admin tokens with `lka_`, so a
/// token pasted in the wrong place is recognisable (and refused).
const REGISTRATION_TOKEN_PREFIX: &str = "lkr_";
const ADMIN_TOKEN_PREFIX: &str = "lka_";

impl AdminError {
    /// The wire error for the admin API.
    pub fn to_oauth(&self) -> latchkey_protocol::OAuthError {
        use latchkey_protocol::{ErrorCode, OAuthError};
        match self {
            AdminError::Invalid(m) => OAuthError::invalid_request(m.clone()),
            AdminError::NotFound(what) => {
                OAuthError::new(ErrorCode::NotFound, format!("no such {what}"))
            }
            AdminError::Exists(what) => {
                OAuthError::invalid_request(format!("{what} already exists"))
            }
            AdminError::Metadata(e) => e.clone(),
            AdminError::Core(e) => e.to_oauth(),
            AdminError::Throttled { .. } => OAuthError::invalid_request(self.to_string()),
        }
    }
}

impl Latchkey {
    /// Registers a client from RFC 7591 metadata, by an operator: the same
    /// rules as `POST /register`, without a registration access token.
    pub async fn admin_create_client(
        &self,
        metadata: &latchkey_protocol::registration::ClientMetadata,
        settings: &ClientSettings,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let valid = self
            .validate_metadata(metadata, true)
            .map_err(AdminError::Metadata)?;
        let (created, secret) = self.insert_client_from(&valid, None, true).await?;
        self.audit(Event {
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
    pub async fn admin_client(
        &self,
        id: &str,
    ) -> Result<crate::registration::RegisteredClient, AdminError> {
        let client = self.show_client(id).await?;
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

    pub async fn admin_show_client(
        &self,
        id: &str,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let c = self.admin_client(id).await?;
        Ok(self.admin_information(&c, None))
    }

    pub async fn admin_list_clients(
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
    pub async fn admin_update_client(
        &self,
        id: &str,
        metadata: &latchkey_protocol::registration::ClientMetadata,
        settings: &ClientSettings,
    ) -> Result<latchkey_protocol::registration::ClientInformation, AdminError> {
        let current = self.admin_client(id).await?;
        let valid = self
            .validate_metadata(metadata, true)
            .map_err(AdminError::Metadata)?;
        let (updated, secret) = self.replace_metadata(current, &valid, true).await?;
        self.audit(Event {
            kind: AuditEvent::ClientUpdated,
            user_id: None,
            client_id: Some(updated.client.id.as_str()),
            ip: None,
            detail: "metadata replaced by an operator".into(),
        })
        .await;
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
            c.client = self
                .update_client_settings(c.client.id.as_str(), settings)
                .await?;
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
        let mut info = self.client_information(c, secret, None, None);
        info.introspect = Some(c.client.introspect);
        info
    }

    /// A new secret for a confidential client; the old one keeps working
    /// for `[registration] secret_grace` seconds.
    pub async fn rotate_client_secret(&self, id: &str) -> Result<(Client, String), AdminError> {
        let client = self.show_client(id).await?;
        self.rotate_secret_of(&client).await.map_err(|e| match e {
            crate::registration::RotateError::NoSecret => {
                AdminError::Invalid("this client does not authenticate with a secret".into())
            }
            crate::registration::RotateError::Raced => {
                AdminError::Invalid("the secret changed meanwhile; retry".into())
            }
            crate::registration::RotateError::Core(e) => AdminError::Core(e),
        })
    }

    pub async fn show_user(&self, username: &str) -> Result<User, AdminError> {
        self.user_by_name(username).await
    }

    /// A user's active sessions, for an operator.
    pub async fn admin_list_sessions(
        &self,
        username: &str,
    ) -> Result<Vec<crate::sessions::SessionView>, AdminError> {
        let user = self.user_by_name(username).await?;
        Ok(self.list_sessions(&user.id, None).await?)
    }

    /// Ends one session (its refresh families die, its clients are told
    /// through back-channel logout).
    pub async fn admin_end_session(&self, session_id: &str) -> Result<(), AdminError> {
        let session = match self.store.find_session(session_id).await? {
            Some(s) if s.is_active() => s,
            _ => return Err(AdminError::NotFound("session")),
        };
        self.end_sessions(
            &session.user_id,
            Some(vec![session.id.clone()]),
            false,
            RevokeReason::SessionEndedByOperator,
        )
        .await?;
        Ok(())
    }

    /// An initial access token for `POST /register`, good for `uses`
    /// registrations within `expires_in` seconds.
    pub async fn create_registration_token(
        &self,
        expires_in: i64,
        uses: i64,
    ) -> Result<IssuedToken<latchkey_domain::InitialAccessToken>, AdminError> {
        if !(60..=365 * 86_400).contains(&expires_in) {
            return Err(AdminError::Invalid(
                "expires_in must be between 60 seconds and 365 days".into(),
            ));
        }
        if !(1..=10_000).contains(&uses) {
            return Err(AdminError::Invalid(
                "uses must be between 1 and 10000".into(),
            ));
        }
        let now = self.now();
        let token = format!("{REGISTRATION_TOKEN_PREFIX}{}", self.random.secret());
        let record = latchkey_domain::InitialAccessToken {
            id: self.random.id(),
            token_hash: crate::secrets::token_hash(&token),
            created_at: now,
            expires_at: now + expires_in,
            uses_left: uses,
        };
        self.store.insert_initial_token(&record).await?;
        self.audit(Event {
            kind: AuditEvent::RegistrationTokenCreated,
            user_id: None,
            client_id: None,
            ip: None,
            detail: format!(
                "id {}, {uses} use(s), expires {}",
                record.id, record.expires_at
            ),
        })
        .await;
        Ok(IssuedToken { token, record })
    }

    pub async fn list_registration_tokens(
        &self,
    ) -> Result<Vec<latchkey_domain::InitialAccessToken>, AdminError> {
        Ok(self.store.list_initial_tokens().await?)
    }

    pub async fn delete_registration_token(&self, id: &str) -> Result<(), AdminError> {
        if !self.store.delete_initial_token(id).await? {
            return Err(AdminError::NotFound("registration token"));
        }
        Ok(())
    }

    /// A token for the admin API, valid for `expires_in` seconds (90 days
    /// when `None`, at most a year).
    pub async fn create_admin_token(
        &self,
        name: &str,
        expires_in: Option<i64>,
    ) -> Result<IssuedToken<latchkey_domain::AdminToken>, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(AdminError::Invalid("name must be 1-100 characters".into()));
        }
        let expires_in = expires_in.unwrap_or(latchkey_domain::AdminToken::DEFAULT_LIFETIME);
        if !(60..=365 * 86_400).contains(&expires_in) {
            return Err(AdminError::Invalid(
                "expires_in must be between 60 seconds and 365 days".into(),
            ));
        }
        let now = self.now();
        let token = format!("{ADMIN_TOKEN_PREFIX}{}", self.random.secret());
        let record = latchkey_domain::AdminToken {
            id: self.random.id(),
            token_hash: crate::secrets::token_hash(&token),
            name: name.to_owned(),
            created_at: now,
            expires_at: now + expires_in,
        };
        self.store.insert_admin_token(&record).await?;
        self.audit(Event {
            kind: AuditEvent::AdminTokenCreated,
            user_id: None,
            client_id: None,
            ip: None,
            detail: format!("id {} ({})", record.id, record.name),
        })
        .await;
        Ok(IssuedToken { token, record })
    }

    pub async fn list_admin_tokens(&self) -> Result<Vec<latchkey_domain::AdminToken>, AdminError> {
        Ok(self.store.list_admin_tokens().await?)
    }

    pub async fn delete_admin_token(&self, id: &str) -> Result<(), AdminError> {
        if !self.store.delete_admin_token(id).await? {
            return Err(AdminError::NotFound("admin token"));
        }
        Ok(())
    }

    /// The admin token a request presents, if it is one. Anything without
    /// the admin prefix is refused before any lookup.
    pub async fn check_admin_token(
        &self,
        token: &str,
    ) -> Result<Option<latchkey_domain::AdminToken>, CoreError> {
        if !token.starts_with(ADMIN_TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = self.now();
        Ok(self
            .store
            .find_admin_token(&crate::secrets::token_hash(token))
            .await?
            .filter(|t| now < t.expires_at))
    }
}
