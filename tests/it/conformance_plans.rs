//! The OpenID Foundation's certification plans, module by module, for the
//! configuration Latchkey is certified with: a static confidential client
//! (`client_secret_basic`, with the per-client opt-outs `pkce=optional`
//! and `nonce=optional`, since the suite's requests carry no PKCE), a
//! second client for the multiple-client module, server metadata from
//! discovery, and the default response mode.
//!
//! Every module of oidcc-basic, oidcc-config, oidcc-rp-initiated-logout and
//! oidcc-backchannel-rp-initiated-logout has an entry in [`modules`]: its
//! name, its plan, the outcome expected from the suite, what Latchkey does,
//! and a check that sends what the module sends, over HTTP, and checks
//! what the module checks (failures and warnings alike). The runner runs
//! them all and renders the table kept in docs/conformance.md between
//! `<!-- plans:begin -->` and `<!-- plans:end -->`; a check that fails
//! renders as failing, so the comparison fails. `LATCHKEY_BLESS=1`
//! rewrites the section instead.
//!
//! Each check runs against its own server (one per module, as the suite
//! starts each module afresh), so a module that moves the injected clock
//! (`max_age=1`, code reuse after 30 seconds, a refresh a second later)
//! moves only its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_core::admin::{NewClient, UserChanges};
use latchkey_domain::{Clock, GrantType, Random, Requirement};
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use serde_json::{json, Value};

use crate::flows::decode_segment;
use crate::support::*;

// ---------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Basic,
    Config,
    RpLogout,
    BackchannelLogout,
}

impl Plan {
    fn name(self) -> &'static str {
        match self {
            Plan::Basic => "oidcc-basic",
            Plan::Config => "oidcc-config",
            Plan::RpLogout => "oidcc-rp-initiated-logout",
            Plan::BackchannelLogout => "oidcc-backchannel-rp-initiated-logout",
        }
    }
}

