//! Initial access tokens for `/register` and tokens for the admin API:
//! shown once, stored as SHA-256, recognisable by their prefixes.

use latchkey_domain::AuditEvent;

use super::*;
use crate::audit::Event;
use crate::error::CoreError;

service! {
    /// Initial access tokens (for `POST /register`) and admin API tokens.
    pub struct AdminTokens { store, clock, random, audit }
}

impl AdminTokens<'_> {
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
        let now = self.clock.unix();
        let token = format!("{REGISTRATION_TOKEN_PREFIX}{}", self.random.secret());
        let record = latchkey_domain::InitialAccessToken {
            id: self.random.id(),
            token_hash: crate::secrets::token_hash(&token).into_string(),
            created_at: now,
            expires_at: now + expires_in,
            uses_left: uses,
        };
        self.store.insert_initial_token(&record).await?;
        self.audit
            .record(Event {
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
        self.deleted(AuditEvent::RegistrationTokenDeleted, id).await;
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
        let now = self.clock.unix();
        let token = format!("{ADMIN_TOKEN_PREFIX}{}", self.random.secret());
        let record = latchkey_domain::AdminToken {
            id: self.random.id(),
            token_hash: crate::secrets::token_hash(&token).into_string(),
            name: name.to_owned(),
            created_at: now,
            expires_at: now + expires_in,
        };
        self.store.insert_admin_token(&record).await?;
        self.audit
            .record(Event {
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
        self.deleted(AuditEvent::AdminTokenDeleted, id).await;
        Ok(())
    }

    async fn deleted(&self, kind: AuditEvent, id: &str) {
        self.audit
            .record(Event {
                kind,
                user_id: None,
                client_id: None,
                ip: None,
                detail: format!("id {id}"),
            })
            .await;
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
        let now = self.clock.unix();
        Ok(self
            .store
            .find_admin_token(crate::secrets::token_hash(token).as_str())
            .await?
            .filter(|t| now < t.expires_at))
    }
}
