//! The device authorization grant (RFC 8628): a device with no browser
//! (a TV, a command-line tool) asks for a device code and a user code at
//! `POST /device_authorization`; the user enters the user code at
//! `/device` on another screen, signs in (every factor the sign-in pages
//! ask for), and approves or denies on a consent page naming the client;
//! meanwhile the device polls `/token` (the grant is in
//! [`crate::oauth2::token`], `device_code.rs`).
//!
//! The sign-in between entering the code and the consent is the login
//! pages' own: the device's request is a pending authorization whose query
//! is `device:` and the request's id (a query string written by
//! `Params::to_query` never starts so: `:` is percent-encoded), bound to
//! the browser that entered the code and, once someone signs in, to that
//! session. Wrong user codes are counted per browser, per address and
//! over all codes before any lookup ([`crate::throttle`]).

use latchkey_domain::{
    AuditEvent, Client, DeviceApproval, DeviceAuthorization, DeviceState, GrantType,
    PendingAuthorization, Random, StoreError,
};
use latchkey_protocol::authn::{next_step, Demand, Next};
use latchkey_protocol::client_auth::ClientAuthentication;
use latchkey_protocol::device::{
    DeviceAuthorizationRequest, DeviceAuthorizationResponse, UserCode, USER_CODE_ALPHABET,
    USER_CODE_LEN,
};
use latchkey_protocol::{ErrorCode, OAuthError};

use crate::audit::Event;
use crate::authorize::{AuthorizeOutcome, SignedIn};
use crate::error::CoreError;
use crate::secrets::{token_hash, SecretHasher};
use crate::support::factors::{open_challenge, ChallengeStart, Enrolled};
use crate::token::TokenError;

/// How long a device code and its user code live (RFC 8628 §3.2
/// `expires_in`).
pub const DEVICE_CODE_TTL: i64 = 600;
/// The interval a device starts polling at (RFC 8628 §3.2 `interval`).
pub const POLL_INTERVAL: i64 = 5;
/// What each `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: i64 = 5;
/// Where users enter the code.
pub const VERIFICATION_PATH: &str = "/device";
/// The consent page of a device's request.
pub const CONSENT_PATH: &str = "/device/consent";

/// The query of a pending authorization that stands for a device's request.
const DEVICE_QUERY: &str = "device:";

/// The stored form of a user code: keyed, so the table alone does not
/// give the codes back (there are few enough to try them all).
pub(crate) fn user_code_hash(secrets: &SecretHasher, code: &UserCode) -> String {
    secrets.hash(&format!("device user code:{}", code.normalized()))
}

/// A user code drawn uniformly from the alphabet (bytes past the last
/// whole multiple of 20 are drawn again, so no letter is likelier).
fn draw_user_code(random: &dyn Random) -> UserCode {
    let limit = (256 / USER_CODE_ALPHABET.len() * USER_CODE_ALPHABET.len()) as u8;
    let mut indices = [0u8; USER_CODE_LEN];
    let mut filled = 0;
    while filled < USER_CODE_LEN {
        let mut buf = [0u8; 16];
        random.fill(&mut buf);
        for b in buf {
            if b < limit && filled < USER_CODE_LEN {
                indices[filled] = b;
                filled += 1;
            }
        }
    }
    UserCode::from_indices(indices)
}

service! {
    /// `POST /device_authorization` (RFC 8628 §3.1, §3.2).
    pub struct DeviceAuthorizationEndpoint { store, clock, random, settings, secrets, clients }
}

impl DeviceAuthorizationEndpoint<'_> {
    /// Authenticates the client like `/token`, checks the grant and scope,
    /// and stores a new request (only the codes' hashes).
    pub async fn start(
        &self,
        auth: &ClientAuthentication,
        request: DeviceAuthorizationRequest,
    ) -> Result<DeviceAuthorizationResponse, TokenError> {
        let client = self.clients.authenticate(auth).await?;
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(TokenError::Unauthorized(GrantType::DeviceCode));
        }
        let scope = match request.scope {
            Some(s) => {
                let extra = s.difference(&client.scope);
                if !extra.is_empty() {
                    return Err(TokenError::Scope(format!(
                        "scope not allowed for this client: {}",
                        extra.join(" ")
                    )));
                }
                s
            }
            None => client.scope.clone(),
        };
        let now = self.clock.unix();
        // A user code may collide with a live one (unique index): draw again.
        for _ in 0..5 {
            let device_code = self.random.secret();
            let user_code = draw_user_code(self.random);
            let device = DeviceAuthorization {
                id: self.random.id(),
                device_code_hash: token_hash(&device_code),
                user_code_hash: user_code_hash(self.secrets, &user_code),
                client_id: client.id.clone(),
                scope: scope.clone(),
                interval: POLL_INTERVAL,
                last_polled_at: None,
                created_at: now,
                expires_at: now + DEVICE_CODE_TTL,
                state: DeviceState::Pending,
            };
            match self.store.insert_device_authorization(&device).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let verification_uri = self.settings.endpoint(VERIFICATION_PATH);
            let mut complete = url::Url::parse(&verification_uri)
                .map_err(|e| CoreError::Internal(format!("verification URI: {e}")))?;
            complete
                .query_pairs_mut()
                .append_pair("user_code", &user_code.display());
            return Ok(DeviceAuthorizationResponse {
                device_code,
                user_code: user_code.display(),
                verification_uri,
                verification_uri_complete: complete.into(),
                expires_in: DEVICE_CODE_TTL as u64,
                interval: POLL_INTERVAL as u64,
            });
        }
        Err(CoreError::Internal("no free user code after five draws".into()).into())
    }
}

