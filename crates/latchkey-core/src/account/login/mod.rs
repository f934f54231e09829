//! Signing in at Latchkey's login page: the password behind the throttle
//! (counted before the hash), then, when the user has a second factor or
//! the request or policy needs one, a challenge (`/login/factor`) for a
//! one-time code (or the enrolment of an authenticator app), and only
//! then a browser session. The same steps re-authenticate a signed-in
//! user (`reauth`) and raise their session in place (step-up).

mod factor;
mod passwordless;
mod target;

use latchkey_domain::{AuditEvent, LoginChallenge, Methods, RevokeReason, SessionId, User};
use latchkey_protocol::authn::{next_step, Demand, Method, Next};
use latchkey_protocol::OAuthError;

use crate::audit::Event;
use crate::authorize::{AuthorizeOutcome, SignedIn};
use crate::error::CoreError;
use crate::support::factors::{
    open_challenge, use_code, ChallengeStart, Enrolled, TotpSecret, CHALLENGE_TRIES, CHALLENGE_TTL,
};

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
    /// Signed in: set this session cookie (none when the browser's session
    /// was raised in place), then follow `next`.
    SignedIn {
        cookie: Option<String>,
        next: AuthorizeOutcome,
    },
    /// The password was right; a second factor comes next.
    SecondFactor { challenge: String },
    /// An authenticator app was set up during sign-in: show its recovery
    /// codes once, then continue the challenge.
    Enrolled {
        challenge: String,
        recovery_codes: Vec<String>,
    },
    /// Wrong username or password (or code): the page says so without
    /// saying which.
    Failed,
    /// Too many failures: try again after this many seconds.
    Throttled { wait_secs: i64 },
    /// The pending request or challenge is unknown, expired or was started
    /// in another browser: nothing was checked and no session created.
    Refused(AuthorizeOutcome),
}

/// The sign-in page's passkey button: its options and the challenge that
/// keeps the state.
#[derive(Debug, Clone)]
pub struct PasswordlessStart {
    pub challenge: String,
    pub options: String,
}

/// What the second-factor page shows.
#[derive(Debug, Clone)]
pub struct FactorView {
    pub challenge: String,
    pub username: String,
    pub client_name: Option<String>,
    pub form_target: Option<String>,
    pub totp: bool,
    pub recovery_codes: bool,
    pub passkeys: bool,
    /// Only a passkey will do (`urn:latchkey:acr:phr`).
    pub passkey_only: bool,
    /// The options of a passkey check for the browser, when the user has
    /// passkeys and the issuer allows them (the state is in the challenge).
    pub passkey_options: Option<String>,
    /// The user has no second factor and needs one: set up this app.
    pub enrol: Option<crate::account::factors::TotpEnrolment>,
}

/// A sign-in whose factors are all proved, to be turned into a session.
struct Finish<'a> {
    user: &'a User,
    methods: Methods,
    password_hash: String,
    pending_id: Option<String>,
    /// Raise this session (the browser's) instead of opening one.
    raise: Option<SessionId>,
    /// The challenge this completes, removed first (once).
    challenge: Option<&'a str>,
}

service! {
    /// Signing in: the form, the password check behind the login limiter,
    /// the second factor, the browser session.
    pub struct Login { store, clock, random, settings, csrf, factor_secrets, passkeys, passwords, throttle, audit, sessions, authorize, device, metrics }
}

