//! Signing in at Latchkey's login page: the password behind the throttle
//! (counted before the hash), then, when the user has a second factor or
//! the request or policy needs one, a challenge (`/login/factor`) for a
//! one-time code (or the enrolment of an authenticator app), and only
//! then a browser session. The same steps re-authenticate a signed-in
//! user (`reauth`) and raise their session in place (step-up).

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
    pub struct Login { store, clock, random, settings, csrf, factor_secrets, passkeys, passwords, throttle, audit, sessions, authorize }
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
            Some(id) => match self.authorize.load_pending(id, browser).await {
                Ok((stored, _, checked)) => Some((id, checked, stored.session_id)),
                Err(refused) => return Ok(LoginOutcome::Refused(refused)),
            },
            None => None,
        };
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
                Some((id, checked, _)) => {
                    self.authorize
                        .fail_pending(id, &checked, &unmeetable())
                        .await
                }
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

    /// Prepares the sign-in page's passkey button: a discoverable
    /// ceremony whose state waits in a challenge bound to this browser
    /// (the user is unknown until the passkey names them). `None` when the
    /// issuer allows no passkeys. With `raise`, a passkey of the same user
    /// raises that session instead of opening one.
    pub async fn start_passwordless(
        &self,
        pending_id: Option<&str>,
        browser: &str,
        raise: Option<SessionId>,
    ) -> Result<Option<PasswordlessStart>, CoreError> {
        let Some(rp) = self.passkeys else {
            return Ok(None);
        };
        let (options, state) = rp
            .start_passwordless()
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let now = self.clock.unix();
        let challenge = LoginChallenge {
            id: self.random.id(),
            user_id: None,
            browser_hash: self.csrf.browser_hash(browser),
            pending_id: pending_id.map(str::to_owned),
            session_id: raise,
            methods: Methods::default(),
            password_hash: None,
            ceremony: Some(state),
            failures: 0,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(Some(PasswordlessStart {
            challenge: challenge.id,
            options,
        }))
    }

    /// `POST /login/passkey`: a passkey's answer to the sign-in page's
    /// button. The challenge is used up first; the answer names its user
    /// (by user handle and credential), is verified against that user's
    /// passkeys, and is a whole sign-in on its own (no password).
    pub async fn submit_passwordless(
        &self,
        challenge_id: &str,
        credential: &str,
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
        if challenge_id.len() > 64 {
            return Ok(expired());
        }
        let Some(challenge) = self.store.find_challenge(challenge_id).await? else {
            return Ok(expired());
        };
        if challenge.browser_hash != self.csrf.browser_hash(browser) {
            return Ok(LoginOutcome::Refused(AuthorizeOutcome::ErrorPage(
                OAuthError::new(
                    latchkey_protocol::ErrorCode::AccessDenied,
                    "this sign-in was started in another browser; start again",
                ),
            )));
        }
        let (Some(state), None) = (challenge.ceremony.as_deref(), &challenge.user_id) else {
            return Ok(expired());
        };
        if self.clock.unix() >= challenge.expires_at
            || !self.store.delete_challenge(&challenge.id).await?
        {
            return Ok(expired());
        }
        let Some(rp) = self.passkeys else {
            return Ok(expired());
        };
        let pending = match &challenge.pending_id {
            Some(id) => match self.authorize.load_pending(id, browser).await {
                Ok((_, _, checked)) => Some((id.as_str(), checked)),
                Err(refused) => return Ok(LoginOutcome::Refused(refused)),
            },
            None => None,
        };
        // Who the answer says it is: a stored credential whose user has
        // this handle, and a user who may sign in.
        let named = match rp.identify(credential) {
            Ok(id) => match self.store.find_passkey(&id.credential_id).await? {
                Some(record)
                    if crate::support::webauthn::user_handle(record.user_id.as_str())
                        .to_string()
                        == id.user_handle =>
                {
                    match self.store.find_user(&record.user_id).await? {
                        Some(u) if !u.disabled => Some((record, u)),
                        Some(u) => {
                            self.failed(Some(&u), ip, "passkey of a disabled user")
                                .await;
                            None
                        }
                        None => None,
                    }
                }
                _ => None,
            },
            Err(_) => None,
        };
        let Some((record, user)) = named else {
            if let Err(wait_secs) = self.throttle.password_turn(self.clock, "", ip).await {
                return Ok(LoginOutcome::Throttled { wait_secs });
            }
            self.failed(None, ip, "unknown passkey").await;
            return Ok(LoginOutcome::Failed);
        };
        if let Err(wait_secs) = self
            .throttle
            .password_turn(self.clock, &user.username, ip)
            .await
        {
            return Ok(LoginOutcome::Throttled { wait_secs });
        }
        let stored = self.store.list_passkeys(&user.id).await?;
        let creds: Vec<String> = stored.iter().map(|p| p.credential.clone()).collect();
        let verified = match rp.finish_passwordless(state, credential, &creds) {
            Ok(v) if v.credential_id == record.id => v,
            Ok(_) | Err(_) => {
                self.failed(Some(&user), ip, "passkey not verified").await;
                return Ok(LoginOutcome::Failed);
            }
        };
        let now = self.clock.unix();
        let updated = verified.updated.as_deref().unwrap_or(&record.credential);
        self.store.passkey_used(&record.id, updated, now).await?;
        self.throttle.succeeded(&user.username, ip).await;
        let methods = Methods::of(passkey_method(record.synced));
        let (demand, client_requires) = match &pending {
            Some((_, checked)) => (checked.demand(), checked.requires_mfa()),
            None => (Demand::default(), false),
        };
        let standing = Enrolled::of(self.store, &user.id)
            .await?
            .standing(self.settings, client_requires);
        let raise = challenge
            .session_id
            .clone()
            .filter(|s| previous.is_some_and(|p| &p.session.id == s && p.user.id == user.id));
        match next_step(methods, &demand, standing) {
            Next::Proceed => {
                self.finish(
                    Finish {
                        user: &user,
                        methods,
                        password_hash: user.password_hash.clone(),
                        pending_id: challenge.pending_id.clone(),
                        raise,
                        challenge: None,
                    },
                    previous,
                    browser,
                    ip,
                    user_agent,
                )
                .await
            }
            Next::Refuse => {
                let Some((id, checked)) = pending else {
                    return Ok(LoginOutcome::Failed);
                };
                Ok(LoginOutcome::Refused(
                    self.authorize
                        .fail_pending(id, &checked, &unmeetable())
                        .await,
                ))
            }
            Next::Prove(_) | Next::Enrol => {
                let challenge = open_challenge(
                    self.store,
                    self.random,
                    now,
                    ChallengeStart {
                        user: &user.id,
                        browser_hash: self.csrf.browser_hash(browser),
                        pending_id: challenge.pending_id.clone(),
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
                let (_, _, checked) = self.authorize.load_pending(id, browser).await?;
                (checked.demand(), checked.requires_mfa())
            }
            None => (Demand::default(), false),
        };
        let enrolled = Enrolled::of(self.store, &user.id)
            .await
            .map_err(|e| AuthorizeOutcome::ErrorPage(e.to_oauth()))?;
        let standing = enrolled.standing(self.settings, client_requires);
        Ok((next_step(challenge.methods, &demand, standing), enrolled))
    }

    /// The second-factor page of a challenge.
    pub async fn factor_view(
        &self,
        challenge_id: &str,
        browser: &str,
    ) -> Result<FactorView, AuthorizeOutcome> {
        let (mut challenge, user) = self.load_challenge(challenge_id, browser).await?;
        let (next, enrolled) = self.step(&challenge, &user, browser).await?;
        let (client_name, form_target) = match &challenge.pending_id {
            Some(id) => {
                let (_, _, checked) = self.authorize.load_pending(id, browser).await?;
                (
                    Some(checked.client_name().to_owned()),
                    checked.form_target(),
                )
            }
            None => (None, None),
        };
        let enrol = if next == Next::Enrol {
            let secret = match challenge
                .ceremony
                .as_deref()
                .and_then(|s| self.factor_secrets.open(s, &user.id).ok())
            {
                Some(s) => s,
                None => {
                    let s = TotpSecret::generate(self.random);
                    challenge.ceremony = Some(self.factor_secrets.seal(&s, &user.id, self.random));
                    self.store
                        .update_challenge(&challenge)
                        .await
                        .map_err(|e| AuthorizeOutcome::ErrorPage(CoreError::from(e).to_oauth()))?;
                    s
                }
            };
            Some(crate::account::factors::enrolment(
                self.factor_secrets,
                self.random,
                &self.settings.issuer,
                &user.username,
                &user.id,
                secret,
            ))
        } else {
            None
        };
        let passkey_options = match (self.passkeys, next) {
            (Some(rp), Next::Prove(_)) if !enrolled.passkeys.is_empty() => {
                let stored: Vec<String> = enrolled
                    .passkeys
                    .iter()
                    .map(|p| p.credential.clone())
                    .collect();
                match rp.start_second_factor(&stored) {
                    Ok((options, state)) => {
                        challenge.ceremony = Some(state);
                        self.store.update_challenge(&challenge).await.map_err(|e| {
                            AuthorizeOutcome::ErrorPage(CoreError::from(e).to_oauth())
                        })?;
                        Some(options)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "no passkey check could be prepared");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(FactorView {
            passkey_options,
            challenge: challenge.id,
            username: user.username,
            client_name,
            form_target,
            totp: enrolled.totp,
            recovery_codes: enrolled.recovery_codes > 0,
            passkeys: !enrolled.passkeys.is_empty(),
            passkey_only: next == Next::Prove(latchkey_protocol::authn::Level::PhishingResistant),
            enrol,
        })
    }

    /// `POST /login/factor`: a one-time code for a challenge (or the first
    /// code of an app being set up).
    pub async fn submit_code(
        &self,
        challenge_id: &str,
        code: &str,
        previous: Option<&SignedIn>,
        browser: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, CoreError> {
        let (mut challenge, user) = match self.load_challenge(challenge_id, browser).await {
            Ok(x) => x,
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        };
        let next = match self.step(&challenge, &user, browser).await {
            Ok((next, _)) => next,
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        };
        let tries = match self.take_turn(&challenge, &user, ip).await? {
            Ok(tries) => tries,
            Err(refused) => return Ok(refused),
        };
        let now = self.clock.unix();
        let proved = if next == Next::Enrol {
            self.confirm_enrolment(&challenge, &user, code, now).await?
        } else if matches!(next, Next::Prove(l) if l > latchkey_protocol::authn::Level::MultiFactor)
        {
            // A one-time code cannot satisfy a request for a passkey.
            None
        } else {
            use_code(self.store, self.factor_secrets, &user.id, code, now).await?
        };
        let Some(method) = proved else {
            if tries >= CHALLENGE_TRIES {
                self.store.delete_challenge(&challenge.id).await?;
            }
            self.failed(Some(&user), ip, "wrong one-time code").await;
            return Ok(LoginOutcome::Failed);
        };
        self.throttle.succeeded(&user.username, ip).await;
        challenge.methods = challenge.methods.with(method);
        challenge.ceremony = None;
        if next == Next::Enrol {
            let recovery_codes = self.enrolled(&challenge, &user, now).await?;
            return Ok(LoginOutcome::Enrolled {
                challenge: challenge.id,
                recovery_codes,
            });
        }
        self.store.update_challenge(&challenge).await?;
        self.proceed(&challenge, &user, previous, browser, ip, user_agent)
            .await
    }

    /// `POST /login/factor` with `credential`: a passkey's answer to the
    /// check the page offered. The state is taken out of the challenge
    /// before the answer is verified, so one answer counts once.
    pub async fn submit_passkey(
        &self,
        challenge_id: &str,
        credential: &str,
        previous: Option<&SignedIn>,
        browser: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, CoreError> {
        let (mut challenge, user) = match self.load_challenge(challenge_id, browser).await {
            Ok(x) => x,
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        };
        let next = match self.step(&challenge, &user, browser).await {
            Ok((next, _)) => next,
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        };
        let tries = match self.take_turn(&challenge, &user, ip).await? {
            Ok(tries) => tries,
            Err(refused) => return Ok(refused),
        };
        let now = self.clock.unix();
        let proved = match (self.passkeys, challenge.ceremony.take(), next) {
            (Some(rp), Some(state), Next::Prove(_))
                if self.store.take_ceremony(&challenge.id, &state).await? =>
            {
                let stored = self.store.list_passkeys(&user.id).await?;
                let creds: Vec<String> = stored.iter().map(|p| p.credential.clone()).collect();
                match rp.finish_second_factor(&state, credential, &creds) {
                    Ok(v) => match stored.iter().find(|p| p.id == v.credential_id) {
                        Some(record) => {
                            let updated = v.updated.as_deref().unwrap_or(&record.credential);
                            self.store.passkey_used(&record.id, updated, now).await?;
                            Some(passkey_method(record.synced))
                        }
                        None => None,
                    },
                    Err(e) => {
                        tracing::info!(error = %e, "a passkey answer was refused");
                        None
                    }
                }
            }
            _ => None,
        };
        let Some(method) = proved else {
            if tries >= CHALLENGE_TRIES {
                self.store.delete_challenge(&challenge.id).await?;
            }
            self.failed(Some(&user), ip, "passkey not verified").await;
            return Ok(LoginOutcome::Failed);
        };
        self.throttle.succeeded(&user.username, ip).await;
        challenge.methods = challenge.methods.with(method);
        challenge.ceremony = None;
        self.store.update_challenge(&challenge).await?;
        self.proceed(&challenge, &user, previous, browser, ip, user_agent)
            .await
    }

    /// Counts a try at the challenge before anything is checked: the login
    /// limiter's (codes have a hard limit per account), then the
    /// challenge's own. `Ok(Err(..))`: refused, with what to answer.
    async fn take_turn(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        ip: &str,
    ) -> Result<Result<i64, LoginOutcome>, CoreError> {
        if let Err(wait_secs) = self
            .throttle
            .code_turn(self.clock, &user.username, ip)
            .await
        {
            return Ok(Err(LoginOutcome::Throttled { wait_secs }));
        }
        let tries = self.store.count_challenge_try(&challenge.id).await?;
        if tries > CHALLENGE_TRIES || tries == 0 {
            self.store.delete_challenge(&challenge.id).await?;
            return Ok(Err(LoginOutcome::Refused(AuthorizeOutcome::ErrorPage(
                OAuthError::new(
                    latchkey_protocol::ErrorCode::AccessDenied,
                    "too many wrong codes; start signing in again",
                ),
            ))));
        }
        Ok(Ok(tries))
    }

    /// `POST /login/factor` with `continue`: finishes a challenge whose
    /// factors are all proved (after the recovery codes were shown).
    pub async fn resume_challenge(
        &self,
        challenge_id: &str,
        previous: Option<&SignedIn>,
        browser: &str,
        ip: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, CoreError> {
        let (challenge, user) = match self.load_challenge(challenge_id, browser).await {
            Ok(x) => x,
            Err(refused) => return Ok(LoginOutcome::Refused(refused)),
        };
        self.proceed(&challenge, &user, previous, browser, ip, user_agent)
            .await
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

    /// Checks the first code of the app being set up in the challenge.
    async fn confirm_enrolment(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        code: &str,
        now: i64,
    ) -> Result<Option<Method>, CoreError> {
        let Some(sealed) = challenge.ceremony.as_deref() else {
            return Ok(None);
        };
        let secret = self.factor_secrets.open(sealed, &user.id)?;
        let Some(step) = secret.matching_step(code, now) else {
            return Ok(None);
        };
        self.store
            .save_totp(&latchkey_domain::TotpCredential {
                user_id: user.id.clone(),
                secret: sealed.to_owned(),
                last_step: step,
                created_at: now,
            })
            .await?;
        Ok(Some(Method::Totp))
    }

    /// After an app was set up in a sign-in: its recovery codes, and the
    /// challenge's progress saved.
    async fn enrolled(
        &self,
        challenge: &LoginChallenge,
        user: &User,
        now: i64,
    ) -> Result<Vec<String>, CoreError> {
        let codes =
            crate::support::factors::replace_recovery_codes(self.store, self.random, &user.id, now)
                .await?;
        self.store.update_challenge(challenge).await?;
        // Like a change on the security page: every other session and
        // sign-in in progress of the user ends (the one being raised, if
        // any, and this challenge go on).
        match &challenge.session_id {
            Some(keep) => {
                crate::account::factors::end_other_sessions(
                    self.store,
                    self.sessions,
                    &user.id,
                    keep,
                )
                .await?
            }
            None => {
                self.sessions
                    .end_sessions(&user.id, None, false, RevokeReason::FactorsChanged)
                    .await?;
            }
        }
        self.store
            .delete_user_challenges(&user.id, Some(&challenge.id))
            .await?;
        self.audit
            .record(Event {
                kind: AuditEvent::FactorsChanged,
                user_id: Some(&user.id),
                client_id: None,
                ip: None,
                detail: "authenticator app set up while signing in; new recovery codes; other sessions ended".into(),
            })
            .await;
        Ok(codes)
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
            self.authorize
                .resume(&pending_id, &signed_in, browser)
                .await
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