/// The suite's outcome for a module against Latchkey.
enum Status {
    /// The module passes: no failure, no warning.
    Passes,
    /// The module ends with a warning because Latchkey does otherwise by
    /// design; the check asserts what Latchkey does instead.
    Deviation(&'static str),
    /// The suite does not run the module for this configuration, or skips
    /// it because Latchkey answers that the feature is unsupported.
    NotApplicable(&'static str),
}

impl Status {
    fn render(&self) -> String {
        match self {
            Status::Passes => "passes".into(),
            Status::Deviation(why) => format!("deviation: {why}"),
            Status::NotApplicable(why) => format!("n/a: {why}"),
        }
    }
}

type Check = fn() -> Pin<Box<dyn Future<Output = ()> + Send>>;

struct Module {
    name: &'static str,
    plans: &'static [Plan],
    status: Status,
    /// What Latchkey does for the module's requests.
    does: &'static str,
    /// The check's function name in this file.
    test: &'static str,
    check: Check,
}

macro_rules! module {
    ($name:literal, [$($plan:ident),+], $status:expr, $does:literal, $check:ident) => {
        Module {
            name: $name,
            plans: &[$(Plan::$plan),+],
            status: $status,
            does: $does,
            test: stringify!($check),
            check: || -> Pin<Box<dyn Future<Output = ()> + Send>> { Box::pin($check()) },
        }
    };
}

use Status::{Deviation, NotApplicable, Passes};

/// Every module of the four plans, in the plans' order.
fn modules() -> Vec<Module> {
    vec![
        // oidcc-basic, run with response_type=code, client_secret_basic,
        // the default response mode.
        module!("oidcc-server", [Basic], Passes,
            "code flow: sign-in, consent, code with `state` and `iss`; the token endpoint takes `client_secret_basic`; the ID token verifies against the JWKS (`kid`), with `iss`, `aud`, `exp`, `iat`, `nonce`, `sub`; userinfo answers",
            server),
        module!("oidcc-response-type-missing", [Basic], Passes,
            "no `response_type`: `invalid_request` sent back to the registered redirect URI, with `state` and `iss`",
            response_type_missing),
        module!("oidcc-idtoken-signature", [Basic],
            NotApplicable("the suite runs it with dynamic registration only"),
            "ID tokens are RS256 by default and carry the signing key's `kid`",
            idtoken_signature),
        module!("oidcc-idtoken-unsigned", [Basic],
            NotApplicable("the suite runs it with dynamic registration only, and skips it when `none` is not among `id_token_signing_alg_values_supported`"),
            "ID tokens are always signed; discovery does not list `none`",
            idtoken_unsigned),
        module!("oidcc-userinfo-get", [Basic], Passes,
            "`GET /userinfo` with the bearer token in the header: the claims, with `sub`",
            userinfo_get),
        module!("oidcc-userinfo-post-header", [Basic], Passes,
            "`POST /userinfo` with the bearer token in the header: the claims, with `sub`",
            userinfo_post_header),
        module!("oidcc-userinfo-post-body", [Basic],
            Deviation("the suite warns that the token in a POST body is refused, which it allows; Latchkey takes tokens from the `Authorization` header only"),
            "`400 invalid_request` with a `WWW-Authenticate: Bearer` challenge",
            userinfo_post_body),
        module!("oidcc-ensure-request-without-nonce-succeeds-for-code-flow", [Basic], Passes,
            "a code without `nonce`, for a client with `nonce=optional`",
            request_without_nonce),
        module!("oidcc-scope-profile", [Basic], Passes,
            "`scope=openid profile`: every profile claim (`profile`, the profile page URL, too), `preferred_username` and `updated_at`",
            scope_profile),
        module!("oidcc-scope-email", [Basic], Passes,
            "`scope=openid email`: `email`, `email_verified`",
            scope_email),
        module!("oidcc-scope-address", [Basic], Passes,
            "`scope=openid address`: `address`",
            scope_address),
        module!("oidcc-scope-phone", [Basic], Passes,
            "`scope=openid phone`: `phone_number`, `phone_number_verified`",
            scope_phone),
        module!("oidcc-scope-all", [Basic], Passes,
            "`scope=openid email phone address profile`: the claims of every scope",
            scope_all),
        module!("oidcc-ensure-other-scope-order-succeeds", [Basic], Passes,
            "`scope=email openid`: scope order does not matter",
            other_scope_order),
        module!("oidcc-display-page", [Basic], Passes,
            "`display=page` accepted and ignored",
            display_page),
        module!("oidcc-display-popup", [Basic], Passes,
            "`display=popup` accepted and ignored",
            display_popup),
        module!("oidcc-prompt-login", [Basic], Passes,
            "`prompt=login`: the sign-in page although signed in; the new ID token's `auth_time` is later",
            prompt_login),
        module!("oidcc-prompt-none-not-logged-in", [Basic], Passes,
            "`prompt=none` without a session: `login_required`, with the 128-character `state` intact",
            prompt_none_not_logged_in),
        module!("oidcc-prompt-none-logged-in", [Basic], Passes,
            "`prompt=none` with a session: a code at once; same `sub` and `auth_time`",
            prompt_none_logged_in),
        module!("oidcc-max-age-1", [Basic], Passes,
            "`max_age=1` two seconds after signing in: the sign-in page; `auth_time` present, later, recent",
            max_age_1),
        module!("oidcc-max-age-10000", [Basic], Passes,
            "`max_age=15000` then `max_age=10000`: no second sign-in; `auth_time` present and the same",
            max_age_10000),
        module!("oidcc-ensure-request-with-unknown-parameter-succeeds", [Basic], Passes,
            "unknown parameters accepted and ignored",
            unknown_parameter),
        module!("oidcc-id-token-hint", [Basic], Passes,
            "`prompt=none` with the first ID token as `id_token_hint`: a code at once; same `sub` and `auth_time`",
            id_token_hint),
        module!("oidcc-login-hint", [Basic], Passes,
            "`login_hint` pre-fills the username on the sign-in page",
            login_hint),
        module!("oidcc-ui-locales", [Basic], Passes,
            "`ui_locales` accepted and ignored",
            ui_locales),
        module!("oidcc-claims-locales", [Basic], Passes,
            "`claims_locales` accepted and ignored",
            claims_locales),
        module!("oidcc-ensure-request-with-acr-values-succeeds", [Basic], Passes,
            "`acr_values` with the advertised value: the ID token's `acr` is it",
            acr_values),
        module!("oidcc-codereuse", [Basic], Passes,
            "a code redeemed twice: `400 invalid_grant`",
            codereuse),
        module!("oidcc-codereuse-30seconds", [Basic], Passes,
            "a code redeemed again 30 s later: `400 invalid_grant`, and the first redemption's access token is revoked",
            codereuse_30_seconds),
        module!("oidcc-ensure-registered-redirect-uri", [Basic], Passes,
            "an unregistered `redirect_uri`: an error page, no redirect",
            registered_redirect_uri),
        module!("oidcc-ensure-post-request-succeeds", [Basic], Passes,
            "`POST /authorize`: through sign-in and consent to the code",
            post_request),
        module!("oidcc-server-client-secret-post", [Basic], Passes,
            "the code flow for a client registered with `client_secret_post`",
            server_client_secret_post),
        module!("oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported", [Basic],
            NotApplicable("the suite runs it with dynamic registration only"),
            "`request_uri` refused: `request_uri_not_supported` sent to the client",
            request_uri_unsigned),
        module!("oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported", [Basic],
            NotApplicable("the suite skips it: `request_not_supported` is an answer it accepts"),
            "a request object refused: `request_not_supported` sent to the client; discovery says `request_parameter_supported: false`",
            unsigned_request_object),
        module!("oidcc-claims-essential", [Basic], Passes,
            "`claims` asking for `name` at userinfo as essential: userinfo has `name`, the ID token does not",
            claims_essential),
        module!("oidcc-ensure-request-object-with-redirect-uri", [Basic], Passes,
            "a request object beside an unregistered query `redirect_uri`: the error page for the redirect URI, no redirect",
            request_object_with_redirect_uri),
        module!("oidcc-refresh-token", [Basic], Passes,
            "`offline_access` with `prompt=consent`: a refresh token; refreshing (with `scope`) gives new tokens, an ID token with the same `iss`, `sub`, `aud`, `auth_time` and a later `iat`; another client's refresh token is `invalid_grant`",
            refresh_token),
        module!("oidcc-ensure-request-with-valid-pkce-succeeds", [Basic], Passes,
            "S256 PKCE: the code redeems with its verifier",
            valid_pkce),
        // oidcc-config
        module!("oidcc-discovery-endpoint-verification", [Config], Passes,
            "discovery: `issuer` matches the discovery URL; `code` response type; `public` subjects; RS256; HTTPS endpoints; a JWKS of public keys with distinct `kid`s; `openid` in `scopes_supported`; `claims_supported`",
            discovery_endpoint_verification),
        // oidcc-rp-initiated-logout
        module!("oidcc-rp-initiated-logout-discovery-endpoint-verification", [RpLogout], Passes,
            "`end_session_endpoint` is advertised, over HTTPS",
            rp_logout_discovery),
        module!("oidcc-rp-initiated-logout", [RpLogout], Passes,
            "a valid `id_token_hint` of this session: the session ends at once, the browser goes to the registered `post_logout_redirect_uri` with `state` only; then `prompt=none` is `login_required`",
            rp_logout),
        module!("oidcc-rp-initiated-logout-bad-post-logout-redirect-uri", [RpLogout], Passes,
            "an unregistered `post_logout_redirect_uri`: an error page, no redirect",
            rp_logout_bad_redirect_uri),
        module!("oidcc-rp-initiated-logout-modified-id-token-hint", [RpLogout], Passes,
            "an `id_token_hint` changed to `alg: none`: an error page, no redirect",
            rp_logout_modified_hint),
        module!("oidcc-rp-initiated-logout-no-id-token-hint", [RpLogout], Passes,
            "a `post_logout_redirect_uri` without a hint (no client to check it against): an error page, no redirect",
            rp_logout_no_hint),
        module!("oidcc-rp-initiated-logout-no-params", [RpLogout], Passes,
            "no parameters: the confirmation page; confirmed, the signed-out page",
            rp_logout_no_params),
        module!("oidcc-rp-initiated-logout-no-post-logout-redirect-uri", [RpLogout], Passes,
            "a valid hint without `post_logout_redirect_uri`: signed out, the signed-out page",
            rp_logout_no_redirect_uri),
        module!("oidcc-rp-initiated-logout-no-state", [RpLogout], Passes,
            "without `state`: the redirect carries none; then `prompt=none` is `login_required`",
            rp_logout_no_state),
        module!("oidcc-rp-initiated-logout-only-state", [RpLogout], Passes,
            "only `state`: the confirmation page; confirmed, the signed-out page",
            rp_logout_only_state),
        module!("oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri", [RpLogout], Passes,
            "a registered `post_logout_redirect_uri` plus `?foo=bar`: an error page (exact match), no redirect",
            rp_logout_query_added),
        module!("oidcc-rp-initiated-logout-bad-id-token-hint", [RpLogout], Passes,
            "an `id_token_hint` signed by the client (HS256 with its secret): an error page, no redirect",
            rp_logout_bad_hint),
        // oidcc-backchannel-rp-initiated-logout
        module!("oidcc-backchannel-logout-discovery-endpoint-verification", [BackchannelLogout], Passes,
            "`backchannel_logout_supported` and `backchannel_logout_session_supported` are true; `end_session_endpoint` over HTTPS",
            backchannel_discovery),
        module!("oidcc-backchannel-rp-initiated-logout", [BackchannelLogout], Passes,
            "a logout token POSTed to the client's `backchannel_logout_uri`: verifies against the JWKS; `iss`, `aud`, `iat`, `jti`, the back-channel event, the ID token's `sub` and `sid`, no `nonce`; the browser goes to the `post_logout_redirect_uri` with `state`; then `prompt=none` is `login_required`",
            backchannel_rp_logout),
    ]
}

// ---------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------

const BEGIN: &str = "<!-- plans:begin -->";
const END: &str = "<!-- plans:end -->";
const PARALLEL: usize = 4;
const MODULE_TIMEOUT: Duration = Duration::from_secs(120);

fn render(modules: &[Module], passed: &[bool]) -> String {
    let mut out = String::from(
        "| module | plan | status | what Latchkey does / test |\n| --- | --- | --- | --- |\n",
    );
    for (m, ok) in modules.iter().zip(passed) {
        let plans: Vec<&str> = m.plans.iter().map(|p| p.name()).collect();
        let status = if *ok {
            m.status.render()
        } else {
            "**fails**".to_owned()
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} (`{}`) |\n",
            m.name,
            plans.join(", "),
            status,
            m.does,
            m.test
        ));
    }
    out
}

