//! `/login/factor`: the second step of a sign-in (a one-time code, a
//! passkey's answer, or an app set up when the user needs a first
//! factor), each try counted before it is checked.

use super::*;

impl Login<'_> {
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
                let (_, target) = self.sign_in_for(id, browser).await?;
                (Some(target.client_name().to_owned()), target.form_target())
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
            return Ok(Err(self.throttled(wait_secs)));
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
}