/// A device's request that a sign-in at the login pages is for.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSignIn {
    client: Client,
    device: DeviceAuthorization,
}

impl DeviceSignIn {
    /// A device's request names no `acr`: the sign-in needs what the
    /// user's factors and the client's policy ask for.
    pub(crate) fn demand(&self) -> Demand {
        Demand::default()
    }

    pub(crate) fn requires_mfa(&self) -> bool {
        self.client.require_mfa
    }

    pub(crate) fn client_name(&self) -> &str {
        &self.client.name
    }
}

/// What entering a user code leads to.
#[derive(Debug)]
pub enum CodeEntry {
    /// Sign in, prove more, or answer on the consent page.
    Next(AuthorizeOutcome),
    /// Not the code of a request waiting for an answer (malformed,
    /// unknown, expired or already answered).
    Unknown,
    /// Too many wrong codes: try again after this many seconds. No code
    /// was looked up.
    Throttled { wait_secs: i64 },
}

/// What the device consent page shows.
#[derive(Debug, Clone)]
pub struct DeviceConsentView {
    pub pending_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub username: String,
}

/// The user's answer, as recorded.
#[derive(Debug)]
pub enum DeviceAnswer {
    Approved {
        client_name: String,
    },
    Denied {
        client_name: String,
    },
    /// Not recorded: the browser goes on here (a stronger sign-in first,
    /// or an error page).
    Next(AuthorizeOutcome),
}

service! {
    /// `/device` and `/device/consent`: the user enters a device's code,
    /// signs in, and approves or denies.
    pub struct DeviceVerification { store, clock, random, settings, secrets, csrf, throttle, audit }
}

