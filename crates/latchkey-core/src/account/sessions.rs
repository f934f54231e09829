//! Browser sessions and everything that ends them: a user's session list
//! with a per-session sign-out, logout, password change and account
//! removal. Every ending goes through [`crate::revocations::Revocations::teardown`], one database
//! transaction that ends the sessions, revokes their refresh families,
//! records the revocations and queues back-channel logout tokens.

use latchkey_domain::{AuditEvent, RevokeReason, SessionId, UserId};
use latchkey_domain::{BrowserSession, Client, LogoutDelivery, Teardown, TeardownResult};
use latchkey_protocol::claims::{LogoutTokenClaims, BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYP};
use serde_json::json;

use super::device::Device;
use crate::audit::Event;
use crate::error::CoreError;
use crate::jwt::to_map;
use crate::secrets::token_hash;

/// One session as its user sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    pub id: SessionId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub user_agent: Option<String>,
    /// The browser and system read from `user_agent`.
    pub device: Device,
    pub ip: Option<String>,
    /// The applications that signed in through this session.
    pub clients: Vec<String>,
    /// Whether this is the session of the browser asking.
    pub current: bool,
}

service! {
    /// A user's browser sessions: listing them, and ending them with everything
    /// issued through them.
    pub struct Sessions { store, clock, random, settings, keys, audit, revocations }
}

impl Sessions<'_> {
    /// A new browser session for a user who proved who they are with
    /// `methods` at `auth_time`; returns the cookie value (only its hash
    /// is stored) and the session.
    /// `None` if the password checked (`verified_hash`) is no longer the
    /// user's, or the user was disabled meanwhile.
    pub(crate) async fn open_session(
        &self,
        user_id: &UserId,
        verified_hash: &str,
        methods: latchkey_domain::Methods,
        auth_time: i64,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<(String, BrowserSession)>, CoreError> {
        let now = self.clock.unix();
        let cookie = self.random.secret();
        let session = BrowserSession {
            id: SessionId::generate(self.random),
            user_id: user_id.clone(),
            token_hash: token_hash(&cookie),
            created_at: now,
            last_seen_at: now,
            auth_time,
            methods,
            user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
            ip: Some(ip.to_owned()),
            ended_at: None,
        };
        if !self
            .store
            .open_session_if_current(&session, verified_hash)
            .await?
        {
            return Ok(None);
        }
        Ok(Some((cookie, session)))
    }

    /// Ends sessions of a user (all active ones when `only` is None) and,
    /// with `all_families`, every refresh family of the user too; queues a
    /// back-channel logout token for each client that signed in through
    /// an ended session.
    pub async fn end_sessions(
        &self,
        user_id: &UserId,
        only: Option<Vec<SessionId>>,
        all_families: bool,
        reason: RevokeReason,
    ) -> Result<TeardownResult, CoreError> {
        let now = self.clock.unix();
        let sessions: Vec<BrowserSession> = self
            .store
            .list_active_sessions(user_id)
            .await?
            .into_iter()
            .filter(|s| s.is_active())
            .filter(|s| only.as_ref().is_none_or(|o| o.contains(&s.id)))
            .collect();
        let ids: Vec<SessionId> = sessions.iter().map(|s| s.id.clone()).collect();
        let mut deliveries = Vec::new();
        for s in &sessions {
            for client_id in self.store.session_clients(&s.id).await? {
                if let Some(client) = self.store.find_client(&client_id).await? {
                    if let Some(d) = self.logout_delivery(&client, user_id, &s.id, now)? {
                        deliveries.push(d);
                    }
                }
            }
        }
        let result = self
            .revocations
            .teardown(Teardown {
                end_sessions: ids.clone(),
                families_of_sessions: ids,
                families_of_user: all_families.then(|| user_id.clone()),
                deliveries,
                ..Teardown::new(now, reason)
            })
            .await?;
        for sid in &result.ended_sessions {
            self.audit
                .record(Event {
                    kind: AuditEvent::SessionEnded,
                    user_id: Some(user_id),
                    client_id: None,
                    ip: None,
                    detail: format!("session {sid}: {reason}"),
                })
                .await;
        }
        Ok(result)
    }

    /// A signed logout token for one client, if it takes back-channel
    /// logouts.
    fn logout_delivery(
        &self,
        client: &Client,
        user_id: &UserId,
        sid: &SessionId,
        now: i64,
    ) -> Result<Option<LogoutDelivery>, CoreError> {
        let Some(uri) = &client.backchannel_logout_uri else {
            return Ok(None);
        };
        let claims = LogoutTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: user_id.to_string(),
            aud: client.id.to_string(),
            iat: now,
            exp: now + 120,
            jti: self.random.id(),
            sid: sid.to_string(),
            events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        };
        let token = self
            .keys
            .current()
            .sign(LOGOUT_TOKEN_TYP, &to_map(&claims)?)?
            .token;
        Ok(Some(LogoutDelivery {
            id: self.random.id(),
            client_id: client.id.clone(),
            uri: uri.clone(),
            logout_token: token,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            delivered_at: None,
            last_error: None,
        }))
    }

    /// The user's active sessions, newest first.
    pub async fn list_sessions(
        &self,
        user_id: &UserId,
        current: Option<&SessionId>,
    ) -> Result<Vec<SessionView>, CoreError> {
        let now = self.clock.unix();
        let mut out = Vec::new();
        for s in self.store.list_active_sessions(user_id).await? {
            if !s.is_active() || now >= s.created_at + self.settings.tokens.session_ttl {
                continue;
            }
            let mut clients = Vec::new();
            for id in self.store.session_clients(&s.id).await? {
                if let Some(c) = self.store.find_client(&id).await? {
                    clients.push(c.name);
                }
            }
            out.push(SessionView {
                current: current == Some(&s.id),
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                device: Device::from_user_agent(s.user_agent.as_deref()),
                user_agent: s.user_agent,
                ip: s.ip,
                clients,
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// Ends one of the user's own sessions; false if it is not theirs or
    /// already ended (the caller answers 404 either way).
    pub async fn end_own_session(
        &self,
        user_id: &UserId,
        sid: &SessionId,
    ) -> Result<bool, CoreError> {
        match self.store.find_session(sid).await? {
            Some(s) if s.user_id == *user_id && s.is_active() => {}
            _ => return Ok(false),
        }
        let r = self
            .end_sessions(
                user_id,
                Some(vec![sid.clone()]),
                false,
                RevokeReason::SessionEndedByUser,
            )
            .await?;
        Ok(!r.ended_sessions.is_empty())
    }

    /// Ends every active session of the user but `current` (with what
    /// was issued through them, as [`Self::end_own_session`] does); returns
    /// how many ended.
    pub async fn end_other_sessions(
        &self,
        user_id: &UserId,
        current: &SessionId,
    ) -> Result<usize, CoreError> {
        let others: Vec<SessionId> = self
            .store
            .list_active_sessions(user_id)
            .await?
            .into_iter()
            .filter(|s| s.is_active() && s.id != *current)
            .map(|s| s.id)
            .collect();
        if others.is_empty() {
            return Ok(0);
        }
        let r = self
            .end_sessions(
                user_id,
                Some(others),
                false,
                RevokeReason::SessionEndedByUser,
            )
            .await?;
        Ok(r.ended_sessions.len())
    }
}