impl Login<'_> {
    /// A sign-in refused by the limiter before anything was checked.
    fn throttled(&self, wait_secs: i64) -> LoginOutcome {
        self.metrics
            .login(crate::support::metrics::LoginResult::Throttled);
        LoginOutcome::Throttled { wait_secs }
    }

    /// The sign-in page's details for a pending request this browser
    /// started; any other request gets an error page.
    pub async fn view(
        &self,
        pending_id: &str,
        browser: &str,
    ) -> Result<LoginView, AuthorizeOutcome> {
        let (_, target) = self.sign_in_for(pending_id, browser).await?;
        Ok(LoginView {
            client_name: Some(target.client_name().to_owned()),
            login_hint: target.login_hint(),
            form_target: target.form_target(),
        })
    }

    /// `POST /login` for a pending authorization request (or for Latchkey
    /// itself). With `reauth`, a browser signed in as the same user keeps
    /// its session, raised (its `auth_time` renewed).
    pub async fn submit(
        &self,
        pending_id: Option<&str>,
        attempt: LoginAttempt,
        previous: Option<&SignedIn>,
        browser: &str,
        reauth: bool,
    ) -> Result<LoginOutcome, CoreError> {
        let pending = match pending_id {
            Some(id) => match self.sign_in_for(id, browser).await {
                Ok((session_id, target)) => Some((id, target, session_id)),
                Err(refused) => return Ok(LoginOutcome::Refused(refused)),
            },
            None => None,
        };
        if let Err(wait_secs) = self
            .throttle
            .password_turn(self.clock, &attempt.username, &attempt.ip)
            .await
        {
            return Ok(self.throttled(wait_secs));
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
                self.failed(user.as_ref(), &attempt.ip, "wrong username or password")
                    .await;
                return Ok(LoginOutcome::Failed);
            }
        };
        let (demand, client_requires) = match &pending {
            Some((_, checked, _)) => (checked.demand(), checked.requires_mfa()),
            None => (Demand::default(), false),
        };
        let standing = Enrolled::of(self.store, &user.id)
            .await?
            .standing(self.settings, client_requires);
        // Confirming who is signed in (`reauth`, or a request that sent
        // this session's user to the sign-in page before a factor could be
        // set up) raises the session rather than replacing it.
        let confirms = |p: &&SignedIn| {
            reauth
                || pending
                    .as_ref()
                    .is_some_and(|(_, _, s)| s.as_ref() == Some(&p.session.id))
        };
        let raise = previous
            .filter(|p| p.user.id == user.id)
            .filter(confirms)
            .map(|p| p.session.id.clone());
        let methods = Methods::PASSWORD;
        match next_step(methods, &demand, standing) {
            Next::Proceed => {
                self.throttle.succeeded(&user.username, &attempt.ip).await;
                self.finish(
                    Finish {
                        user: &user,
                        methods,
                        password_hash: user.password_hash.clone(),
                        pending_id: pending_id.map(str::to_owned),
                        raise,
                        challenge: None,
                    },
                    previous,
                    browser,
                    &attempt.ip,
                    attempt.user_agent.as_deref(),
                )
                .await
            }
            Next::Refuse => Ok(LoginOutcome::Refused(match pending {
                Some((id, target, _)) => self.fail_sign_in(id, &target, &unmeetable()).await,
                // Only a request's acr can be out of reach; without one
                // there is nothing to refuse but the sign-in itself.
                None => AuthorizeOutcome::ErrorPage(unmeetable()),
            })),
            Next::Prove(_) | Next::Enrol => {
                // The password alone is not a sign-in here: the limiter
                // keeps counting until the second factor is proved.
                let challenge = open_challenge(
                    self.store,
                    self.random,
                    self.clock.unix(),
                    ChallengeStart {
                        user: &user.id,
                        browser_hash: self.csrf.browser_hash(browser),
                        pending_id: pending_id.map(str::to_owned),
                        session_id: raise,
                        methods,
                        password_hash: Some(user.password_hash.clone()),
                    },
                )
                .await?;
                Ok(LoginOutcome::SecondFactor { challenge })
            }
        }
    }

    /// A challenge of this browser's that is still open, with its user.
    async fn load_challenge(
        &self,
        id: &str,
        browser: &str,
    ) -> Result<(LoginChallenge, User), AuthorizeOutcome> {
        let expired = || {
            AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
                "this sign-in has expired or was already completed; start again",
            ))
        };
        if id.len() > 64 {
            return Err(expired());
        }
        let challenge = match self.store.find_challenge(id).await {
            Ok(Some(c)) if self.clock.unix() < c.expires_at => c,
            Ok(_) => return Err(expired()),
            Err(e) => return Err(AuthorizeOutcome::ErrorPage(CoreError::from(e).to_oauth())),
        };
        if challenge.browser_hash != self.csrf.browser_hash(browser) {
            return Err(AuthorizeOutcome::ErrorPage(OAuthError::new(
                latchkey_protocol::ErrorCode::AccessDenied,
                "this sign-in was started in another browser; start again",
            )));
        }
        let user = match &challenge.user_id {
            Some(u) => self.store.find_user(u).await.ok().flatten(),
            None => None,
        };
        match user {
            // A sign-in's challenge starts from something proved: the
            // password, or the methods of the session it raises. One with
            // nothing proved is another ceremony's (a passkey being
            // registered) and completes no sign-in.
            Some(u) if !u.disabled && !challenge.methods.is_empty() => Ok((challenge, u)),
            _ => Err(expired()),
        }
    }

    /// What the challenge's request demands, and what the user can do.
    async fn step(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        browser: &str,
    ) -> Result<(Next, Enrolled), AuthorizeOutcome> {
        let (demand, client_requires) = match &challenge.pending_id {
            Some(id) => {
                let (_, target) = self.sign_in_for(id, browser).await?;
                (target.demand(), target.requires_mfa())
            }
            None => (Demand::default(), false),
        };
        let enrolled = Enrolled::of(self.store, &user.id)
            .await
            .map_err(|e| AuthorizeOutcome::ErrorPage(e.to_oauth()))?;
        let standing = enrolled.standing(self.settings, client_requires);
        Ok((next_step(challenge.methods, &demand, standing), enrolled))
    }

    /// Opens (or raises) the session if the challenge has proved enough;
    /// otherwise the second-factor page again.
    async fn proceed(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        previous: Option<&SignedIn>,
        browser: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, CoreError> {
        match self.step(challenge, user, browser).await {
            Ok((Next::Proceed, _)) => {}
            Ok(_) => {
                return Ok(LoginOutcome::SecondFactor {
                    challenge: challenge.id.clone(),
                })
            }
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        }
        self.finish(
            Finish {
                user,
                methods: challenge.methods,
                password_hash: challenge
                    .password_hash
                    .clone()
                    .unwrap_or_else(|| user.password_hash.clone()),
                pending_id: challenge.pending_id.clone(),
                raise: challenge.session_id.clone(),
                challenge: Some(&challenge.id),
            },
            previous,
            browser,
            ip,
            user_agent,
        )
        .await
    }

    async fn failed(&self, user: Option<&User>, ip: &str, why: &str) {
        self.audit
            .record(Event {
                kind: AuditEvent::LoginFailed,
                user_id: user.map(|u| &u.id),
                client_id: None,
                ip: Some(ip),
                detail: why.into(),
            })
            .await;
    }

    /// Every factor is proved: opens the browser's session (ending the one
    /// it had) or raises the one it has, then resumes the request.
    async fn finish(
        &self,
        f: Finish<'_>,
        previous: Option<&SignedIn>,
        browser: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, CoreError> {
        let expired = || {
            LoginOutcome::Refused(AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
                "this sign-in has expired or was already completed; start again",
            )))
        };
        if let Some(id) = f.challenge {
            if !self.store.delete_challenge(id).await? {
                return Ok(expired());
            }
        }
        let user = f.user;
        let now = self.clock.unix();
        let (cookie, signed_in) = match &f.raise {
            Some(session_id) => {
                // The browser must still hold the session being raised.
                let Some(prev) = previous.filter(|p| &p.session.id == session_id) else {
                    return Ok(expired());
                };
                let methods = prev.session.methods.union(f.methods);
                if !self.store.raise_session(session_id, methods, now).await? {
                    return Ok(expired());
                }
                self.audit
                    .record(Event {
                        kind: AuditEvent::SessionRaised,
                        user_id: Some(&user.id),
                        client_id: None,
                        ip: Some(ip),
                        detail: format!("session {session_id}: {methods}"),
                    })
                    .await;
                let mut session = prev.session.clone();
                session.methods = methods;
                session.auth_time = now;
                (
                    None,
                    SignedIn {
                        session,
                        user: user.clone(),
                    },
                )
            }
            None => {
                // A new sign-in replaces the browser's previous session,
                // which ends like any other: its tokens die and its
                // clients are told.
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
                    .open_session(&user.id, &f.password_hash, f.methods, now, ip, user_agent)
                    .await?
                else {
                    // The password changed (or the user was disabled) while
                    // it was being checked: the old password opens nothing.
                    return Ok(LoginOutcome::Failed);
                };
                self.audit
                    .record(Event {
                        kind: AuditEvent::Login,
                        user_id: Some(&user.id),
                        client_id: None,
                        ip: Some(ip),
                        detail: format!("session {} ({})", session.id, f.methods),
                    })
                    .await;
                (
                    Some(cookie),
                    SignedIn {
                        session,
                        user: user.clone(),
                    },
                )
            }
        };
        let Some(pending_id) = f.pending_id else {
            // Signed in for Latchkey itself (the account pages).
            let to = if f.raise.is_some() {
                "/account/security"
            } else {
                "/account/sessions"
            };
            return Ok(LoginOutcome::SignedIn {
                cookie,
                next: AuthorizeOutcome::Redirect(to.into()),
            });
        };
        let attached = if f.raise.is_some() {
            true
        } else {
            self.store
                .attach_session(&pending_id, &signed_in.session.id)
                .await?
        };
        let next = if attached {
            self.resume_for(&pending_id, &signed_in, browser).await
        } else {
            AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
                "this sign-in request has expired; return to the application and start again",
            ))
        };
        Ok(LoginOutcome::SignedIn { cookie, next })
    }
}

/// The method a passkey proves: `swk` when it may be synced off the
/// device, else `hwk`.
pub(crate) fn passkey_method(synced: bool) -> Method {
    if synced {
        Method::SyncedPasskey
    } else {
        Method::DeviceBoundPasskey
    }
}

/// An essential `acr` no factor of the user's reaches.
fn unmeetable() -> OAuthError {
    OAuthError::new(
        latchkey_protocol::ErrorCode::AccessDenied,
        "the essential acr requested cannot be met by this user's sign-in methods",
    )
}