fn counts(modules: &[Module]) -> String {
    let mut out = String::new();
    for plan in [
        Plan::Basic,
        Plan::Config,
        Plan::RpLogout,
        Plan::BackchannelLogout,
    ] {
        let of: Vec<&Module> = modules.iter().filter(|m| m.plans.contains(&plan)).collect();
        let count = |f: fn(&Status) -> bool| of.iter().filter(|m| f(&m.status)).count();
        out.push_str(&format!(
            "- {}: {} module{}; {} pass, {} deviations, {} n/a\n",
            plan.name(),
            of.len(),
            if of.len() == 1 { "" } else { "s" },
            count(|s| matches!(s, Passes)),
            count(|s| matches!(s, Deviation(_))),
            count(|s| matches!(s, NotApplicable(_))),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_plans_table_matches_every_module() {
    let modules = modules();
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let runs: Vec<_> = modules
        .iter()
        .map(|m| {
            let (check, gate, name) = (m.check, gate.clone(), m.name);
            tokio::spawn(async move {
                let _slot = gate.acquire_owned().await.unwrap();
                // Each module on a runtime of its own: when the module ends,
                // so do its servers, their background tasks and their
                // database pools (on Postgres, 52 live pools would exhaust
                // the server's connections).
                let run = tokio::task::spawn_blocking(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("a runtime for the module");
                    rt.block_on(async {
                        tokio::time::timeout(MODULE_TIMEOUT, check())
                            .await
                            .unwrap_or_else(|_| panic!("{name}: timed out"));
                    });
                });
                if let Err(e) = run.await {
                    std::panic::resume_unwind(e.into_panic());
                }
            })
        })
        .collect();
    let mut passed = Vec::new();
    for run in runs {
        passed.push(run.await.is_ok());
    }
    let failed: Vec<&str> = modules
        .iter()
        .zip(&passed)
        .filter(|(_, ok)| !**ok)
        .map(|(m, _)| m.name)
        .collect();

    let section = format!("{}\n{}", counts(&modules), render(&modules, &passed));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/conformance.md");
    let doc = std::fs::read_to_string(path).expect("docs/conformance.md");
    let (before, rest) = doc.split_once(BEGIN).expect("the plans:begin marker");
    let (current, after) = rest.split_once(END).expect("the plans:end marker");
    if std::env::var("LATCHKEY_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(path, format!("{before}{BEGIN}\n{section}{END}{after}")).unwrap();
    } else {
        assert_eq!(
            current.trim(),
            section.trim(),
            "docs/conformance.md's plans table differs from the modules' outcomes \
             (failing: {failed:?}); rerun with LATCHKEY_BLESS=1 to rewrite it"
        );
    }
    assert!(failed.is_empty(), "modules failing: {failed:?}");
}

// ---------------------------------------------------------------------
// The OP under test, and what every module does first
// ---------------------------------------------------------------------

const USERNAME: &str = "buffy";
const POST_LOGOUT: &str = "http://127.0.0.1:9/post_logout_redirect";

/// A Latchkey configured as for certification, after the steps every
/// module takes before its first request: discovery, the server's checks,
/// the JWKS and its checks.
struct Op {
    app: TestApp,
    sub: String,
    /// The static client: `client_secret_basic`, PKCE and nonce optional.
    client: TestClient,
    /// The second client (oidcc-refresh-token).
    client2: TestClient,
    meta: Value,
    jwks: CoreJsonWebKeySet,
}

fn conformance_client(name: &str, backchannel: Option<String>) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Some("openid profile email address phone offline_access".into()),
        post_logout_redirect_uris: vec![POST_LOGOUT.into()],
        backchannel_logout_uri: backchannel,
        pkce: Requirement::Optional,
        nonce: Requirement::Optional,
        ..NewClient::default()
    }
}

impl Op {
    async fn start() -> Op {
        Op::with_backchannel(None).await
    }

    async fn with_backchannel(backchannel: Option<String>) -> Op {
        let app = TestApp::spawn().await;
        let user = app
            .core
            .admin(Actor::CommandLine)
            .users()
            .create(
                USERNAME,
                PASSWORD.into(),
                UserChanges {
                    claims: crate::claims::full_claims().as_object().cloned().unwrap(),
                    groups: None,
                },
            )
            .await
            .expect("user created");
        let client = app
            .add_client(conformance_client("Conformance suite", backchannel))
            .await;
        let client2 = app
            .add_client(conformance_client("Conformance suite (second)", None))
            .await;
        let meta = discovery(&app).await;
        // GetDynamicServerConfiguration, CheckServerConfiguration.
        assert_eq!(meta["issuer"], app.issuer.as_str());
        for key in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
            assert!(meta[key].is_string(), "{key}");
        }
        // EnsureServerConfigurationSupportsClientSecretBasic.
        assert!(advertises(
            &meta,
            "token_endpoint_auth_methods_supported",
            "client_secret_basic"
        ));
        let jwks = fetch_jwks(&app, &meta).await;
        Op {
            sub: user.id.as_str().to_owned(),
            app,
            client,
            client2,
            meta,
            jwks,
        }
    }

    fn endpoint(&self, key: &str) -> String {
        local(
            &self.app,
            self.meta[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key}")),
        )
    }

    fn now(&self) -> i64 {
        self.app.clock.now().timestamp()
    }
}

/// The request for a URL the discovery document names: the same path at
/// this instance (the issuer may be a name the test cannot reach).
fn local(app: &TestApp, url: &str) -> String {
    match url.strip_prefix(app.issuer.as_str()) {
        Some(path) => app.url(path),
        None => url.to_owned(),
    }
}

async fn discovery(app: &TestApp) -> Value {
    let resp = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    // EnsureDiscoveryEndpointResponseStatusCodeIs200,
    // CheckDiscoveryEndpointReturnedJsonContentType.
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    resp.json().await.unwrap()
}

fn advertises(meta: &Value, key: &str, value: &str) -> bool {
    meta[key]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == value))
}

/// FetchServerKeys, ValidateServerJWKs, CheckForKeyIdInServerJWKs,
/// CheckDistinctKeyIdValueInServerJWKs,
/// EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys.
async fn fetch_jwks(app: &TestApp, meta: &Value) -> CoreJsonWebKeySet {
    let raw: Value = api()
        .get(local(app, meta["jwks_uri"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = raw["keys"].as_array().expect("a JWKS");
    assert!(!keys.is_empty());
    let mut kids = std::collections::BTreeSet::new();
    for key in keys {
        let kid = key["kid"].as_str().expect("every key has a kid");
        assert!(kids.insert(kid.to_owned()), "distinct kids");
        assert_ne!(key["kty"], "oct", "no symmetric keys");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private part {private}");
        }
    }
    serde_json::from_value(raw).expect("a JWKS the RP library reads")
}

fn random(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        out.push_str(&latchkey_domain::OsRandom.secret().replace(['-', '_'], ""));
    }
    out.truncate(len);
    out
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------
// Authorization requests and responses
// ---------------------------------------------------------------------

/// An authorization request as the suite builds it
/// (CreateAuthorizationRequestSteps): `response_type=code`, the client,
/// its redirect URI, `scope=openid`, a random `state` and `nonce`; no PKCE.
#[derive(Clone)]
struct Req {
    params: Vec<(String, String)>,
}

impl Req {
    fn new(client: &TestClient) -> Req {
        Req {
            params: vec![
                ("client_id".into(), client.id().into()),
                ("redirect_uri".into(), REDIRECT.into()),
                ("scope".into(), "openid".into()),
                ("state".into(), random(10)),
                ("nonce".into(), random(10)),
                ("response_type".into(), "code".into()),
            ],
        }
    }

    /// Sets `key` (replacing it if present).
    fn with(mut self, key: &str, value: &str) -> Req {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.into(), value.into()));
        self
    }

    fn without(mut self, key: &str) -> Req {
        self.params.retain(|(k, _)| k != key);
        self
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn state(&self) -> Option<&str> {
        self.get("state")
    }

    fn url(&self, op: &Op) -> String {
        let mut u = url::Url::parse(&op.endpoint("authorization_endpoint")).unwrap();
        u.query_pairs_mut().extend_pairs(&self.params);
        u.to_string()
    }
}

/// Follows the browser from an `/authorize` answer through sign-in (as
/// the test user) and consent to the redirect out of Latchkey.
async fn through(op: &Op, b: &reqwest::Client, mut resp: reqwest::Response) -> String {
    loop {
        assert_eq!(resp.status(), 303, "a redirect");
        let next = location(&resp);
        if next.starts_with("/login") {
            resp = FormPage::read(&op.app, b, &next)
                .await
                .sign_in(&op.app, b, USERNAME, PASSWORD)
                .await;
        } else if next.starts_with("/consent") {
            resp = FormPage::read(&op.app, b, &next)
                .await
                .decide(&op.app, b, "approve")
                .await;
        } else {
            return next;
        }
    }
}

async fn visit(b: &reqwest::Client, url: &str) -> reqwest::Response {
    b.get(url).send().await.unwrap()
}

/// The redirect back to the client as a list of parameters.
fn callback_params(back: &str) -> Vec<(String, String)> {
    let (base, _) = back.split_once('?').unwrap_or((back, ""));
    // CheckMatchingCallbackParameters: back at the redirect URI.
    assert_eq!(
        base, REDIRECT,
        "back at the registered redirect URI: {back}"
    );
    url::Url::parse(back)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// onAuthorizationCallbackResponse for a success: the redirect URI,
/// `iss` (ValidateIssIfPresentInAuthorizationResponse), no error, the
/// request's `state`, a code.
fn success(op: &Op, req: &Req, back: &str) -> String {
    let params = callback_params(back);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(iss) = get("iss") {
        assert_eq!(iss, op.app.issuer, "iss");
    }
    assert!(get("error").is_none(), "an error: {back}");
    assert_eq!(get("state"), req.state(), "state");
    get("code").expect("a code").to_owned()
}

/// performGenericAuthorizationEndpointErrorResponseValidation; the error.
fn error_back(op: &Op, state: Option<&str>, back: &str) -> String {
    let params = callback_params(back);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("state"), state, "state");
    if let Some(iss) = get("iss") {
        assert_eq!(iss, op.app.issuer, "iss");
    }
    assert!(get("code").is_none(), "no code in an error");
    // CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint
    // (a warning).
    for (k, _) in &params {
        assert!(
            [
                "error",
                "error_description",
                "error_uri",
                "state",
                "session_state",
                "iss"
            ]
            .contains(&k.as_str()),
            "unexpected parameter {k}"
        );
    }
    if let Some(d) = get("error_description") {
        // CRLF/TAB (a warning), then RFC 6749 §4.1.2.1's character set.
        assert!(d
            .bytes()
            .all(|c| matches!(c, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)));
    }
    if let Some(u) = get("error_uri") {
        assert!(url::Url::parse(u).is_ok());
    }
    get("error").expect("an error").to_owned()
}

/// The errors that say a user interface was needed (OIDC Core §3.1.2.6).
fn needs_interaction(error: &str) {
    assert!(
        [
            "interaction_required",
            "login_required",
            "account_selection_required",
            "consent_required"
        ]
        .contains(&error),
        "{error}"
    );
}

// ---------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Basic,
    Post,
}

