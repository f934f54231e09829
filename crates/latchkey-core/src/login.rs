//! Signing in at Latchkey's login page: password check behind the
//! throttle (counted before the hash), then a new browser session.

use latchkey_domain::BrowserSession;

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
}

impl Latchkey {
    /// The sign-in page's details; an unknown or expired request shows a
    /// plain page (the POST will then explain).
    pub async fn login_view(&self, pending_id: &str) -> LoginView {
        let Ok(Some(pending)) = self.store.find_pending(pending_id).await else {
            return LoginView::default();
        };
        let hint = latchkey_protocol::Params::parse(pending.query.as_bytes())
            .ok()
            .and_then(|p| p.get("login_hint").map(str::to_owned));
        let client_name = match self.store.find_client(&pending.client_id).await {
            Ok(Some(c)) => Some(c.name),
            _ => None,
        };
        LoginView {
            client_name,
            login_hint: hint,
        }
    }

    /// `POST /login` for a pending authorization request.
    pub async fn login(
        &self,
        pending_id: Option<&str>,
        attempt: LoginAttempt,
        previous: Option<&SignedIn>,
    ) -> Result<LoginOutcome, CoreError> {
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
                    kind: "login_failed",
                    user_id: user.as_ref().map(|u| u.id.as_str()),
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
        let now = self.now();

        // A new sign-in replaces the browser's previous session.
        if let Some(prev) = previous {
            self.store.end_session(&prev.session.id, now).await?;
        }
        let cookie = self.random.secret();
        let session = BrowserSession {
            id: self.random.id(),
            user_id: user.id.clone(),
            token_hash: token_hash(&cookie),
            created_at: now,
            last_seen_at: now,
            auth_time: now,
            user_agent: attempt.user_agent.map(|ua| ua.chars().take(256).collect()),
            ip: Some(attempt.ip.clone()),
            ended_at: None,
        };
        self.store.insert_session(&session).await?;
        self.audit(Event {
            kind: "login",
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
            self.resume(pending_id, &signed_in).await
        } else {
            AuthorizeOutcome::ErrorPage(latchkey_protocol::OAuthError::invalid_request(
                "this sign-in request has expired; return to the application and start again",
            ))
        };
        Ok(LoginOutcome::SignedIn { cookie, next })
    }
}