impl DeviceVerification<'_> {
    /// `POST /device`: the code the user typed, counted before it is
    /// looked up.
    pub async fn enter(
        &self,
        typed: &str,
        signed_in: Option<&SignedIn>,
        browser: &str,
        ip: &str,
    ) -> Result<CodeEntry, CoreError> {
        let browser_hash = self.csrf.browser_hash(browser);
        if let Err(wait_secs) = self
            .throttle
            .user_code_turn(self.clock, &browser_hash, ip)
            .await
        {
            return Ok(CodeEntry::Throttled { wait_secs });
        }
        let Some(code) = UserCode::parse(typed) else {
            return Ok(CodeEntry::Unknown);
        };
        let now = self.clock.unix();
        let device = match self
            .store
            .find_device_by_user_code(&user_code_hash(self.secrets, &code))
            .await?
        {
            Some(d) if d.state == DeviceState::Pending && !d.is_expired(now) => d,
            _ => return Ok(CodeEntry::Unknown),
        };
        self.throttle.user_code_found(&browser_hash, ip).await;
        let client = match self.store.find_client(&device.client_id).await? {
            Some(c) if c.allows_grant(GrantType::DeviceCode) => c,
            _ => return Ok(CodeEntry::Unknown),
        };
        let pending = PendingAuthorization {
            id: self.random.id(),
            client_id: client.id.clone(),
            query: format!("{DEVICE_QUERY}{}", device.id),
            session_id: signed_in.map(|s| s.session.id.clone()),
            browser_hash: Some(browser_hash),
            pushed: false,
            created_at: now,
            expires_at: (now + self.settings.pending_ttl).min(device.expires_at),
        };
        self.store.insert_pending(&pending).await?;
        let next = match signed_in {
            None => AuthorizeOutcome::Login {
                pending_id: pending.id,
            },
            Some(s) => {
                self.next(&pending, &DeviceSignIn { client, device }, s)
                    .await?
            }
        };
        Ok(CodeEntry::Next(next))
    }

    /// Where a signed-in user goes for this request: the consent page if
    /// the session proved enough, else the second factor (or the sign-in
    /// page, when a factor must be set up first), as for `/authorize`.
    async fn next(
        &self,
        pending: &PendingAuthorization,
        sign_in: &DeviceSignIn,
        signed_in: &SignedIn,
    ) -> Result<AuthorizeOutcome, CoreError> {
        let standing = Enrolled::of(self.store, &signed_in.user.id)
            .await?
            .standing(self.settings, sign_in.requires_mfa());
        Ok(
            match next_step(signed_in.session.methods, &sign_in.demand(), standing) {
                Next::Proceed => {
                    AuthorizeOutcome::Redirect(format!("{CONSENT_PATH}?req={}", pending.id))
                }
                Next::Enrol => AuthorizeOutcome::Login {
                    pending_id: pending.id.clone(),
                },
                Next::Prove(_) => AuthorizeOutcome::SecondFactor {
                    challenge: open_challenge(
                        self.store,
                        self.random,
                        self.clock.unix(),
                        ChallengeStart {
                            user: &signed_in.user.id,
                            browser_hash: pending.browser_hash.clone().unwrap_or_default(),
                            pending_id: Some(pending.id.clone()),
                            session_id: Some(signed_in.session.id.clone()),
                            methods: signed_in.session.methods,
                            password_hash: Some(signed_in.user.password_hash.clone()),
                        },
                    )
                    .await?,
                },
                // Only a requested acr can be out of reach.
                Next::Refuse => AuthorizeOutcome::ErrorPage(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "your sign-in methods cannot approve this device",
                )),
            },
        )
    }

    /// The device request a pending authorization stands for, if it is
    /// one (`Ok(None)`: it is an `/authorize` request, or none at all).
    /// Only the browser that entered the code may go on with it, and only
    /// while the device's request waits for an answer.
    pub(crate) async fn load_pending(
        &self,
        pending_id: &str,
        browser: &str,
    ) -> Result<Option<(PendingAuthorization, DeviceSignIn)>, AuthorizeOutcome> {
        let page = |e: CoreError| AuthorizeOutcome::ErrorPage(e.to_oauth());
        if pending_id.len() > 64 {
            return Ok(None);
        }
        let pending = match self.store.find_pending(pending_id).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(page(e.into())),
        };
        let Some(device_id) = pending.query.strip_prefix(DEVICE_QUERY) else {
            return Ok(None);
        };
        let now = self.clock.unix();
        if now >= pending.expires_at {
            return Err(start_again());
        }
        if pending.browser_hash.as_deref() != Some(self.csrf.browser_hash(browser).as_str()) {
            return Err(AuthorizeOutcome::ErrorPage(OAuthError::new(
                ErrorCode::AccessDenied,
                "this code was entered in another browser; enter it again here",
            )));
        }
        let device = match self.store.find_device(device_id).await {
            Ok(Some(d)) if d.state == DeviceState::Pending && !d.is_expired(now) => d,
            Ok(_) => return Err(start_again()),
            Err(e) => return Err(page(e.into())),
        };
        let client = match self.store.find_client(&device.client_id).await {
            Ok(Some(c)) if c.allows_grant(GrantType::DeviceCode) => c,
            Ok(_) => return Err(start_again()),
            Err(e) => return Err(page(e.into())),
        };
        Ok(Some((pending, DeviceSignIn { client, device })))
    }

    /// Resumes a device's request after a sign-in for it (`None`: the
    /// pending request is not a device's).
    pub(crate) async fn resume(
        &self,
        pending_id: &str,
        signed_in: &SignedIn,
        browser: &str,
    ) -> Option<AuthorizeOutcome> {
        let (pending, sign_in) = match self.load_pending(pending_id, browser).await {
            Ok(Some(x)) => x,
            Ok(None) => return None,
            Err(refused) => return Some(refused),
        };
        Some(
            self.next(&pending, &sign_in, signed_in)
                .await
                .unwrap_or_else(|e| AuthorizeOutcome::ErrorPage(e.to_oauth())),
        )
    }

    /// The request this consent page is for, answered by the session that
    /// signed in for it.
    async fn for_consent<'s>(
        &self,
        pending_id: &str,
        signed_in: Option<&'s SignedIn>,
        browser: &str,
    ) -> Result<(PendingAuthorization, DeviceSignIn, &'s SignedIn), AuthorizeOutcome> {
        let (pending, sign_in) = self
            .load_pending(pending_id, browser)
            .await?
            .ok_or_else(start_again)?;
        match signed_in {
            Some(s) if pending.session_id.as_ref() == Some(&s.session.id) => {
                Ok((pending, sign_in, s))
            }
            _ => Err(AuthorizeOutcome::ErrorPage(OAuthError::new(
                ErrorCode::AccessDenied,
                "this request belongs to another sign-in; enter the code again",
            ))),
        }
    }

    /// `GET /device/consent`.
    pub async fn consent_view(
        &self,
        pending_id: &str,
        signed_in: Option<&SignedIn>,
        browser: &str,
    ) -> Result<DeviceConsentView, AuthorizeOutcome> {
        let (pending, sign_in, signed_in) =
            self.for_consent(pending_id, signed_in, browser).await?;
        Ok(DeviceConsentView {
            pending_id: pending.id,
            client_name: sign_in.client.name,
            scopes: sign_in.device.scope.iter().map(str::to_owned).collect(),
            username: signed_in.user.username.clone(),
        })
    }

    /// `POST /device/consent`: the user's answer, recorded once.
    pub async fn decide(
        &self,
        pending_id: &str,
        signed_in: Option<&SignedIn>,
        approve: bool,
        browser: &str,
        ip: &str,
    ) -> Result<DeviceAnswer, CoreError> {
        let (pending, sign_in, signed_in) =
            match self.for_consent(pending_id, signed_in, browser).await {
                Ok(x) => x,
                Err(outcome) => return Ok(DeviceAnswer::Next(outcome)),
            };
        if approve {
            // The client's policy or the user's factors may have changed
            // while the page was open.
            let next = self.next(&pending, &sign_in, signed_in).await?;
            if !matches!(next, AuthorizeOutcome::Redirect(_)) {
                return Ok(DeviceAnswer::Next(next));
            }
        }
        // One answer per page, and one per device request: the pending
        // request goes first, then the request's own conditional update.
        if !self.store.delete_pending(&pending.id).await? {
            return Ok(DeviceAnswer::Next(already_answered()));
        }
        let now = self.clock.unix();
        let session = &signed_in.session;
        let approval = approve.then(|| DeviceApproval {
            user_id: signed_in.user.id.clone(),
            session_id: session.id.clone(),
            auth_time: session.auth_time,
            methods: session.methods,
            acr: sign_in.demand().acr(session.methods).to_owned(),
            at: now,
        });
        if !self
            .store
            .decide_device(&sign_in.device.id, approval.as_ref(), now)
            .await?
        {
            return Ok(DeviceAnswer::Next(already_answered()));
        }
        let (kind, verb) = if approve {
            (AuditEvent::DeviceApproved, "approved")
        } else {
            (AuditEvent::DeviceDenied, "denied")
        };
        self.audit
            .record(Event {
                kind,
                user_id: Some(&signed_in.user.id),
                client_id: Some(sign_in.client.id.as_str()),
                ip: Some(ip),
                detail: format!(
                    "device request {} {verb} (scope: {})",
                    sign_in.device.id, sign_in.device.scope
                ),
            })
            .await;
        let client_name = sign_in.client.name;
        Ok(if approve {
            DeviceAnswer::Approved { client_name }
        } else {
            DeviceAnswer::Denied { client_name }
        })
    }
}

