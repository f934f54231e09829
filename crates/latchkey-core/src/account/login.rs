//! Signing in at Latchkey's login page: password check behind the
//! throttle (counted before the hash), then a new browser session.

use latchkey_domain::{AuditEvent, RevokeReason};

use crate::audit::Event;
use crate::authorize::{AuthorizeOutcome, SignedIn};
use crate::error::CoreError;

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

service! {
    /// Signing in: the form, the password check behind the login limiter, the
    /// browser session.
    pub struct Login { store, clock, passwords, throttle, audit, sessions, authorize }
}

impl Login<'_> {
    /// The sign-in page's details for a pending request this browser
    /// started; any other request gets an error page.
    pub async fn view(
        &self,
        pending_id: &str,
        browser: &str,
    ) -> Result<LoginView, AuthorizeOutcome> {
        let (_, params, checked) = self.authorize.load_pending(pending_id, browser).await?;
        Ok(LoginView {
            client_name: Some(checked.client_name().to_owned()),
            login_hint: params.get("login_hint").map(str::to_owned),
            form_target: checked.form_target(),
        })
    }

    /// `POST /login` for a pending authorization request.
    pub async fn submit(
        &self,
        pending_id: Option<&str>,
        attempt: LoginAttempt,
        previous: Option<&SignedIn>,
        browser: &str,
    ) -> Result<LoginOutcome, CoreError> {
        if let Some(id) = pending_id {
            if let Err(refused) = self.authorize.load_pending(id, browser).await {
                return Ok(LoginOutcome::Refused(refused));
            }
        }
        if let Err(wait_secs) = self
            .throttle
            .password_turn(self.clock, &attempt.username, &attempt.ip)
            .await
        {
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
                self.audit
                    .record(Event {
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
            self.sessions
                .end_sessions(
                    &prev.user.id,
                    Some(vec![prev.session.id.clone()]),
                    false,
                    RevokeReason::ReplacedBySignIn,
                )
                .await?;
        }
        let Some((cookie, session)) = self
            .sessions
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
        self.audit
            .record(Event {
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
            self.authorize.resume(pending_id, &signed_in, browser).await
        } else {
            AuthorizeOutcome::ErrorPage(latchkey_protocol::OAuthError::invalid_request(
                "this sign-in request has expired; return to the application and start again",
            ))
        };
        Ok(LoginOutcome::SignedIn { cookie, next })
    }
}
