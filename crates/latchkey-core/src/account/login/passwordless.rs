//! Passwordless sign-in with a discoverable passkey (`#passkey-sign-in`,
//! `POST /login/passkey`): the user is named by the credential itself.

use super::*;

impl Login<'_> {
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
            Some(id) => match self.sign_in_for(id, browser).await {
                Ok((_, target)) => Some((id.as_str(), target)),
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
                return Ok(self.throttled(wait_secs));
            }
            self.failed(None, ip, "unknown passkey").await;
            return Ok(LoginOutcome::Failed);
        };
        if let Err(wait_secs) = self
            .throttle
            .password_turn(self.clock, &user.username, ip)
            .await
        {
            return Ok(self.throttled(wait_secs));
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
                    self.fail_sign_in(id, &checked, &unmeetable()).await,
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
}
