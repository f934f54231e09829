//! RP-Initiated Logout 1.0 (`end_session_endpoint`).
//!
//! With a valid `id_token_hint` issued to this very session (its `sub` is
//! the signed-in user and its `sid` this session), the session ends at
//! once. Otherwise the user confirms on a CSRF-protected page, so a
//! third-party page cannot sign users out: not without a hint, and not with
//! a hint from another session of the same user (RP-Initiated Logout §2:
//! such a hint is suspect), which anyone who saw that session's ID token
//! could send. `post_logout_redirect_uri` must
//! equal one registered for the client, byte for byte, or there is no
//! redirect at all.

use latchkey_domain::Client;
use latchkey_domain::RevokeReason;
use latchkey_protocol::{ClientId, OAuthError, Params, State};

use crate::authorize::SignedIn;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Ask the user to confirm; the form carries these parameters back.
    Confirm {
        query: String,
        client_name: Option<String>,
        /// Where the confirmation form ends up (the post-logout redirect's
        /// origin, a CSP source), if not at Latchkey.
        form_target: Option<String>,
    },
    /// Signed out (or was not signed in): clear the cookie, then redirect
    /// here, or show the signed-out page.
    Done { redirect: Option<String> },
    /// Refused: no redirect.
    ErrorPage(OAuthError),
}

/// What a verified `id_token_hint` says.
#[derive(Debug, Clone)]
pub struct HintClaims {
    pub sub: String,
    pub aud: Vec<String>,
    pub sid: Option<String>,
}

service! {
    /// `GET|POST /logout` (RP-Initiated Logout 1.0).
    pub struct EndSessionEndpoint { store, signing_keys, sessions }
}

impl EndSessionEndpoint<'_> {
    /// Checks an `id_token_hint`: signed by one of Latchkey's published keys
    /// under the algorithm rules, typed as an ID token, issued here. An
    /// expired hint is accepted (OIDC RP-Initiated Logout §2).
    pub fn hint_claims(&self, hint: &str) -> Result<HintClaims, OAuthError> {
        let claims = self.signing_keys.verify_id_token_hint(hint).map_err(|e| {
            tracing::info!(reason = %e, "id_token_hint refused");
            OAuthError::invalid_request("id_token_hint is not an ID token issued by this server")
        })?;
        Ok(HintClaims {
            sub: claims.sub,
            aud: vec![claims.aud],
            sid: Some(claims.sid),
        })
    }

    /// `GET|POST /logout`. `confirmed` is true when the user submitted the
    /// confirmation form (its CSRF token already checked).
    pub async fn end(
        &self,
        params: &Params,
        signed_in: Option<&SignedIn>,
        confirmed: bool,
    ) -> LogoutOutcome {
        match self.end_session_inner(params, signed_in, confirmed).await {
            Ok(o) => o,
            Err(e) => LogoutOutcome::ErrorPage(e),
        }
    }

    async fn end_session_inner(
        &self,
        params: &Params,
        signed_in: Option<&SignedIn>,
        confirmed: bool,
    ) -> Result<LogoutOutcome, OAuthError> {
        let hint = params
            .get("id_token_hint")
            .map(|h| self.hint_claims(h))
            .transpose()?;
        let client_id = match (params.get("client_id"), &hint) {
            (Some(c), Some(h)) if !h.aud.iter().any(|a| a == c) => {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the id_token_hint",
                ))
            }
            (Some(c), _) => Some(ClientId::parse(c)?),
            (None, Some(h)) => h.aud.first().map(|a| ClientId::parse(a)).transpose()?,
            (None, None) => None,
        };
        let client = match &client_id {
            Some(id) => Some(
                self.store
                    .find_client(id)
                    .await
                    .map_err(|e| crate::CoreError::from(e).to_oauth())?
                    .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?,
            ),
            None => None,
        };
        let state = params.get("state").map(State::parse).transpose()?;
        let redirect = match params.get("post_logout_redirect_uri") {
            Some(uri) => Some(post_logout_redirect(client.as_ref(), uri, state.as_ref())?),
            None => None,
        };

        let Some(signed_in) = signed_in else {
            return Ok(LogoutOutcome::Done { redirect });
        };
        // Every ID token Latchkey issues names its session, so a hint
        // without a `sid` is as suspect as one naming another session.
        let hint_is_this_session = hint.as_ref().is_some_and(|h| {
            h.sub == signed_in.user.id.as_str()
                && h.sid.as_deref() == Some(signed_in.session.id.as_str())
        });
        if !hint_is_this_session && !confirmed {
            return Ok(LogoutOutcome::Confirm {
                query: params.to_query(),
                client_name: client.map(|c| c.name),
                form_target: redirect
                    .as_deref()
                    .and_then(|r| latchkey_protocol::RedirectUri::parse(r).ok())
                    .and_then(|r| r.csp_source()),
            });
        }
        self.sessions
            .end_sessions(
                &signed_in.user.id,
                Some(vec![signed_in.session.id.clone()]),
                false,
                RevokeReason::Logout,
            )
            .await
            .map_err(|e| e.to_oauth())?;
        Ok(LogoutOutcome::Done { redirect })
    }
}

fn post_logout_redirect(
    client: Option<&Client>,
    uri: &str,
    state: Option<&State>,
) -> Result<String, OAuthError> {
    let client = client.ok_or_else(|| {
        OAuthError::invalid_request("post_logout_redirect_uri needs client_id or id_token_hint")
    })?;
    let registered = client
        .post_logout_redirect_uris
        .iter()
        .find(|r| r.as_str() == uri)
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "post_logout_redirect_uri is not registered for this client",
            )
        })?;
    let mut url = registered.url();
    if let Some(s) = state {
        url.query_pairs_mut().append_pair("state", s.as_str());
    }
    Ok(url.into())
}
