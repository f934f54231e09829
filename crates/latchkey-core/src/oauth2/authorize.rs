//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): decide,
//! for a parsed request and the browser's session, whether to redirect back
//! with a code or an error, ask the user to sign in or consent, or show an
//! error page because no redirect is safe.

use latchkey_domain::{
    AuthorizationCode, BrowserSession, Client, Consent, PendingAuthorization, User,
};
use latchkey_domain::{CodeState, SessionId};
use latchkey_protocol::authn::{next_step, Demand, Next};
use latchkey_protocol::authorize::{
    echo_response_mode, echo_state, AuthorizationRequest, AuthorizationTarget, ClientRules,
};
use latchkey_protocol::claims_request::ClaimsRequest;
use latchkey_protocol::par::AuthorizeInput;
use latchkey_protocol::user_claims::{scope_of_claim, RequestedClaims};
use latchkey_protocol::Requirement;
use latchkey_protocol::{ErrorCode, OAuthError, Params, RedirectUri, ResponseMode, Scope, State};

use crate::error::CoreError;
use crate::secrets::token_hash;
use crate::support::factors::{open_challenge, ChallengeStart, Enrolled};

/// A browser signed in at Latchkey.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: BrowserSession,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Send the browser to this URL at the client (a code or an error).
    Redirect(String),
    /// Have the browser post a form to the client (a code or an error;
    /// `response_mode=form_post`).
    FormPost(FormPost),
    /// Show the sign-in page for this pending request.
    Login { pending_id: String },
    /// Show the consent page for this pending request.
    Consent { pending_id: String },
    /// Show the second-factor page for this sign-in in progress (a
    /// step-up of the session, or a sign-in past its password).
    SecondFactor { challenge: String },
    /// No redirect URI can be trusted: show an error page (HTTP 400).
    ErrorPage(OAuthError),
}

/// An answer for the client that the browser posts to its redirect URI
/// (OAuth 2.0 Form Post Response Mode §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPost {
    /// The redirect URI, exactly as registered: the form's action.
    pub action: String,
    /// The answer's parameters, in order.
    pub fields: Vec<(&'static str, String)>,
    /// The redirect URI's origin (a CSP `form-action` source).
    pub form_target: Option<String>,
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView {
    pub pending_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    /// The claims a `claims` request (OIDC Core §5.5) asks for beyond
    /// what the scopes release, each with the scope whose data it is.
    pub claims: Vec<ConsentClaim>,
    pub username: String,
    /// The client's redirect origin: the consent form's answer goes there.
    pub form_target: Option<String>,
}

/// A claim the consent page lists besides the scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentClaim {
    pub name: &'static str,
    pub scope: &'static str,
}

/// Where a request being decided comes from: a fresh `/authorize` from
/// this browser, or a stored pending request already bound to it.
#[derive(Clone, Copy)]
enum Pending<'a> {
    /// `browser` gives the browser's id when a pending request must be
    /// bound to it (most requests of a signed-in browser need none).
    New {
        browser: &'a dyn Fn() -> String,
    },
    Stored(&'a PendingAuthorization),
}

/// A request whose client and redirect URI have been checked.
pub(crate) struct Checked {
    client: Client,
    request: AuthorizationRequest,
    /// The `sub` of a verified `id_token_hint`: the user the client
    /// expects to be signed in.
    hint_sub: Option<String>,
    /// The claims the `claims` request names that Latchkey releases: those
    /// of scopes the client may ask for.
    claims: RequestedClaims,
    /// The request came through the pushed authorization request endpoint.
    pushed: bool,
}

/// Why a request was refused while it was checked: before its redirect URI
/// is trusted (an error page), or after (an error for the client). The
/// pushed authorization request endpoint answers either as JSON.
pub(crate) enum Refusal {
    Untrusted(OAuthError),
    Trusted {
        redirect_uri: RedirectUri,
        mode: ResponseMode,
        state: Option<State>,
        error: OAuthError,
    },
}