async fn token_request(
    op: &Op,
    client: &TestClient,
    auth: Auth,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let rb = api().post(op.endpoint("token_endpoint"));
    let rb = match auth {
        Auth::Basic => rb.basic_auth(client.id(), Some(client.secret())),
        Auth::Post => {
            form.push(("client_id", client.id()));
            form.push(("client_secret", client.secret()));
            rb
        }
    };
    rb.form(&form).send().await.unwrap()
}

/// requestAuthorizationCode: the code at the token endpoint, a bearer
/// token, `expires_in` valid when present, an ID token.
async fn redeem_code(
    op: &Op,
    client: &TestClient,
    auth: Auth,
    code: &str,
    extra: &[(&str, &str)],
) -> Value {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    form.extend_from_slice(extra);
    let resp = token_request(op, client, auth, &form).await;
    assert_eq!(resp.status(), 200, "the code redeems");
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["access_token"].is_string());
    if let Some(e) = tokens.get("expires_in") {
        assert!(e.as_u64().is_some_and(|e| e > 0), "expires_in {e}");
    }
    assert!(tokens["id_token"].is_string(), "an ID token");
    tokens
}

/// A JWT's header and claims, its signature verified against the
/// published key its `kid` names.
fn verify_jws(op: &Op, jwt: &str) -> (Value, Value) {
    let header = decode_segment(jwt, 0);
    let kid = header["kid"].as_str().expect("a kid");
    let key = op
        .jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid))
        .expect("the signing key is published");
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).expect("a JWS algorithm");
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    key.verify_signature(
        &alg,
        signed.as_bytes(),
        &URL_SAFE_NO_PAD.decode(sig).unwrap(),
    )
    .expect("the signature verifies against the JWKS");
    (header, decode_segment(jwt, 1))
}

/// PerformStandardIdTokenChecks: signature (by `kid`), `iss`, `aud`,
/// `exp` and `iat` (five minutes' skew), `nonce` as requested, `sub`,
/// `updated_at`. Returns the claims.
fn id_token_checks(op: &Op, client: &TestClient, nonce: Option<&str>, id_token: &str) -> Value {
    let (_, c) = verify_jws(op, id_token);
    let now = op.now();
    assert_eq!(c["iss"], op.app.issuer.as_str(), "iss");
    match &c["aud"] {
        Value::Array(a) => assert!(a.iter().any(|v| v == client.id()), "aud"),
        aud => assert_eq!(aud, client.id(), "aud"),
    }
    assert!(c["exp"].as_i64().expect("exp") >= now - 300, "not expired");
    assert!(
        c["iat"].as_i64().expect("iat") <= now + 300,
        "not issued in the future"
    );
    match nonce {
        Some(n) => assert_eq!(c["nonce"], n, "nonce"),
        None => assert!(c.get("nonce").is_none(), "a nonce nobody sent"),
    }
    assert!(c["sub"].as_str().is_some_and(|s| !s.is_empty()), "sub");
    if let Some(u) = c.get("updated_at") {
        assert!(u.is_i64(), "updated_at is a number");
    }
    c
}

/// CallProtectedResource against userinfo: 200.
async fn userinfo(op: &Op, access: &str) -> Value {
    let resp = api()
        .get(op.endpoint("userinfo_endpoint"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "userinfo");
    let info: Value = resp.json().await.unwrap();
    // EnsureUserInfoContainsSub.
    assert!(info["sub"].is_string(), "sub");
    info
}

/// One pass of AbstractOIDCCServerTest for the code flow.
struct Flow {
    tokens: Value,
    id: Value,
}

impl Flow {
    fn access(&self) -> &str {
        self.tokens["access_token"].as_str().unwrap()
    }

    fn id_token(&self) -> &str {
        self.tokens["id_token"].as_str().unwrap()
    }
}

/// The browser sends `req`; sign-in and consent as needed; the callback,
/// the token endpoint, the ID token checks, userinfo.
async fn flow(op: &Op, b: &reqwest::Client, client: &TestClient, req: &Req) -> Flow {
    let back = through(op, b, visit(b, &req.url(op)).await).await;
    finish(op, client, Auth::Basic, req, &back, &[]).await
}

async fn finish(
    op: &Op,
    client: &TestClient,
    auth: Auth,
    req: &Req,
    back: &str,
    extra: &[(&str, &str)],
) -> Flow {
    let code = success(op, req, back);
    let tokens = redeem_code(op, client, auth, &code, extra).await;
    let id = id_token_checks(
        op,
        client,
        req.get("nonce"),
        tokens["id_token"].as_str().unwrap(),
    );
    userinfo(op, tokens["access_token"].as_str().unwrap()).await;
    Flow { tokens, id }
}

// ---------------------------------------------------------------------
// oidcc-basic
// ---------------------------------------------------------------------

async fn server() {
    let op = Op::start().await;
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    assert_eq!(f.id["sub"], op.sub.as_str());
}

async fn response_type_missing() {
    let op = Op::start().await;
    let req = Req::new(&op.client).without("response_type");
    // Either an error page or an error at the redirect URI: Latchkey
    // redirects, as the redirect URI is registered.
    let resp = visit(&browser(), &req.url(&op)).await;
    let error = error_back(&op, req.state(), &location(&resp));
    // CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrUnsupportedResponseType;
    // Latchkey's is the first.
    assert_eq!(error, "invalid_request");
}

async fn idtoken_signature() {
    let op = Op::start().await;
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    // EnsureIdTokenContainsKid, EnsureIdTokenSignatureIsRS256.
    let header = decode_segment(f.id_token(), 0);
    assert!(header["kid"].is_string());
    assert_eq!(header["alg"], "RS256");
}

async fn idtoken_unsigned() {
    let op = Op::start().await;
    // OIDCCCheckIdTokenSigningAlgValuesSupportedAlgNone: the skip.
    assert!(!advertises(
        &op.meta,
        "id_token_signing_alg_values_supported",
        "none"
    ));
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    assert_ne!(decode_segment(f.id_token(), 0)["alg"], "none");
}

async fn userinfo_get() {
    let op = Op::start().await;
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    let info = userinfo(&op, f.access()).await;
    assert_eq!(info["sub"], op.sub.as_str());
}

async fn userinfo_post_header() {
    let op = Op::start().await;
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    let resp = api()
        .post(op.endpoint("userinfo_endpoint"))
        .bearer_auth(f.access())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["sub"], op.sub.as_str());
}

