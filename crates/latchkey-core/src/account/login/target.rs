//! What a sign-in is for: a pending `/authorize` request, or a device's
//! request entered at `/device` (RFC 8628). Both are pending
//! authorizations bound to the browser; the sign-in asks what each demands
//! and hands the browser back to the one it was for.

use latchkey_protocol::authn::Demand;
use latchkey_protocol::OAuthError;

use super::*;
use crate::authorize::Checked;
use crate::device::DeviceSignIn;

pub(crate) enum SignInFor {
    Authorize {
        login_hint: Option<String>,
        checked: Box<Checked>,
    },
    Device(Box<DeviceSignIn>),
}

impl SignInFor {
    pub(crate) fn demand(&self) -> Demand {
        match self {
            SignInFor::Authorize { checked, .. } => checked.demand(),
            SignInFor::Device(d) => d.demand(),
        }
    }

    pub(crate) fn requires_mfa(&self) -> bool {
        match self {
            SignInFor::Authorize { checked, .. } => checked.requires_mfa(),
            SignInFor::Device(d) => d.requires_mfa(),
        }
    }

    pub(crate) fn client_name(&self) -> &str {
        match self {
            SignInFor::Authorize { checked, .. } => checked.client_name(),
            SignInFor::Device(d) => d.client_name(),
        }
    }

    /// Where a form resuming the request ends up: the client's redirect
    /// origin, or nowhere else (a device's consent page is Latchkey's).
    pub(crate) fn form_target(&self) -> Option<String> {
        match self {
            SignInFor::Authorize { checked, .. } => checked.form_target(),
            SignInFor::Device(_) => None,
        }
    }

    pub(crate) fn login_hint(&self) -> Option<String> {
        match self {
            SignInFor::Authorize { login_hint, .. } => login_hint.clone(),
            SignInFor::Device(_) => None,
        }
    }
}

impl Login<'_> {
    /// The pending request `id` of this browser, and the session already
    /// bound to it, if any.
    pub(crate) async fn sign_in_for(
        &self,
        id: &str,
        browser: &str,
    ) -> Result<(Option<SessionId>, SignInFor), AuthorizeOutcome> {
        if let Some((pending, device)) = self.device.load_pending(id, browser).await? {
            return Ok((pending.session_id, SignInFor::Device(Box::new(device))));
        }
        let (pending, params, checked) = self.authorize.load_pending(id, browser).await?;
        Ok((
            pending.session_id,
            SignInFor::Authorize {
                login_hint: params.get("login_hint").map(str::to_owned),
                checked: Box::new(checked),
            },
        ))
    }

    /// Ends the pending request `id` with an error: sent back to the
    /// client of an authorization request, shown on a page for a device's.
    pub(crate) async fn fail_sign_in(
        &self,
        id: &str,
        target: &SignInFor,
        e: &OAuthError,
    ) -> AuthorizeOutcome {
        match target {
            SignInFor::Authorize { checked, .. } => {
                self.authorize.fail_pending(id, checked, e).await
            }
            SignInFor::Device(_) => {
                if let Err(err) = self.store.delete_pending(id).await {
                    tracing::error!(error = %err, "could not remove a refused pending request");
                }
                AuthorizeOutcome::ErrorPage(e.clone())
            }
        }
    }

    /// Goes on with the request after the sign-in.
    pub(crate) async fn resume_for(
        &self,
        id: &str,
        signed_in: &SignedIn,
        browser: &str,
    ) -> AuthorizeOutcome {
        match self.device.resume(id, signed_in, browser).await {
            Some(next) => next,
            None => self.authorize.resume(id, signed_in, browser).await,
        }
    }
}