impl Refusal {
    pub(crate) fn into_error(self) -> OAuthError {
        match self {
            Refusal::Untrusted(e) | Refusal::Trusted { error: e, .. } => e,
        }
    }
}

impl Checked {
    /// What the user's consent must cover: the scope, and the scope whose
    /// data each claim the `claims` request names is (OIDC Core §5.5).
    fn consent_scope(&self) -> Scope {
        let of_claims = self.claims.all().scopes();
        // Each is in the client's scope: that is how the claims were kept.
        let extra = self.client.scope.filter(|s| of_claims.contains(s));
        self.request.scope.union(&extra)
    }

    pub(crate) fn client_name(&self) -> &str {
        &self.client.name
    }

    /// What the request demands of the sign-in.
    pub(crate) fn demand(&self) -> Demand {
        self.request.demand()
    }

    pub(crate) fn requires_mfa(&self) -> bool {
        self.client.require_mfa
    }

    /// Where a form that resumes this request ends up (a CSP source).
    pub(crate) fn form_target(&self) -> Option<String> {
        self.request.redirect_uri.csp_source()
    }
}

service! {
    /// `GET /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2) and the consent
    /// step that may follow it.
    pub struct AuthorizeEndpoint { store, clock, random, settings, csrf, signing_keys }
}