async fn userinfo_post_body() {
    let op = Op::start().await;
    let f = flow(&op, &browser(), &op.client, &Req::new(&op.client)).await;
    let resp = api()
        .post(op.endpoint("userinfo_endpoint"))
        .form(&[("access_token", f.access())])
        .send()
        .await
        .unwrap();
    // Not 2xx: UserInfoEndpointWithAccessTokenInBodyNotSupported, a
    // warning.
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_oauth_error(resp, 400, "invalid_request").await;
}

async fn request_without_nonce() {
    let op = Op::start().await;
    let req = Req::new(&op.client).without("nonce");
    let b = browser();
    let back = through(&op, &b, visit(&b, &req.url(&op)).await).await;
    // The module stops at the code.
    success(&op, &req, &back);
}

/// AbstractOIDCCScopesServerTest: `scope`, the flow, userinfo checked;
/// returns the scope claims missing from userinfo
/// (VerifyScopesReturnedInUserInfoClaims, a warning).
async fn scopes(scope: &str) -> Vec<String> {
    let op = Op::start().await;
    // OIDCCCheckScopesSupportedContainScopeTest: else the suite skips.
    for s in scope.split(' ') {
        assert!(advertises(&op.meta, "scopes_supported", s), "{s}");
    }
    let req = Req::new(&op.client).with("scope", scope);
    let f = flow(&op, &browser(), &op.client, &req).await;
    let info = userinfo(&op, f.access()).await;
    // ValidateUserInfoStandardClaims, EnsureUserInfoBirthDateValid,
    // EnsureUserInfoUpdatedAtValid.
    for key in ["email_verified", "phone_number_verified"] {
        if let Some(v) = info.get(key) {
            assert!(v.is_boolean(), "{key}");
        }
    }
    if let Some(a) = info.get("address") {
        assert!(a.is_object(), "address");
    }
    if let Some(u) = info.get("updated_at") {
        assert!(u.is_i64(), "updated_at");
    }
    if let Some(d) = info.get("birthdate") {
        assert!(chrono::NaiveDate::parse_from_str(d.as_str().unwrap(), "%Y-%m-%d").is_ok());
    }
    let expected: &[(&str, &[&str])] = &[
        ("openid", &["sub"]),
        (
            "profile",
            &[
                "name",
                "given_name",
                "family_name",
                "middle_name",
                "nickname",
                "profile",
                "picture",
                "website",
                "gender",
                "birthdate",
                "zoneinfo",
                "locale",
                "updated_at",
                "preferred_username",
            ],
        ),
        ("email", &["email", "email_verified"]),
        ("address", &["address"]),
        ("phone", &["phone_number", "phone_number_verified"]),
    ];
    scope
        .split(' ')
        .flat_map(|s| expected.iter().find(|(n, _)| *n == s).unwrap().1.iter())
        .filter(|c| info.get(**c).is_none())
        .map(|c| c.to_string())
        .collect()
}

async fn scope_profile() {
    assert!(scopes("openid profile").await.is_empty());
}

async fn scope_email() {
    assert!(scopes("openid email").await.is_empty());
}

async fn scope_address() {
    assert!(scopes("openid address").await.is_empty());
}

async fn scope_phone() {
    assert!(scopes("openid phone").await.is_empty());
}

async fn scope_all() {
    assert!(scopes("openid email phone address profile")
        .await
        .is_empty());
}

async fn other_scope_order() {
    assert!(scopes("email openid").await.is_empty());
}

/// The standard flow with one more parameter.
async fn flow_with(key: &str, value: &str) -> (Op, Flow) {
    let op = Op::start().await;
    let req = Req::new(&op.client).with(key, value);
    let f = flow(&op, &browser(), &op.client, &req).await;
    (op, f)
}

async fn display_page() {
    flow_with("display", "page").await;
}

async fn display_popup() {
    flow_with("display", "popup").await;
}

async fn unknown_parameter() {
    flow_with("extra_parameter", "Hello, world!").await;
}

async fn ui_locales() {
    flow_with("ui_locales", "se").await;
}

async fn claims_locales() {
    flow_with("claims_locales", "se").await;
}

async fn acr_values() {
    let op = Op::start().await;
    let advertised: Vec<&str> = op.meta["acr_values_supported"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["1", "2"]);
    let req = Req::new(&op.client).with("acr_values", &advertised.join(" "));
    let f = flow(&op, &browser(), &op.client, &req).await;
    // ValidateIdTokenACRClaimAgainstAcrValuesRequest (a warning).
    let acr = f.id["acr"].as_str().expect("an acr");
    assert!(advertised.contains(&acr), "{acr}");
}

async fn prompt_login() {
    let op = Op::start().await;
    let b = browser();
    let first = flow(&op, &b, &op.client, &Req::new(&op.client)).await;
    // WaitForOneSecond, so that the second sign-in is a second later.
    op.app.clock.advance(Duration::from_secs(1));
    let req = Req::new(&op.client).with("prompt", "login");
    let resp = visit(&b, &req.url(&op)).await;
    // ExpectSecondLoginPage.
    assert!(location(&resp).starts_with("/login"), "a second sign-in");
    let back = through(&op, &b, resp).await;
    let second = finish(&op, &op.client, Auth::Basic, &req, &back, &[]).await;
    // CheckSecondIdTokenAuthTimeIsLaterIfPresent.
    if let (Some(a), Some(b)) = (
        first.id["auth_time"].as_i64(),
        second.id["auth_time"].as_i64(),
    ) {
        assert!(b > a, "a later auth_time");
    }
}

async fn prompt_none_not_logged_in() {
    let op = Op::start().await;
    let state = random(128);
    let req = Req::new(&op.client)
        .with("state", &state)
        .with("prompt", "none");
    let resp = visit(&browser(), &req.url(&op)).await;
    needs_interaction(&error_back(&op, Some(&state), &location(&resp)));
}

/// AbstractOIDCCSameAuthTwiceServerTest: a first flow, then `second`
/// straight back (no sign-in page); same `sub`, same `auth_time`.
async fn same_auth_twice(
    first: &[(&str, &str)],
    second: impl Fn(&Flow) -> Vec<(String, String)>,
) -> (Flow, Flow) {
    let op = Op::start().await;
    let b = browser();
    let mut req = Req::new(&op.client);
    for (k, v) in first {
        req = req.with(k, v);
    }
    let one = flow(&op, &b, &op.client, &req).await;
    let mut req = Req::new(&op.client);
    for (k, v) in second(&one) {
        req = req.with(&k, &v);
    }
    let resp = visit(&b, &req.url(&op)).await;
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT), "no interaction: {back}");
    let two = finish(&op, &op.client, Auth::Basic, &req, &back, &[]).await;
    // CheckIdTokenAuthTimeClaimsSameIfPresent,
    // CheckIdTokenSubConsistentForSecondAuthorization.
    assert_eq!(one.id["auth_time"], two.id["auth_time"]);
    assert_eq!(one.id["sub"], two.id["sub"]);
    (one, two)
}

async fn prompt_none_logged_in() {
    same_auth_twice(&[], |_| vec![("prompt".into(), "none".into())]).await;
}

async fn id_token_hint() {
    same_auth_twice(&[], |one| {
        vec![
            ("prompt".into(), "none".into()),
            ("id_token_hint".into(), one.id_token().into()),
        ]
    })
    .await;
}

async fn max_age_10000() {
    let (one, two) = same_auth_twice(&[("max_age", "15000")], |_| {
        vec![("max_age".into(), "10000".into())]
    })
    .await;
    // CheckIdTokenAuthTimeClaimPresentDueToMaxAge, both times.
    assert!(one.id["auth_time"].is_i64() && two.id["auth_time"].is_i64());
}

