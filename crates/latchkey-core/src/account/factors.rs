//! A user's second factors: what they have enrolled and the level that
//! reaches, and the security page's changes to them (authenticator app,
//! recovery codes). Every change needs a fresh sign-in, is audited, and
//! ends the user's other sessions.

use latchkey_domain::{
    AuditEvent, LoginChallenge, Methods, PasskeyRecord, RevokeReason, SessionId, Store,
    TotpCredential, UserId,
};

use crate::admin::AdminError;
use crate::audit::Event;
use crate::authorize::SignedIn;
use crate::error::CoreError;
pub use crate::support::factors::Enrolled;
use crate::support::factors::{qr_svg, replace_recovery_codes, TotpSecret, CHALLENGE_TTL};

/// Changes on the security page need a sign-in this recent (seconds).
pub const FRESH_SIGN_IN: i64 = 300;

/// An authenticator app being set up: its secret travels sealed in the
/// form (nothing is stored until the first code confirms it).
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub sealed: String,
    pub secret_base32: String,
    pub uri: String,
    pub qr_svg: String,
}

/// What the security page shows.
#[derive(Debug, Clone)]
pub struct SecurityView {
    pub username: String,
    pub enrolled: Enrolled,
    /// Whether changes may be made without signing in again.
    pub fresh: bool,
    /// Whether passkeys can be used with this issuer at all.
    pub passkeys_available: bool,
}

/// A passkey registration under way: the options for the browser, and the
/// challenge that keeps its state server-side.
#[derive(Debug, Clone)]
pub struct PasskeyRegistration {
    pub challenge: String,
    pub options: String,
}

service! {
    /// `/account/security`: a signed-in user's own second factors.
    pub struct Security { store, clock, random, settings, csrf, factor_secrets, passkeys, audit, sessions }
}

