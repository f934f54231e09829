//! A user's second factors: what they have enrolled and the level that
//! reaches, and the security page's changes to them (authenticator app,
//! recovery codes). Every change needs a fresh sign-in, is audited, and
//! ends the user's other sessions.

use latchkey_domain::{AuditEvent, RevokeReason, SessionId, Store, TotpCredential, UserId};
use latchkey_protocol::authn::Method;

use crate::admin::AdminError;
use crate::audit::Event;
use crate::authorize::SignedIn;
use crate::error::CoreError;
pub use crate::support::factors::Enrolled;
use crate::support::factors::{qr_svg, replace_recovery_codes, TotpSecret};

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
}

service! {
    /// `/account/security`: a signed-in user's own second factors.
    pub struct Security { store, clock, random, settings, factor_secrets, audit, sessions }
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
        })
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
        self.raise(me, Method::Totp).await?;
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

    /// This session proved `method` too.
    async fn raise(&self, me: &SignedIn, method: Method) -> Result<(), CoreError> {
        self.store
            .raise_session(
                &me.session.id,
                me.session.methods.with(method),
                me.session.auth_time,
            )
            .await?;
        Ok(())
    }

    /// Audits a change and ends every other session of the user: whoever
    /// else was signed in as them signs in again, with the factors as they
    /// are now.
    pub(crate) async fn changed(&self, me: &SignedIn, what: &str) -> Result<(), AdminError> {
        end_other_sessions(self.store, self.sessions, &me.user.id, &me.session.id).await?;
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