async fn max_age_1() {
    let op = Op::start().await;
    let b = browser();
    let first = flow(&op, &b, &op.client, &Req::new(&op.client)).await;
    // WaitFor2Seconds.
    op.app.clock.advance(Duration::from_secs(2));
    let req = Req::new(&op.client).with("max_age", "1");
    let resp = visit(&b, &req.url(&op)).await;
    // ExpectSecondLoginPage.
    assert!(location(&resp).starts_with("/login"), "a second sign-in");
    let back = through(&op, &b, resp).await;
    let second = finish(&op, &op.client, Auth::Basic, &req, &back, &[]).await;
    // CheckIdTokenAuthTimeClaimPresentDueToMaxAge,
    // CheckSecondIdTokenAuthTimeIsLaterIfPresent,
    // CheckIdTokenAuthTimeIsRecentIfPresent.
    let auth_time = second.id["auth_time"].as_i64().expect("auth_time");
    assert!(auth_time > first.id["auth_time"].as_i64().unwrap());
    assert!((op.now() - auth_time).abs() <= 300);
}

async fn login_hint() {
    let op = Op::start().await;
    let req = Req::new(&op.client).with("login_hint", USERNAME);
    let b = browser();
    let resp = visit(&b, &req.url(&op)).await;
    let page = FormPage::read(&op.app, &b, &location(&resp)).await;
    assert!(
        page.text.contains(&format!("value=\"{USERNAME}\"")),
        "pre-filled"
    );
    let resp = page.sign_in(&op.app, &b, USERNAME, PASSWORD).await;
    let back = through(&op, &b, resp).await;
    finish(&op, &op.client, Auth::Basic, &req, &back, &[]).await;
}

/// AbstractOIDCCAuthCodeReuse's check of the second redemption.
async fn refused_grant(resp: reqwest::Response) {
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body = assert_oauth_error(resp, 400, "invalid_grant").await;
    if let Some(d) = body["error_description"].as_str() {
        assert!(d
            .bytes()
            .all(|c| matches!(c, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)));
    }
}