impl AuthorizeEndpoint<'_> {
    /// Reads the browser's session from its cookie value; only an active,
    /// unexpired session of an enabled user counts.
    pub async fn current_session(
        &self,
        cookie: Option<&str>,
    ) -> Result<Option<SignedIn>, CoreError> {
        let Some(cookie) = cookie else {
            return Ok(None);
        };
        if cookie.len() > 128 {
            return Ok(None);
        }
        let Some(session) = self.store.find_active_session(&token_hash(cookie)).await? else {
            return Ok(None);
        };
        if self.clock.unix() >= session.created_at + self.settings.tokens.session_ttl {
            return Ok(None);
        }
        match self.store.find_user(&session.user_id).await? {
            Some(user) if !user.disabled => Ok(Some(SignedIn { session, user })),
            _ => Ok(None),
        }
    }

    /// `GET|POST /authorize`. `browser` gives the id of the browser asking
    /// (its CSRF cookie), called only when a request that needs the user is
    /// bound to it.
    pub async fn start(
        &self,
        params: &Params,
        signed_in: Option<&SignedIn>,
        browser: &dyn Fn() -> String,
    ) -> AuthorizeOutcome {
        let (params, pushed) = match self.unpack(params).await {
            Ok(p) => p,
            Err(e) => return AuthorizeOutcome::ErrorPage(e),
        };
        let checked = match self.check(&params, pushed).await {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        let result = self
            .proceed(&checked, &params, signed_in, Pending::New { browser })
            .await;
        self.settle(result, &checked)
    }

    /// The request's parameters: those in the query or form, or those a
    /// client pushed (RFC 9126 §4), which the `request_uri` names once.
    /// Whether they were pushed comes back with them.
    async fn unpack(&self, params: &Params) -> Result<(Params, bool), OAuthError> {
        let (client_id, request_uri) = match AuthorizeInput::read(params.clone())? {
            AuthorizeInput::Plain(p) => return Ok((p, false)),
            AuthorizeInput::Pushed {
                client_id,
                request_uri,
            } => (client_id, request_uri),
        };
        let refused = || {
            OAuthError::new(
                ErrorCode::InvalidRequestUri,
                "request_uri is unknown, expired, already used or another client's; \
                 return to the application and start again",
            )
        };
        let pushed = self
            .store
            .take_pushed(&token_hash(request_uri.reference()))
            .await
            .map_err(|e| CoreError::from(e).to_oauth())?
            .ok_or_else(refused)?;
        if pushed.client_id != client_id || self.clock.unix() >= pushed.expires_at {
            tracing::info!(client_id = %client_id, "request_uri of another client, or expired");
            return Err(refused());
        }
        Ok((Params::parse(pushed.query.as_bytes())?, true))
    }

    /// Resumes a pending request after the user signed in for it.
    pub async fn resume(
        &self,
        pending_id: &str,
        signed_in: &SignedIn,
        browser: &str,
    ) -> AuthorizeOutcome {
        let (pending, params, checked) = match self.load_pending(pending_id, browser).await {
            Ok(x) => x,
            Err(outcome) => return outcome,
        };
        let result = self
            .proceed(
                &checked,
                &params,
                Some(signed_in),
                Pending::Stored(&pending),
            )
            .await;
        self.settle(result, &checked)
    }

    /// What the consent page for a pending request shows; the browser must
    /// be the one that started it and the session the one that signed in
    /// for it.
    pub async fn consent_view(
        &self,
        pending_id: &str,
        signed_in: Option<&SignedIn>,
        browser: &str,
    ) -> Result<ConsentView, AuthorizeOutcome> {
        let (pending, _, checked) = self.load_pending(pending_id, browser).await?;
        let signed_in = Self::session_for(&pending, signed_in)?;
        Ok(ConsentView {
            pending_id: pending.id,
            client_name: checked.client.name.clone(),
            scopes: checked.request.scope.iter().map(str::to_owned).collect(),
            claims: checked
                .claims
                .all()
                .beyond(&checked.request.scope)
                .iter()
                .filter_map(|name| scope_of_claim(name).map(|scope| ConsentClaim { name, scope }))
                .collect(),
            username: signed_in.user.username.clone(),
            form_target: checked.form_target(),
        })
    }

    /// The user's answer on the consent page.
    pub async fn decide_consent(
        &self,
        pending_id: &str,
        signed_in: Option<&SignedIn>,
        approve: bool,
        browser: &str,
    ) -> AuthorizeOutcome {
        let (pending, params, checked) = match self.load_pending(pending_id, browser).await {
            Ok(x) => x,
            Err(outcome) => return outcome,
        };
        let signed_in = match Self::session_for(&pending, signed_in) {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        let result = async {
            // The client's policy or the user's factors may have changed
            // while the page was open: a sign-in that no longer suffices
            // proves more first (the consent is asked again afterwards).
            if approve {
                let standing = Enrolled::of(self.store, &signed_in.user.id)
                    .await?
                    .standing(self.settings, checked.requires_mfa());
                if next_step(signed_in.session.methods, &checked.demand(), standing)
                    != Next::Proceed
                {
                    return self
                        .proceed(
                            &checked,
                            &params,
                            Some(signed_in),
                            Pending::Stored(&pending),
                        )
                        .await;
                }
            }
            // One answer per consent form: a second submission (or a
            // concurrent one) finds the request gone.
            if !self.store.delete_pending(&pending.id).await? {
                return Ok(already_settled());
            }
            if !approve {
                return Ok(self.refuse(
                    &checked,
                    &OAuthError::new(ErrorCode::AccessDenied, "the user declined"),
                ));
            }
            let previous = self
                .store
                .find_consent(&signed_in.user.id, &checked.client.id)
                .await?;
            let asked = checked.consent_scope();
            let scope = match previous {
                Some(p) => p.scope.union(&asked),
                None => asked,
            };
            self.store
                .save_consent(&Consent {
                    user_id: signed_in.user.id.clone(),
                    client_id: checked.client.id.clone(),
                    scope,
                    granted_at: self.clock.unix(),
                })
                .await?;
            self.issue_code(&checked, signed_in).await
        }
        .await;
        self.settle(result, &checked)
    }

    fn session_for<'a>(
        pending: &PendingAuthorization,
        signed_in: Option<&'a SignedIn>,
    ) -> Result<&'a SignedIn, AuthorizeOutcome> {
        match signed_in {
            Some(s) if pending.session_id.as_ref() == Some(&s.session.id) => Ok(s),
            _ => Err(AuthorizeOutcome::ErrorPage(OAuthError::new(
                ErrorCode::AccessDenied,
                "this request belongs to another sign-in; return to the application and start again",
            ))),
        }
    }

    fn settle(
        &self,
        result: Result<AuthorizeOutcome, CoreError>,
        checked: &Checked,
    ) -> AuthorizeOutcome {
        result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "authorization request failed");
            self.refuse(checked, &e.to_oauth())
        })
    }

    /// A pending request, if it is still open and was started by this
    /// browser (another browser presenting its id, a session swap, is
    /// refused before anything happens).
    pub(crate) async fn load_pending(
        &self,
        pending_id: &str,
        browser: &str,
    ) -> Result<(PendingAuthorization, Params, Checked), AuthorizeOutcome> {
        let expired = || {
            AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
                "this sign-in request has expired or was already completed; return to the application and start again",
            ))
        };
        if pending_id.len() > 64 {
            return Err(expired());
        }
        let pending = match self.store.find_pending(pending_id).await {
            Ok(Some(p)) if self.clock.unix() < p.expires_at => p,
            Ok(_) => return Err(expired()),
            Err(e) => return Err(AuthorizeOutcome::ErrorPage(CoreError::from(e).to_oauth())),
        };
        if pending.browser_hash.as_deref() != Some(self.csrf.browser_hash(browser).as_str()) {
            return Err(AuthorizeOutcome::ErrorPage(OAuthError::new(
                ErrorCode::AccessDenied,
                "this sign-in request was started in another browser; return to the application and start again",
            )));
        }
        let params =
            Params::parse(pending.query.as_bytes()).map_err(AuthorizeOutcome::ErrorPage)?;
        let checked = self.check(&params, pending.pushed).await?;
        Ok((pending, params, checked))
    }

    /// Phase one and two of the request checks, their refusal as the
    /// browser gets it.
    async fn check(&self, params: &Params, pushed: bool) -> Result<Checked, AuthorizeOutcome> {
        self.examine(params, pushed)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Untrusted(e) => AuthorizeOutcome::ErrorPage(e),
                Refusal::Trusted {
                    redirect_uri,
                    mode,
                    state,
                    error,
                } => self.redirect_error(&redirect_uri, mode, &error, state.as_ref()),
            })
    }

    /// Phase one and two of the request checks: the rules of `/authorize`,
    /// which a pushed request meets when it is pushed.
    pub(crate) async fn examine(&self, params: &Params, pushed: bool) -> Result<Checked, Refusal> {
        let target = AuthorizationTarget::parse(params).map_err(Refusal::Untrusted)?;
        let client = match self.store.find_client(&target.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Err(Refusal::Untrusted(OAuthError::invalid_request(
                    "unknown client_id",
                )))
            }
            Err(e) => return Err(Refusal::Untrusted(CoreError::from(e).to_oauth())),
        };
        let Some(redirect_uri) = client
            .registered_redirect_uri(&target.redirect_uri)
            .cloned()
        else {
            return Err(Refusal::Untrusted(OAuthError::invalid_request(
                "redirect_uri is not registered for this client",
            )));
        };
        // From here on the redirect URI is trusted: errors go back to it.
        let state = echo_state(params);
        let fapi2 = self.settings.fapi2(&client);
        // FAPI 2.0 (§5.3.2.2): PKCE always, and with it `nonce` is the
        // client's choice.
        let rules = match fapi2 {
            true => ClientRules {
                pkce: Requirement::Required,
                nonce: Requirement::Optional,
            },
            false => client.authorization_rules(),
        };
        let mut request =
            AuthorizationRequest::parse(params, client.id.clone(), redirect_uri.clone(), rules)
                .map_err(|error| Refusal::Trusted {
                    redirect_uri: redirect_uri.clone(),
                    mode: echo_response_mode(params),
                    state: state.clone(),
                    error,
                })?;
        let fail = |error: OAuthError| {
            Err(Refusal::Trusted {
                redirect_uri: redirect_uri.clone(),
                mode: request.response_mode,
                state: Some(request.state.clone()),
                error,
            })
        };
        // RFC 9126 §6: such a client's requests come pushed, or not at all.
        if !pushed && (client.require_par || self.settings.par.required || fapi2) {
            return fail(OAuthError::invalid_request(
                "this client must push its authorization requests \
                 (pushed_authorization_request_endpoint)",
            ));
        }
        if !client.allows_grant(latchkey_domain::GrantType::AuthorizationCode) {
            return fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization code flow",
            ));
        }
        let extra = request.scope.difference(&client.scope);
        if !extra.is_empty() {
            return fail(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope not allowed for this client: {}", extra.join(" ")),
            ));
        }
        if let Some(r) = self.settings.resource_refused(&client, &request.resources) {
            return fail(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("resource not allowed for this client: {r}"),
            ));
        }
        // The `claims` parameter is OpenID Connect's: without `openid` there
        // is no ID token and no UserInfo for it to name claims in.
        if !request.scope.contains(Scope::OPENID) {
            request.claims = ClaimsRequest::default();
        }
        let claims = request.claims.requested().within(&client.scope);
        // OIDC Core §3.1.2.1: a hint that is not one of our ID tokens is an
        // error, not something to ignore. An expired one is fine: it names
        // the user the client had.
        let hint_sub = match request.id_token_hint.as_deref() {
            None => None,
            Some(hint) => match self.signing_keys.verify_id_token_hint(hint) {
                Ok(claims) => Some(claims.sub),
                Err(e) => {
                    tracing::info!(reason = %e, "id_token_hint refused");
                    return fail(OAuthError::invalid_request(
                        "id_token_hint is not an ID token issued by this server",
                    ));
                }
            },
        };
        Ok(Checked {
            client,
            request,
            hint_sub,
            claims,
            pushed,
        })
    }

    async fn proceed(
        &self,
        checked: &Checked,
        params: &Params,
        signed_in: Option<&SignedIn>,
        pending: Pending<'_>,
    ) -> Result<AuthorizeOutcome, CoreError> {
        let (pending, browser) = match pending {
            Pending::New { browser } => (None, Some(browser)),
            Pending::Stored(p) => (Some(p), None),
        };
        let req = &checked.request;
        let demand = checked.demand();
        if demand.unknown_essential {
            return Ok(self.refuse(checked, &unmeetable_acr()));
        }
        let now = self.clock.unix();
        // Signed in for this very request (after the login page)?
        let fresh = matches!((pending, signed_in), (Some(p), Some(s)) if p.session_id.as_ref() == Some(&s.session.id));
        // `max_age=0` is `prompt=login` (OIDC Core §3.1.2.1).
        let forced = req.prompt.forces_sign_in() || req.max_age == Some(0);
        // The user the request names, if it names one: by `id_token_hint`,
        // or by a `sub` value in the claims request (OIDC Core §5.5.1).
        let named = |s: &SignedIn| {
            checked
                .hint_sub
                .as_deref()
                .is_none_or(|sub| sub == s.user.id.as_str())
                && req
                    .claims
                    .id_token_sub()
                    .is_none_or(|sub| sub.accepts(s.user.id.as_str()))
        };
        if let Some(s) = signed_in.filter(|s| fresh && !named(s)) {
            // Someone else signed in on the sign-in page: no tokens for a
            // user the client did not ask for (OIDC Core §3.1.2.1, §5.5.1).
            if let Some(p) = pending {
                self.store.delete_pending(&p.id).await?;
            }
            tracing::info!(user = %s.user.id, "signed in as another user than the request names");
            return Ok(self.refuse(
                checked,
                &OAuthError::new(
                    ErrorCode::LoginRequired,
                    "the user who signed in is not the one the request names",
                ),
            ));
        }
        let usable = signed_in.filter(|s| {
            fresh
                || (!forced
                    && req
                        .max_age
                        .is_none_or(|max| now - s.session.auth_time <= max as i64)
                    && named(s))
        });
        let Some(signed_in) = usable else {
            if req.prompt.none {
                return Ok(self.refuse(
                    checked,
                    &OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in"),
                ));
            }
            let pending_id = match pending {
                Some(p) => p.id.clone(),
                None => {
                    let browser = browser.map(|b| b());
                    self.create_pending(checked, params, None, browser.as_deref())
                        .await?
                }
            };
            return Ok(AuthorizeOutcome::Login { pending_id });
        };

        // Enough proved for this request? A step-up raises this session.
        let standing = Enrolled::of(self.store, &signed_in.user.id)
            .await?
            .standing(self.settings, checked.requires_mfa());
        match next_step(signed_in.session.methods, &demand, standing) {
            Next::Proceed => {}
            Next::Refuse => return Ok(self.refuse(checked, &unmeetable_acr())),
            next @ (Next::Prove(_) | Next::Enrol) => {
                if req.prompt.none {
                    return Ok(self.refuse(
                        checked,
                        &OAuthError::new(
                            ErrorCode::LoginRequired,
                            "the request needs a stronger sign-in than the user's session",
                        ),
                    ));
                }
                let (pending_id, browser_hash) = match pending {
                    Some(p) => (p.id.clone(), p.browser_hash.clone().unwrap_or_default()),
                    None => {
                        let browser = browser.map(|b| b()).unwrap_or_default();
                        let id = self
                            .create_pending(
                                checked,
                                params,
                                Some(&signed_in.session.id),
                                Some(&browser),
                            )
                            .await?;
                        (id, self.csrf.browser_hash(&browser))
                    }
                };
                // Setting up a first factor is no proof of who is there: a
                // session alone (perhaps a stale or stolen one) must not
                // attach an app to the account. The password comes first,
                // and the sign-in then raises this session.
                if next == Next::Enrol {
                    return Ok(AuthorizeOutcome::Login { pending_id });
                }
                let challenge = open_challenge(
                    self.store,
                    self.random,
                    now,
                    ChallengeStart {
                        user: &signed_in.user.id,
                        browser_hash,
                        pending_id: Some(pending_id),
                        session_id: Some(signed_in.session.id.clone()),
                        methods: signed_in.session.methods,
                        password_hash: Some(signed_in.user.password_hash.clone()),
                    },
                )
                .await?;
                return Ok(AuthorizeOutcome::SecondFactor { challenge });
            }
        }

        let consent = self
            .store
            .find_consent(&signed_in.user.id, &checked.client.id)
            .await?;
        // A public client whose redirect URI any local program could
        // answer on (loopback, private-use scheme) cannot prove it is the
        // client the user approved: each request asks again (RFC 8252
        // §8.6), and `prompt=none` gets `consent_required`.
        let provable = !checked.client.is_public() || req.redirect_uri.reaches_only_its_client();
        let consented =
            provable && consent.is_some_and(|c| checked.consent_scope().is_subset(&c.scope));
        if !consented || req.prompt.consent {
            if req.prompt.none {
                return Ok(self.refuse(
                    checked,
                    &OAuthError::new(ErrorCode::ConsentRequired, "the user has not consented"),
                ));
            }
            let pending_id = match pending {
                Some(p) => p.id.clone(),
                None => {
                    let browser = browser.map(|b| b());
                    self.create_pending(
                        checked,
                        params,
                        Some(&signed_in.session.id),
                        browser.as_deref(),
                    )
                    .await?
                }
            };
            return Ok(AuthorizeOutcome::Consent { pending_id });
        }
        if let Some(p) = pending {
            if !self.store.delete_pending(&p.id).await? {
                return Ok(already_settled());
            }
        }
        self.issue_code(checked, signed_in).await
    }

    async fn create_pending(
        &self,
        checked: &Checked,
        params: &Params,
        session_id: Option<&SessionId>,
        browser: Option<&str>,
    ) -> Result<String, CoreError> {
        let now = self.clock.unix();
        let pending = PendingAuthorization {
            id: self.random.id(),
            client_id: checked.client.id.clone(),
            query: params.to_query(),
            session_id: session_id.cloned(),
            browser_hash: browser.map(|b| self.csrf.browser_hash(b)),
            pushed: checked.pushed,
            created_at: now,
            expires_at: now + self.settings.pending_ttl,
        };
        self.store.insert_pending(&pending).await?;
        Ok(pending.id)
    }

    async fn issue_code(
        &self,
        checked: &Checked,
        signed_in: &SignedIn,
    ) -> Result<AuthorizeOutcome, CoreError> {
        let req = &checked.request;
        let now = self.clock.unix();
        let code = self.random.secret();
        self.store
            .insert_code(&AuthorizationCode {
                code_hash: token_hash(&code),
                client_id: checked.client.id.clone(),
                user_id: signed_in.user.id.clone(),
                session_id: signed_in.session.id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                code_challenge: req.code_challenge.clone(),
                nonce: req.nonce.clone(),
                scope: req.scope.clone(),
                claims: checked.claims.clone(),
                auth_time: signed_in.session.auth_time,
                methods: signed_in.session.methods,
                acr: checked.demand().acr(signed_in.session.methods).to_owned(),
                dpop_jkt: req.dpop_jkt.clone(),
                resources: req.resources.clone(),
                created_at: now,
                expires_at: now + self.settings.tokens.code_ttl,
                state: CodeState::Issued,
            })
            .await?;
        self.store
            .record_session_client(&signed_in.session.id, &checked.client.id, now)
            .await?;
        Ok(self.answer(
            &req.redirect_uri,
            req.response_mode,
            vec![("code", code), ("state", req.state.as_str().to_owned())],
        ))
    }

    /// Ends a pending request with an error sent back to its client.
    pub(crate) async fn fail_pending(
        &self,
        pending_id: &str,
        checked: &Checked,
        e: &OAuthError,
    ) -> AuthorizeOutcome {
        if let Err(err) = self.store.delete_pending(pending_id).await {
            tracing::error!(error = %err, "could not remove a refused pending request");
        }
        self.refuse(checked, e)
    }

    /// An error for a fully checked request, sent back to its client.
    fn refuse(&self, checked: &Checked, e: &OAuthError) -> AuthorizeOutcome {
        let req = &checked.request;
        self.redirect_error(&req.redirect_uri, req.response_mode, e, Some(&req.state))
    }

    /// An error sent back to a trusted redirect URI, with `state` and `iss`
    /// (RFC 9207).
    fn redirect_error(
        &self,
        redirect_uri: &RedirectUri,
        mode: ResponseMode,
        e: &OAuthError,
        state: Option<&State>,
    ) -> AuthorizeOutcome {
        let mut fields = vec![("error", e.code.as_str().to_owned())];
        if let Some(d) = &e.description {
            fields.push(("error_description", d.to_string()));
        }
        if let Some(s) = state {
            fields.push(("state", s.as_str().to_owned()));
        }
        self.answer(redirect_uri, mode, fields)
    }

    /// The answer to a trusted redirect URI, `iss` added (RFC 9207), in the
    /// response mode the request asked for.
    fn answer(
        &self,
        redirect_uri: &RedirectUri,
        mode: ResponseMode,
        mut fields: Vec<(&'static str, String)>,
    ) -> AuthorizeOutcome {
        fields.push(("iss", self.settings.issuer.clone()));
        match mode {
            ResponseMode::Query => {
                let mut url = redirect_uri.url();
                url.query_pairs_mut()
                    .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())));
                AuthorizeOutcome::Redirect(url.into())
            }
            ResponseMode::FormPost => AuthorizeOutcome::FormPost(FormPost {
                action: redirect_uri.as_str().to_owned(),
                fields,
                form_target: redirect_uri.csp_source(),
            }),
        }
    }
}

/// An essential `acr` (OIDC Core §5.5.1.1) that no factor of the user's
/// can reach: the authentication fails.
fn unmeetable_acr() -> OAuthError {
    OAuthError::new(
        ErrorCode::AccessDenied,
        "the essential acr requested cannot be met by this user's sign-in methods",
    )
}

/// A pending request that another submission already answered.
fn already_settled() -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
        "this sign-in request was already completed; return to the application and start again",
    ))
}