fn start_again() -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
        "this code has expired or was already answered; start again on the device",
    ))
}

fn already_answered() -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage(OAuthError::invalid_request(
        "this device's request was already answered",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes in a fixed cycle.
    struct Cycle(std::sync::atomic::AtomicU8);

    impl Random for Cycle {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(37, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn user_codes_use_the_alphabet_only_and_skip_biased_bytes() {
        let r = Cycle(std::sync::atomic::AtomicU8::new(0));
        for _ in 0..100 {
            let code = draw_user_code(&r);
            assert_eq!(code.normalized().len(), USER_CODE_LEN);
            assert!(code
                .normalized()
                .bytes()
                .all(|b| USER_CODE_ALPHABET.contains(&b)));
        }
        // Only bytes >= 240 are there: they are all skipped, never
        // folded onto the first letters.
        struct High(std::sync::atomic::AtomicU8);
        impl Random for High {
            fn fill(&self, buf: &mut [u8]) {
                for b in buf {
                    let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    *b = if n < 40 { 250 } else { 21 };
                }
            }
        }
        let code = draw_user_code(&High(std::sync::atomic::AtomicU8::new(0)));
        assert_eq!(code.normalized(), "CCCCCCCC");
    }

    #[test]
    fn user_code_hashes_are_keyed() {
        let code = UserCode::parse("BCDF-GHJK").unwrap();
        let a = user_code_hash(&SecretHasher::new([1; 32]), &code);
        assert_ne!(a, user_code_hash(&SecretHasher::new([2; 32]), &code));
        assert_eq!(
            a,
            user_code_hash(
                &SecretHasher::new([1; 32]),
                &UserCode::parse("bcdfghjk").unwrap()
            )
        );
    }
}