/// A flow, then the same code again after `wait`; returns the first
/// access token.
async fn reuse_code(wait: Duration) -> (Op, String) {
    let op = Op::start().await;
    let req = Req::new(&op.client);
    let b = browser();
    let back = through(&op, &b, visit(&b, &req.url(&op)).await).await;
    let code = success(&op, &req, &back);
    let tokens = redeem_code(&op, &op.client, Auth::Basic, &code, &[]).await;
    userinfo(&op, tokens["access_token"].as_str().unwrap()).await;
    op.app.clock.advance(wait);
    let again = token_request(
        &op,
        &op.client,
        Auth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    refused_grant(again).await;
    (op, tokens["access_token"].as_str().unwrap().to_owned())
}

async fn codereuse() {
    reuse_code(Duration::ZERO).await;
}

async fn codereuse_30_seconds() {
    let (op, access) = reuse_code(Duration::from_secs(30)).await;
    // CallProtectedResourceWithBearerTokenExpectingError (a warning).
    let resp = api()
        .get(op.endpoint("userinfo_endpoint"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "the first redemption's token is revoked"
    );
}

/// An error page: no redirect anywhere.
async fn error_page(resp: reqwest::Response) {
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

async fn registered_redirect_uri() {
    let op = Op::start().await;
    // CreateBadRedirectUriByAppending.
    let bad = format!("{REDIRECT}{}", random(10));
    let req = Req::new(&op.client).with("redirect_uri", &bad);
    error_page(visit(&browser(), &req.url(&op)).await).await;
}

async fn post_request() {
    let op = Op::start().await;
    let req = Req::new(&op.client);
    let b = browser();
    let resp = b
        .post(op.endpoint("authorization_endpoint"))
        .form(&req.params)
        .send()
        .await
        .unwrap();
    let back = through(&op, &b, resp).await;
    finish(&op, &op.client, Auth::Basic, &req, &back, &[]).await;
}

async fn server_client_secret_post() {
    let op = Op::start().await;
    // EnsureServerConfigurationSupportsClientSecretPost.
    assert!(advertises(
        &op.meta,
        "token_endpoint_auth_methods_supported",
        "client_secret_post"
    ));
    let post = op
        .app
        .add_client(NewClient {
            auth_method: Some(latchkey_domain::ClientAuthMethod::ClientSecretPost),
            ..conformance_client("Conformance suite (client_secret_post)", None)
        })
        .await;
    let req = Req::new(&post);
    let b = browser();
    let back = through(&op, &b, visit(&b, &req.url(&op)).await).await;
    finish(&op, &post, Auth::Post, &req, &back, &[]).await;
}

/// ConvertAuthorizationEndpointRequestToRequestObject,
/// SerializeRequestObjectWithNullAlgorithm.
fn request_object_none(req: &Req) -> String {
    let claims: serde_json::Map<String, Value> = req
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    format!(
        "{}.{}.",
        b64(json!({"alg": "none"}).to_string().as_bytes()),
        b64(Value::Object(claims).to_string().as_bytes())
    )
}

/// The query beside a request object: the object, and `response_type`,
/// `client_id`, `scope`, `redirect_uri` repeated
/// (AbstractBuildRequestObjectRedirectToAuthorizationEndpoint).
fn request_object_url(op: &Op, req: &Req, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(&op.endpoint("authorization_endpoint")).unwrap();
    u.query_pairs_mut().append_pair(key, value);
    for k in ["response_type", "client_id", "scope", "redirect_uri"] {
        u.query_pairs_mut().append_pair(k, req.get(k).unwrap());
    }
    u.to_string()
}

async fn request_uri_unsigned() {
    let op = Op::start().await;
    let req = Req::new(&op.client);
    let url = request_object_url(&op, &req, "request_uri", "https://rp.example/request.jwt");
    let back = location(&visit(&browser(), &url).await);
    // `state` travelled only inside the object.
    assert_eq!(error_back(&op, None, &back), "request_uri_not_supported");
}

async fn unsigned_request_object() {
    let op = Op::start().await;
    assert_eq!(op.meta["request_parameter_supported"], false);
    // skipTestIfNoneUnsupported looks at this list: it names no `none`
    // (request objects are signed, and accepted at the pushed
    // authorization request endpoint only), so the module would skip.
    // An unsigned object at /authorize is refused all the same.
    let algs = op.meta["request_object_signing_alg_values_supported"]
        .as_array()
        .expect("the algorithms for pushed request objects");
    assert!(!algs.iter().any(|a| a == "none"), "{algs:?}");
    let req = Req::new(&op.client);
    let url = request_object_url(&op, &req, "request", &request_object_none(&req));
    let back = location(&visit(&browser(), &url).await);
    assert_eq!(error_back(&op, None, &back), "request_not_supported");
}

async fn request_object_with_redirect_uri() {
    let op = Op::start().await;
    let req = Req::new(&op.client);
    let object = request_object_none(&req);
    // AddInvalidRedirectUriToAuthorizationRequest: the query's copy.
    let invalid = Req::new(&op.client).with("redirect_uri", &format!("{REDIRECT}_invalid"));
    let url = request_object_url(&op, &invalid, "request", &object);
    // The error page (ExpectRedirectUriErrorPage); a redirect with
    // request_not_supported to the registered URI would fail the module.
    error_page(visit(&browser(), &url).await).await;
}

async fn claims_essential() {
    let op = Op::start().await;
    let req = Req::new(&op.client).with(
        "claims",
        &json!({"userinfo": {"name": {"essential": true}}}).to_string(),
    );
    let f = flow(&op, &browser(), &op.client, &req).await;
    let info = userinfo(&op, f.access()).await;
    // EnsureUserInfoContainsName, EnsureIdTokenDoesNotContainName
    // (warnings).
    assert!(info["name"].is_string(), "userinfo has the name: {info}");
    assert!(f.id.get("name").is_none(), "the ID token has no name");
}

/// RefreshTokenRequestSteps: a second later, the refresh grant; the
/// new tokens, and the ID token compared with the first (OIDC Core
/// §12.2). Returns the refresh token to keep using.
async fn refresh_checks(op: &Op, client: &TestClient, first: &Flow, scope: Option<&str>) -> String {
    let refresh = first.tokens["refresh_token"]
        .as_str()
        .expect("a refresh token with offline_access")
        .to_owned();
    assert!(
        refresh.bytes().all(|c| (0x20..=0x7E).contains(&c)),
        "RFC 6749 §A.17"
    );
    op.app.clock.advance(Duration::from_secs(1));
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let resp = token_request(op, client, Auth::Basic, &form).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // CheckTokenEndpointCacheHeaders.
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("no-store"));
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["token_type"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer")));
    let access = tokens["access_token"].as_str().unwrap();
    assert_ne!(access, first.access(), "a new access token");
    if let Some(e) = tokens.get("expires_in") {
        assert!(e.as_u64().is_some_and(|e| e > 0));
    }
    if let Some(id_token) = tokens["id_token"].as_str() {
        // CompareIdTokenClaims.
        let (_, second) = verify_jws(op, id_token);
        for claim in ["iss", "sub", "aud", "auth_time", "azp"] {
            assert_eq!(first.id.get(claim), second.get(claim), "{claim}");
        }
        assert!(
            second["iat"].as_i64() > first.id["iat"].as_i64(),
            "a later iat"
        );
        if let Some(n) = second.get("nonce") {
            assert_eq!(Some(n), first.id.get("nonce"));
        }
    }
    userinfo(op, access).await;
    tokens["refresh_token"]
        .as_str()
        .map_or(refresh, str::to_owned)
}

async fn refresh_token() {
    let op = Op::start().await;
    // SetScopeInClientConfigurationToOpenIdOfflineAccessIfServerSupportsOfflineAccess,
    // AddPromptConsentToAuthorizationEndpointRequestIfScopeContainsOfflineAccess.
    assert!(advertises(&op.meta, "scopes_supported", "offline_access"));
    // EnsureServerConfigurationSupportsRefreshToken (a warning).
    assert!(advertises(
        &op.meta,
        "grant_types_supported",
        "refresh_token"
    ));
    let scope = "openid offline_access";
    let b = browser();
    let req = Req::new(&op.client)
        .with("scope", scope)
        .with("prompt", "consent");
    let first = flow(&op, &b, &op.client, &req).await;
    refresh_checks(&op, &op.client, &first, Some(scope)).await;

    // The second client, in the same browser, with a 43-character nonce.
    let req = Req::new(&op.client2)
        .with("scope", scope)
        .with("prompt", "consent")
        .with("nonce", &random(43));
    let second = flow(&op, &b, &op.client2, &req).await;
    let theirs = refresh_checks(&op, &op.client2, &second, None).await;

    // RefreshTokenRequestExpectingErrorSteps: client 2's refresh token
    // presented by client 1.
    let resp = token_request(
        &op,
        &op.client,
        Auth::Basic,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &theirs),
            ("scope", scope),
        ],
    )
    .await;
    refused_grant(resp).await;
}

async fn valid_pkce() {
    let op = Op::start().await;
    let (verifier, challenge) = pkce();
    let req = Req::new(&op.client)
        .with("code_challenge", &challenge)
        .with("code_challenge_method", "S256");
    let b = browser();
    let back = through(&op, &b, visit(&b, &req.url(&op)).await).await;
    finish(
        &op,
        &op.client,
        Auth::Basic,
        &req,
        &back,
        &[("code_verifier", &verifier)],
    )
    .await;
}

// ---------------------------------------------------------------------
// Discovery (oidcc-config and the logout plans' discovery modules)
// ---------------------------------------------------------------------

/// A Latchkey whose issuer is an HTTPS name (as in production, behind
/// TLS), for the modules that check every endpoint is HTTPS; and its
/// discovery document, fetched as the suite does.
async fn https_discovery() -> (TestApp, Value) {
    let app = TestApp::spawn_with(|c| {
        c.server.issuer = "https://op.example".parse().unwrap();
    })
    .await;
    let meta = discovery(&app).await;
    (app, meta)
}

/// CheckDiscEndpointAllEndpointsAreHttps: every endpoint and URI.
fn all_https(meta: &Value) {
    for (key, value) in meta.as_object().unwrap() {
        if key.ends_with("_endpoint") || key.ends_with("_uri") {
            let url = value.as_str().unwrap_or_else(|| panic!("{key}"));
            assert!(url.starts_with("https://"), "{key}: {url}");
        }
    }
}

/// CheckDiscEndSessionEndpoint.
fn end_session_endpoint(meta: &Value) {
    let url = meta["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint");
    assert!(
        url.starts_with("https://") && url::Url::parse(url).is_ok(),
        "{url}"
    );
}

async fn discovery_endpoint_verification() {
    let (app, meta) = https_discovery().await;
    let discovery_url = format!("{}/.well-known/openid-configuration", app.issuer);
    // OIDCCCheckDiscEndpointResponseTypesSupported (a static client: one
    // of OpenID Connect's response types).
    assert!(advertises(&meta, "response_types_supported", "code"));
    // CheckDiscEndpointDiscoveryUrl, CheckDiscEndpointIssuer.
    assert!(discovery_url.ends_with("/.well-known/openid-configuration"));
    assert_eq!(
        format!(
            "{}/.well-known/openid-configuration",
            meta["issuer"].as_str().unwrap()
        ),
        discovery_url
    );
    // CheckDiscEndpointSubjectTypesSupported.
    let subjects = meta["subject_types_supported"].as_array().unwrap();
    assert!(!subjects.is_empty());
    assert!(subjects.iter().all(|s| s == "public" || s == "pairwise"));
    // OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported.
    assert!(advertises(
        &meta,
        "id_token_signing_alg_values_supported",
        "RS256"
    ));
    // OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported, when
    // present (Latchkey signs no userinfo responses: absent, skipped).
    if let Some(algs) = meta.get("userinfo_signing_alg_values_supported") {
        assert!(algs
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string)));
    }
    // CheckDiscEndpointAuthorizationEndpoint, ...TokenEndpoint,
    // ...UserinfoEndpoint, ...RegistrationEndpoint, CheckJwksUri.
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "registration_endpoint",
        "jwks_uri",
    ] {
        let url = meta[key].as_str().unwrap_or_else(|| panic!("{key}"));
        assert!(
            url.starts_with("https://") && url::Url::parse(url).is_ok(),
            "{key}"
        );
    }
    fetch_jwks(&app, &meta).await;
    // Informational: request objects, claims parameter.
    for key in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "claims_parameter_supported",
    ] {
        assert!(meta[key].is_boolean(), "{key}");
    }
    // OIDCCCheckDiscEndpointClaimsSupported (a warning when absent).
    assert!(meta["claims_supported"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    // OIDCCCheckDiscEndpointGrantTypesSupported.
    assert!(meta["grant_types_supported"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    // CheckDiscEndpointScopesSupportedContainsOpenId.
    assert!(advertises(&meta, "scopes_supported", "openid"));
    all_https(&meta);
}

async fn rp_logout_discovery() {
    let (_, meta) = https_discovery().await;
    all_https(&meta);
    end_session_endpoint(&meta);
}

async fn backchannel_discovery() {
    let (_, meta) = https_discovery().await;
    all_https(&meta);
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
    end_session_endpoint(&meta);
}

// ---------------------------------------------------------------------
// RP-initiated logout
// ---------------------------------------------------------------------

/// AbstractOIDCCRpInitiatedLogout's first half: the standard flow (with a
/// 128-character `state`), then the end-session request built from
/// `params` (CreateEndSessionEndpointRequest, customised by the module).
struct Logout {
    op: Op,
    b: reqwest::Client,
    first: Flow,
}

impl Logout {
    async fn start() -> Logout {
        Logout::with(Op::start().await).await
    }

    async fn with(op: Op) -> Logout {
        let b = browser();
        let req = Req::new(&op.client).with("state", &random(128));
        let first = flow(&op, &b, &op.client, &req).await;
        Logout { op, b, first }
    }

    /// The usual end-session request: the ID token as hint, the
    /// registered post-logout redirect URI, a random state.
    fn usual(&self, state: &str) -> Vec<(String, String)> {
        vec![
            ("id_token_hint".into(), self.first.id_token().into()),
            ("post_logout_redirect_uri".into(), POST_LOGOUT.into()),
            ("state".into(), state.into()),
        ]
    }

    async fn end_session(&self, params: &[(String, String)]) -> reqwest::Response {
        let mut u = url::Url::parse(&self.op.endpoint("end_session_endpoint")).unwrap();
        if !params.is_empty() {
            u.query_pairs_mut().extend_pairs(params);
        }
        visit(&self.b, u.as_str()).await
    }

    /// The second half: `prompt=none` (with a 128-character `state`) must
    /// be refused, as the user signed out.
    async fn signed_out(&self) {
        let state = random(128);
        let req = Req::new(&self.op.client)
            .with("state", &state)
            .with("prompt", "none");
        let resp = visit(&self.b, &req.url(&self.op)).await;
        needs_interaction(&error_back(&self.op, Some(&state), &location(&resp)));
    }

    /// The browser was not sent to the post-logout redirect URI, and the
    /// session is still there.
    async fn refused(&self, resp: reqwest::Response) {
        error_page(resp).await;
        let resp = visit(
            &self.b,
            &Req::new(&self.op.client)
                .with("prompt", "none")
                .url(&self.op),
        )
        .await;
        assert!(param(&location(&resp), "code").is_some(), "still signed in");
    }

    /// A confirmation page, no redirect; confirmed, the signed-out page.
    async fn confirmed(&self, resp: reqwest::Response) {
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("location").is_none());
        let page = FormPage {
            text: resp.text().await.unwrap(),
        };
        let resp = page.confirm_logout(&self.op.app, &self.b).await;
        assert_eq!(resp.status(), 200, "the signed-out page");
        self.signed_out().await;
    }
}

/// CheckPostLogoutState / CheckNoPostLogoutState,
/// CheckForUnexpectedParametersInPostLogoutRedirect (a warning).
fn post_logout_back(resp: &reqwest::Response, state: Option<&str>) {
    assert_eq!(resp.status(), 303);
    let back = location(resp);
    let (base, _) = back.split_once('?').unwrap_or((&back, ""));
    assert_eq!(base, POST_LOGOUT, "{back}");
    let params: Vec<(String, String)> = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let expected: Vec<(String, String)> = state
        .map(|s| vec![("state".to_owned(), s.to_owned())])
        .unwrap_or_default();
    assert_eq!(params, expected);
}

async fn rp_logout() {
    let l = Logout::start().await;
    let state = random(20);
    let resp = l.end_session(&l.usual(&state)).await;
    post_logout_back(&resp, Some(&state));
    l.signed_out().await;
}

async fn rp_logout_bad_redirect_uri() {
    let l = Logout::start().await;
    let mut params = l.usual(&random(20));
    params[1].1 = format!("{POST_LOGOUT}_bad");
    l.refused(l.end_session(&params).await).await;
}

async fn rp_logout_modified_hint() {
    let l = Logout::start().await;
    // ChangeIdTokenToAlgNone.
    let claims = l.first.id_token().split('.').nth(1).unwrap().to_owned();
    let none = format!(
        "{}.{claims}.",
        b64(json!({"alg": "none"}).to_string().as_bytes())
    );
    let mut params = l.usual(&random(20));
    params[0].1 = none;
    l.refused(l.end_session(&params).await).await;
}

async fn rp_logout_no_hint() {
    let l = Logout::start().await;
    let mut params = l.usual(&random(20));
    params.remove(0);
    l.refused(l.end_session(&params).await).await;
}

async fn rp_logout_no_params() {
    let l = Logout::start().await;
    let resp = l.end_session(&[]).await;
    l.confirmed(resp).await;
}

async fn rp_logout_no_redirect_uri() {
    let l = Logout::start().await;
    let mut params = l.usual(&random(20));
    params.remove(1);
    let resp = l.end_session(&params).await;
    // A hint of this very session: signed out at once.
    assert_eq!(resp.status(), 200, "the signed-out page");
    assert!(resp.headers().get("location").is_none());
    l.signed_out().await;
}

async fn rp_logout_no_state() {
    let l = Logout::start().await;
    let mut params = l.usual("");
    params.remove(2);
    let resp = l.end_session(&params).await;
    post_logout_back(&resp, None);
    l.signed_out().await;
}

async fn rp_logout_only_state() {
    let l = Logout::start().await;
    let resp = l.end_session(&[("state".into(), random(20))]).await;
    l.confirmed(resp).await;
}

async fn rp_logout_query_added() {
    let l = Logout::start().await;
    let mut params = l.usual(&random(20));
    params[1].1 = format!("{POST_LOGOUT}?foo=bar");
    l.refused(l.end_session(&params).await).await;
}

async fn rp_logout_bad_hint() {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;

    let l = Logout::start().await;
    // GenerateFakeIdTokenClaims, SignFakeIdToken with a key made from the
    // client secret (GenerateJWKsFromClientSecret).
    let now = l.op.now();
    let claims = json!({
        "iss": l.op.app.issuer,
        "sub": l.first.id["sub"],
        "aud": l.op.client.id(),
        "iat": now,
        "exp": now + 300,
        "sid": l.first.id["sid"],
    });
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = PKey::hmac(l.op.client.secret().as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let fake = format!("{input}.{}", b64(&signer.sign_to_vec().unwrap()));
    let mut params = l.usual(&random(20));
    params[0].1 = fake;
    l.refused(l.end_session(&params).await).await;
}

// ---------------------------------------------------------------------
// Back-channel logout
// ---------------------------------------------------------------------

async fn backchannel_rp_logout() {
    let (uri, got) = crate::logout::receiver().await;
    let l = Logout::with(Op::with_backchannel(Some(uri)).await).await;
    let state = random(20);
    let resp = l.end_session(&l.usual(&state)).await;
    post_logout_back(&resp, Some(&state));
    let body = delivered(&got).await;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // ExtractLogoutTokenFromBackchannelLogoutRequest,
    // CheckForUnexpectedParametersInBackchannelLogoutRequest (a warning).
    assert_eq!(params.len(), 1, "only logout_token: {body}");
    assert_eq!(params[0].0, "logout_token");
    let op = &l.op;
    // ValidateLogoutTokenSignature.
    let (_, c) = verify_jws(op, &params[0].1);
    // ValidateLogoutTokenClaims.
    assert_eq!(c["iss"], op.app.issuer.as_str());
    match &c["aud"] {
        Value::Array(a) => assert!(a.iter().any(|v| v == op.client.id())),
        aud => assert_eq!(aud, op.client.id()),
    }
    assert!(c["iat"].as_i64().expect("iat") <= op.now() + 300);
    assert!(c["jti"].is_string());
    assert_eq!(
        c["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    // CheckIdTokenSubMatchesLogoutToken, CheckIdTokenSidMatchesLogoutToken,
    // CheckLogoutTokenNoNonce, CheckLogoutTokenHasSubOrSid.
    if let Some(sub) = c.get("sub") {
        assert_eq!(sub, &l.first.id["sub"]);
    }
    if let Some(sid) = c.get("sid") {
        assert_eq!(sid, &l.first.id["sid"]);
    }
    assert!(c.get("nonce").is_none());
    assert!(c.get("sub").is_some() || c.get("sid").is_some());
    l.signed_out().await;
}

/// The first back-channel request the receiver got.
async fn delivered(got: &Arc<Mutex<Vec<String>>>) -> String {
    for _ in 0..100 {
        if let Some(body) = got.lock().unwrap().first().cloned() {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no back-channel logout request arrived");
}
