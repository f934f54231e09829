//! Signing in at Latchkey's login page: password check behind the
//! throttle (counted before the hash), then a new browser session.

use latchkey_domain::BrowserSession;
use latchkey_domain::{AuditEvent, RevokeReason, SessionId, UserId};

use crate::audit::Event;
use crate::authorize::{AuthorizeOutcome, SignedIn};
use crate::error::CoreError;
use crate::secrets::token_hash;
use crate::Latchkey;

/// Who is trying to sign in, and from where.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub username: String,
    pub password: String,
    pub ip: String,
    pub user_agent: Option<String>,
}

/// What the sign-in page shows for a pending request.
#[derive(Debug, Clone, Default)]
pub struct LoginView {
    pub client_name: Option<String>,
    /// The request's `login_hint`, to pre-fill the username.
    pub login_hint: Option<String>,
    /// The client's redirect origin: a successful sign-in ends up there.
    pub form_target: Option<String>,
}

#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in: set this session cookie, then follow `next`.
    SignedIn {
        cookie: String,
        next: AuthorizeOutcome,
    },
    /// Wrong username or password: the page says so without saying which.
    Failed,
    /// Too many failures: try again after this many seconds.
    Throttled { wait_secs: i64 },
    /// The pending request is unknown, expired or was started in another
    /// browser: nothing was checked and no session created.
    Refused(AuthorizeOutcome),
}

impl Latchkey {
    /// A new browser session for a user who just proved who they are;
    /// returns the cookie value (only its hash is stored) and the session.
    /// `None` if the password checked (`verified_hash`) is no longer the
    /// user's, or the user was disabled meanwhile.
    pub(crate) async fn open_session(
        &self,
        user_id: &UserId,
        verified_hash: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<(String, BrowserSession)>, CoreError> {
        let now = self.now();
        let cookie = self.random.secret();
        let session = BrowserSession {
            id: SessionId::generate(self.random.as_ref()),
            user_id: user_id.clone(),
            token_hash: token_hash(&cookie),
            created_at: now,
            last_seen_at: now,
            auth_time: now,
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

    /// The sign-in page's details for a pending request this browser
    /// started; any other request gets an error page.
    pub async fn login_view(
        &self,
        pending_id: &str,
        browser: &str,
    ) -> Result<LoginView, AuthorizeOutcome> {
        let (_, params, checked) = self.load_pending(pending_id, browser).await?;
        Ok(LoginView {
            client_name: Some(checked.client_name().to_owned()),
            login_hint: params.get("login_hint").map(str::to_owned),
            form_target: checked.form_target(),
        })
    }

    /// `POST /login` for a pending authorization request.
    pub async fn login(
        &self,
        pending_id: Option<&str>,
        attempt: LoginAttempt,
        previous: Option<&SignedIn>,
        browser: &str,
    ) -> Result<LoginOutcome, CoreError> {
        if let Some(id) = pending_id {
            if let Err(refused) = self.load_pending(id, browser).await {
                return Ok(LoginOutcome::Refused(refused));
            }
        }
        if let Err(wait_secs) = self.password_turn(&attempt.username, &attempt.ip).await {
            return Ok(LoginOutcome::Throttled { wait_secs });
        }
        let user = if attempt.username.len() <= 256 {
            self.store.find_user_by_username(&attempt.username).await?
        } else {
            None
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = self.passwords.verify(attempt.password, stored).await;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            user => {
                // Already counted by `password_turn`.
                self.audit(Event {
                    kind: AuditEvent::LoginFailed,
                    user_id: user.as_ref().map(|u| &u.id),
                    client_id: None,
                    ip: Some(&attempt.ip),
                    detail: "wrong username or password".into(),
                })
                .await;
                return Ok(LoginOutcome::Failed);
            }
        };
        self.throttle
            .succeeded(&attempt.username, &attempt.ip)
            .await;
        // A new sign-in replaces the browser's previous session, which ends
        // like any other: its tokens die and its clients are told.
        if let Some(prev) = previous {
            self.end_sessions(
                &prev.user.id,
                Some(vec![prev.session.id.clone()]),
                false,
                RevokeReason::ReplacedBySignIn,
            )
            .await?;
        }
        let Some((cookie, session)) = self
            .open_session(
                &user.id,
                &user.password_hash,
                &attempt.ip,
                attempt.user_agent.as_deref(),
            )
            .await?
        else {
            // The password changed (or the user was disabled) while it was
            // being checked: the old password opens nothing.
            return Ok(LoginOutcome::Failed);
        };
        self.audit(Event {
            kind: AuditEvent::Login,
            user_id: Some(&user.id),
            client_id: None,
            ip: Some(&attempt.ip),
            detail: format!("session {}", session.id),
        })
        .await;
        let signed_in = SignedIn { session, user };
        let Some(pending_id) = pending_id else {
            // Signed in for Latchkey itself (the account pages).
            return Ok(LoginOutcome::SignedIn {
                cookie,
                next: AuthorizeOutcome::Redirect("/account/sessions".into()),
            });
        };
        let attached = self
            .store
            .attach_session(pending_id, &signed_in.session.id)
            .await?;
        let next = if attached {
            self.resume(pending_id, &signed_in, browser).await
        } else {
            AuthorizeOutcome::ErrorPage(latchkey_protocol::OAuthError::invalid_request(
                "this sign-in request has expired; return to the application and start again",
            ))
        };
        Ok(LoginOutcome::SignedIn { cookie, next })
    }
}