impl Security<'_> {
    pub fn is_fresh(&self, me: &SignedIn) -> bool {
        self.clock.unix() - me.session.auth_time <= FRESH_SIGN_IN
    }

    fn require_fresh(&self, me: &SignedIn) -> Result<(), AdminError> {
        if self.is_fresh(me) {
            Ok(())
        } else {
            Err(AdminError::Invalid(
                "sign in again to change how you sign in".into(),
            ))
        }
    }

    pub async fn view(&self, me: &SignedIn) -> Result<SecurityView, CoreError> {
        Ok(SecurityView {
            username: me.user.username.clone(),
            enrolled: Enrolled::of(self.store, &me.user.id).await?,
            fresh: self.is_fresh(me),
            passkeys_available: self.passkeys.is_some(),
        })
    }

    fn rp(&self) -> Result<&crate::support::webauthn::Passkeys, AdminError> {
        self.passkeys
            .ok_or_else(|| AdminError::Invalid("passkeys are not available on this server".into()))
    }

    /// Begins registering a passkey: its state is kept in a challenge bound
    /// to this browser and session; the user's passkeys are excluded.
    pub async fn start_passkey(
        &self,
        me: &SignedIn,
        browser: &str,
    ) -> Result<PasskeyRegistration, AdminError> {
        self.require_fresh(me)?;
        let rp = self.rp()?;
        let exclude: Vec<String> = self
            .store
            .list_passkeys(&me.user.id)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let (options, state) = rp
            .start_registration(
                me.user.id.as_str(),
                &me.user.username,
                &me.user.username,
                &exclude,
            )
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let now = self.clock.unix();
        let challenge = LoginChallenge {
            id: self.random.id(),
            user_id: Some(me.user.id.clone()),
            browser_hash: self.csrf.browser_hash(browser),
            pending_id: None,
            session_id: Some(me.session.id.clone()),
            methods: Methods::default(),
            password_hash: None,
            ceremony: Some(state),
            failures: 0,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(PasskeyRegistration {
            challenge: challenge.id,
            options,
        })
    }

    /// The browser's answer to [`Security::start_passkey`]: the passkey is
    /// the user's from now on, under `name`. The challenge is used up
    /// whatever the outcome.
    pub async fn finish_passkey(
        &self,
        me: &SignedIn,
        browser: &str,
        challenge_id: &str,
        credential: &str,
        name: &str,
    ) -> Result<(), AdminError> {
        self.require_fresh(me)?;
        let rp = self.rp()?;
        let again =
            || AdminError::Invalid("the passkey request is no longer valid, try again".into());
        if challenge_id.len() > 64 {
            return Err(again());
        }
        let Some(challenge) = self.store.find_challenge(challenge_id).await? else {
            return Err(again());
        };
        let now = self.clock.unix();
        if challenge.user_id.as_ref() != Some(&me.user.id)
            || challenge.session_id.as_ref() != Some(&me.session.id)
            || challenge.browser_hash != self.csrf.browser_hash(browser)
            || now >= challenge.expires_at
            || challenge.pending_id.is_some()
        {
            return Err(again());
        }
        let Some(state) = challenge.ceremony.as_deref() else {
            return Err(again());
        };
        if !self.store.delete_challenge(&challenge.id).await? {
            return Err(again());
        }
        let new = rp
            .finish_registration(state, credential)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        if self.store.find_passkey(&new.credential_id).await?.is_some() {
            return Err(AdminError::Invalid(
                "this passkey is already registered".into(),
            ));
        }
        let name = passkey_name(name);
        let inserted = self
            .store
            .insert_passkey(&PasskeyRecord {
                id: new.credential_id,
                user_id: me.user.id.clone(),
                name: name.clone(),
                credential: new.credential,
                synced: new.backup_eligible,
                created_at: now,
                last_used_at: None,
            })
            .await;
        match inserted {
            Ok(()) => {}
            // Registered by someone else at the same instant.
            Err(latchkey_domain::StoreError::Conflict(_)) => {
                return Err(AdminError::Invalid(
                    "this passkey is already registered".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        // Registering proves no sign-in: the session is not raised (a
        // passkey counts once it signs in).
        self.changed(me, &format!("passkey {name:?} added")).await
    }

    pub async fn rename_passkey(
        &self,
        me: &SignedIn,
        id: &str,
        name: &str,
    ) -> Result<(), AdminError> {
        self.require_fresh(me)?;
        let name = passkey_name(name);
        if !self.store.rename_passkey(&me.user.id, id, &name).await? {
            return Err(AdminError::NotFound("passkey"));
        }
        self.changed(me, &format!("passkey renamed to {name:?}"))
            .await
    }

    pub async fn remove_passkey(&self, me: &SignedIn, id: &str) -> Result<(), AdminError> {
        self.require_fresh(me)?;
        if !self.store.delete_passkey(&me.user.id, id).await? {
            return Err(AdminError::NotFound("passkey"));
        }
        self.changed(me, "passkey removed").await
    }

    /// A new secret to show (QR code and text) for an app to be set up.
    pub fn start_totp(&self, me: &SignedIn) -> Result<TotpEnrolment, AdminError> {
        self.require_fresh(me)?;
        Ok(enrolment(
            self.factor_secrets,
            self.random,
            &self.settings.issuer,
            &me.user.username,
            &me.user.id,
            TotpSecret::generate(self.random),
        ))
    }

    /// The page for an app being set up again (after a wrong code).
    pub fn resume_totp(&self, me: &SignedIn, sealed: &str) -> Result<TotpEnrolment, AdminError> {
        let secret = self
            .factor_secrets
            .open(sealed, &me.user.id)
            .map_err(|_| AdminError::Invalid("start setting up the app again".into()))?;
        Ok(enrolment(
            self.factor_secrets,
            self.random,
            &self.settings.issuer,
            &me.user.username,
            &me.user.id,
            secret,
        ))
    }

    /// The app answered with its first code: it is the user's app from
    /// now on (replacing one they had), with new recovery codes, returned
    /// to show once.
    pub async fn confirm_totp(
        &self,
        me: &SignedIn,
        sealed: &str,
        code: &str,
    ) -> Result<Vec<String>, AdminError> {
        self.require_fresh(me)?;
        let user = &me.user.id;
        let secret = self
            .factor_secrets
            .open(sealed, user)
            .map_err(|_| AdminError::Invalid("start setting up the app again".into()))?;
        let now = self.clock.unix();
        let Some(step) = secret.matching_step(code, now) else {
            return Err(AdminError::Invalid(
                "that code is not the app's current one; check the time on your device and try again"
                    .into(),
            ));
        };
        self.store
            .save_totp(&TotpCredential {
                user_id: user.clone(),
                secret: self.factor_secrets.seal(&secret, user, self.random),
                last_step: step,
                created_at: now,
            })
            .await?;
        let codes = replace_recovery_codes(self.store, self.random, user, now).await?;
        // Setting the app up proves who holds it, not who is signed in:
        // the session is not raised (its next request asks for a code).
        self.changed(me, "authenticator app set up; new recovery codes")
            .await?;
        Ok(codes)
    }

    pub async fn remove_totp(&self, me: &SignedIn) -> Result<(), AdminError> {
        self.require_fresh(me)?;
        if !self.store.delete_totp(&me.user.id).await? {
            return Err(AdminError::NotFound("authenticator app"));
        }
        self.changed(me, "authenticator app removed").await
    }

    /// New recovery codes (the old ones stop working), returned to show
    /// once.
    pub async fn new_recovery_codes(&self, me: &SignedIn) -> Result<Vec<String>, AdminError> {
        self.require_fresh(me)?;
        let now = self.clock.unix();
        let codes = replace_recovery_codes(self.store, self.random, &me.user.id, now).await?;
        self.changed(me, "new recovery codes").await?;
        Ok(codes)
    }

    /// Audits a change and ends every other session of the user: whoever
    /// else was signed in as them signs in again, with the factors as they
    /// are now.
    pub(crate) async fn changed(&self, me: &SignedIn, what: &str) -> Result<(), AdminError> {
        end_other_sessions(self.store, self.sessions, &me.user.id, &me.session.id).await?;
        self.store.delete_user_challenges(&me.user.id, None).await?;
        self.audit
            .record(Event {
                kind: AuditEvent::FactorsChanged,
                user_id: Some(&me.user.id),
                client_id: None,
                ip: None,
                detail: format!("by the user in session {}: {what}", me.session.id),
            })
            .await;
        Ok(())
    }
}

/// A passkey's name as the user typed it: trimmed, at most 64 characters,
/// "Passkey" when empty.
fn passkey_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if name.is_empty() {
        "Passkey".into()
    } else {
        name
    }
}

/// Ends every active session of `user` but `keep`.
pub(crate) async fn end_other_sessions(
    store: &dyn Store,
    sessions: crate::sessions::Sessions<'_>,
    user: &UserId,
    keep: &SessionId,
) -> Result<(), CoreError> {
    let others: Vec<SessionId> = store
        .list_active_sessions(user)
        .await?
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id != keep)
        .collect();
    if !others.is_empty() {
        sessions
            .end_sessions(user, Some(others), false, RevokeReason::FactorsChanged)
            .await?;
    }
    Ok(())
}

/// What the page needs to set up `secret` in an app.
pub(crate) fn enrolment(
    secrets: &crate::support::factors::FactorSecrets,
    random: &dyn latchkey_domain::Random,
    issuer: &str,
    username: &str,
    user: &UserId,
    secret: TotpSecret,
) -> TotpEnrolment {
    let label = url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Latchkey".into());
    let uri = secret.uri(&label, username);
    TotpEnrolment {
        sealed: secrets.seal(&secret, user, random),
        secret_base32: secret.base32(),
        qr_svg: qr_svg(&uri),
        uri,
    }
}
