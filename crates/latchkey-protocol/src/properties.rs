//! Property tests for every parser here that reads a request: arbitrary
//! input never panics, every refusal is a 4xx error, and whatever parses
//! keeps the promises its type makes (a redirect URI keeps its exact text,
//! a scope round-trips through its text form, a repeated parameter is
//! refused however it is spelled). The outbound URL classifier has its own
//! in `outbound.rs`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use crate::authorize::{echo_state, AuthorizationRequest, AuthorizationTarget, Prompts};
use crate::bearer::parse_bearer;
use crate::client_auth::{assertion_subject, ClientAuthentication, JWT_BEARER_ASSERTION};
use crate::outbound::public_https_url;
use crate::params::{MAX_PARAMS, MAX_VALUE_LEN};
use crate::pkce::{CodeChallenge, CodeVerifier};
use crate::registration::{exact_origin, ClientMetadata, RegistrationPolicy};
use crate::token::TokenRequest;
use crate::types::{check_display_name, ScopeToken};
use crate::vocabulary::{GrantType, SigningAlg};
use crate::{
    sha256_b64url, ClientId, ErrorCode, Nonce, OAuthError, Params, RedirectUri, Scope, State,
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Parameter names the endpoints read, so generated requests get past
/// "missing parameter" often enough to reach the rules behind it.
const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "request",
    "request_uri",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "token",
    "token_type_hint",
    "id_token_hint",
];

/// Values that mean something to some parser, and near misses.
const VALUES: &[&str] = &[
    "code",
    "code id_token",
    "query",
    "fragment",
    "openid",
    "openid profile",
    "openid  profile",
    "S256",
    "plain",
    "s256",
    "none",
    "login consent",
    "none login",
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
    JWT_BEARER_ASSERTION,
    "https://app.example.com/cb",
    "http://127.0.0.1:9/callback",
    "com.example.app:/cb",
    "https://app.example.com/cb#x",
    CHALLENGE,
    VERIFIER,
    "app",
    "300",
    "-1",
    "18446744073709551616",
    "eyJhbGciOiJub25lIn0.e30.",
];

/// Escapes that `%`-decoding may choke on: lone `%`, bad hex, invalid or
/// truncated UTF-8, NUL, and the encoded separators.
const ESCAPES: &[&str] = &[
    "%",
    "%G1",
    "%e9",
    "%C3",
    "%C3%28",
    "%00",
    "+",
    "%2B",
    "%26",
    "%3D",
    "%25",
    "%F0%9F%98",
];

/// Text of every kind: meaningful values, printable Unicode, control
/// characters, and values around the length limit.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(VALUES).prop_map(str::to_owned),
        4 => "\\PC{0,40}",
        2 => "(?s).{0,40}",
        1 => (MAX_VALUE_LEN - 2..MAX_VALUE_LEN + 3).prop_map(|n| "x".repeat(n)),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NAMES).prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
        1 => "\\PC{1,10}",
    ]
}

/// Every byte as `%XX`: another spelling of the same text.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `s` as it might appear in a form: encoded, raw (so its own `&`, `=` and
/// `%` split or escape), or fully `%`-escaped, perhaps with a broken escape.
fn spelled(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (s, 0..3u8, proptest::option::of(select(ESCAPES))).prop_map(|(s, how, escape)| {
        let mut out = match how {
            0 => form_encode(&s),
            1 => s,
            _ => percent_all(&s),
        };
        out.push_str(escape.unwrap_or(""));
        out
    })
}

/// A form body or query string, built from pieces with `&`, `=` and `%`.
fn form() -> impl Strategy<Value = String> {
    vec(
        (spelled(name()), proptest::option::of(spelled(text()))),
        0..12,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v)| match v {
                Some(v) => format!("{n}={v}"),
                None => n,
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// A query string an endpoint might get: `base` with some parameters
/// removed and others replaced by arbitrary text. (A string rather than
/// `Params`, whose `Debug` hides values, so a failure shows its input.)
fn params_around(base: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = String> {
    (vec(select(NAMES), 0..3), btree_map(name(), text(), 0..5)).prop_map(
        move |(removed, replaced)| {
            let mut pairs: Vec<(&str, &str)> = base
                .iter()
                .copied()
                .filter(|(k, _)| !removed.contains(k) && !replaced.contains_key(*k))
                .collect();
            pairs.extend(replaced.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        },
    )
}

const AUTHORIZE: &[(&str, &str)] = &[
    ("client_id", "app"),
    ("redirect_uri", "https://app.example.com/cb"),
    ("response_type", "code"),
    ("scope", "openid profile"),
    ("state", "s1"),
    ("nonce", "n1"),
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
];

const TOKEN: &[(&str, &str)] = &[
    ("grant_type", "authorization_code"),
    ("code", "abc"),
    ("redirect_uri", "https://app.example.com/cb"),
    ("code_verifier", VERIFIER),
    ("client_id", "app"),
];

/// What an endpoint would see; a query it refuses outright reaches no
/// other parser.
fn parse_or_empty(query: &str) -> Params {
    Params::parse(query.as_bytes()).unwrap_or_default()
}

/// A refusal a client can act on: never a server error.
fn is_client_error(e: &OAuthError) -> bool {
    (400..500).contains(&e.status())
}

fn is_vschar_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.chars().all(|c| (' '..='~').contains(&c))
}

/// JSON of every shape, with member names and strings that client metadata
/// and JWK Sets use, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        metadata_text().prop_map(Value::String),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            btree_map(member(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const MEMBERS: &[&str] = &[
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "contacts",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "jwks",
    "id_token_signed_response_alg",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "allowed_cors_origins",
    "keys",
    "kty",
    "kid",
    "alg",
    "use",
    "crv",
    "n",
    "e",
    "x",
    "y",
    "d",
    "k",
    "sub",
];

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(MEMBERS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

/// Strings client metadata is made of, good and bad.
fn metadata_text() -> impl Strategy<Value = String> {
    select(vec![
        "https://app.example.com/cb",
        "https://app.example.com",
        "http://127.0.0.1:9/callback",
        "http://localhost:3000",
        "http://[::1]/cb",
        "http://app.example.com/cb",
        "https://10.0.0.1/jwks",
        "https://user:pw@app.example.com/cb",
        "https://app.example.com/cb#frag",
        "https://*.example.com",
        "com.example.app:/cb",
        "javascript:alert(1)",
        "/cb",
        "https://app.example.com/\u{0}",
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "code",
        "token",
        "openid profile",
        "openid admin",
        "App",
        "Latchkey",
        "Evil\u{202E}moc.knab",
        "ops@example.com",
        "not-an-address",
        "RS256",
        "ES256",
        "HS256",
        "RSA",
        "EC",
        "OKP",
        "P-256",
        "Ed25519",
        "sig",
        "AQAB",
    ])
    .prop_map(str::to_owned)
}

/// Client metadata: a few members, each with a value of its own kind
/// (mostly well formed, so that whole sets pass and their promises are
/// checked) or, now and then, any JSON at all.
fn metadata() -> impl Strategy<Value = Value> {
    // One member's text: good values four times in five.
    fn one(good: &[&'static str], bad: &[&'static str]) -> BoxedStrategy<&'static str> {
        prop_oneof![4 => select(good.to_vec()), 1 => select(bad.to_vec())].boxed()
    }
    let string = |good, bad| one(good, bad).prop_map(Value::from).boxed();
    let list = |good, bad| vec(one(good, bad), 0..3).prop_map(Value::from).boxed();
    const URIS: &[&str] = &[
        "https://app.example.com/cb",
        "http://127.0.0.1:9/callback",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
        "https://app.example.com/cb?x=1",
    ];
    const BAD_URIS: &[&str] = &[
        "com.example.app:/cb",
        "http://app.example.com/cb",
        "https://user:pw@app.example.com/cb",
        "https://app.example.com/cb#frag",
        "javascript:alert(1)",
        "https://app.example.com/\u{0}",
    ];
    const HTTPS: &[&str] = &[
        "https://app.example.com",
        "https://app.example.com/logo.png",
        "https://keys.example.com/jwks",
    ];
    const BAD_HTTPS: &[&str] = &[
        "https://10.0.0.1/jwks",
        "https://localhost/jwks",
        "http://app.example.com",
        "https://app.example.com/#x",
        "/relative",
    ];
    let kinds: Vec<(&'static str, BoxedStrategy<Value>)> = vec![
        ("redirect_uris", list(URIS, BAD_URIS)),
        ("post_logout_redirect_uris", list(URIS, BAD_URIS)),
        (
            "token_endpoint_auth_method",
            string(
                &[
                    "client_secret_basic",
                    "client_secret_post",
                    "private_key_jwt",
                    "none",
                ],
                &["tls_client_auth"],
            ),
        ),
        (
            "grant_types",
            list(
                &["authorization_code", "refresh_token", "client_credentials"],
                &["password"],
            ),
        ),
        ("response_types", list(&["code"], &["token"])),
        (
            "client_name",
            prop_oneof![
                string(
                    &["App", "Приложение"],
                    &["Latchkey", "Evil\u{202E}moc.knab", " "]
                ),
                text().prop_map(Value::from),
            ]
            .boxed(),
        ),
        ("client_uri", string(HTTPS, BAD_HTTPS)),
        ("logo_uri", string(HTTPS, BAD_HTTPS)),
        ("tos_uri", string(HTTPS, BAD_HTTPS)),
        ("policy_uri", string(HTTPS, BAD_HTTPS)),
        ("jwks_uri", string(HTTPS, BAD_HTTPS)),
        ("backchannel_logout_uri", string(HTTPS, BAD_HTTPS)),
        (
            "scope",
            string(
                &["openid profile", "api:read", ""],
                &["openid admin", "a  b"],
            ),
        ),
        (
            "contacts",
            list(&["ops@example.com"], &["not-an-address", "@example.com"]),
        ),
        (
            "jwks",
            jwks()
                .prop_map(|keys| serde_json::json!({ "keys": keys }))
                .boxed(),
        ),
        (
            "id_token_signed_response_alg",
            string(&["RS256", "ES256"], &["PS256", "none"]),
        ),
        (
            "allowed_cors_origins",
            list(
                &["https://app.example.com", "http://localhost:3000"],
                &[
                    "https://app.example.com/",
                    "https://*.example.com",
                    "http://app.example.com",
                ],
            ),
        ),
    ];
    let members: Vec<BoxedStrategy<(&'static str, Value)>> = kinds
        .into_iter()
        .map(|(name, kind)| {
            prop_oneof![9 => kind, 1 => json()]
                .prop_map(move |v| (name, v))
                .boxed()
        })
        .collect();
    // Registrations that pass, each with a few members replaced.
    let templates = select(vec![
        serde_json::json!({ "redirect_uris": ["https://app.example.com/cb"] }),
        serde_json::json!({
            "redirect_uris": ["com.example.app:/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
        serde_json::json!({ "grant_types": ["client_credentials"], "scope": "api:read" }),
        serde_json::json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://keys.example.com/jwks",
        }),
        serde_json::json!({}),
    ]);
    (
        templates,
        proptest::sample::subsequence(members, 0..4).prop_flat_map(|chosen| chosen),
    )
        .prop_map(|(mut template, members)| {
            for (k, v) in members {
                template[k] = v;
            }
            template
        })
}

/// Lists of JWK-like objects.
fn jwks() -> impl Strategy<Value = Vec<Value>> {
    let jwk = btree_map(
        select(vec![
            "kty", "kid", "alg", "use", "crv", "n", "e", "x", "y", "d", "k",
        ]),
        prop_oneof![metadata_text().prop_map(Value::String), json()],
        0..6,
    )
    .prop_map(|m| {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    });
    vec(prop_oneof![4 => jwk, 1 => json()], 0..12)
}

fn policy(internal_uris: bool) -> RegistrationPolicy {
    RegistrationPolicy {
        allowed_scope: Scope::parse("openid profile email offline_access api:read").unwrap(),
        id_token_algs: vec![SigningAlg::RS256, SigningAlg::ES256],
        internal_uris,
    }
}

/// Validates `body` under both URL policies and checks every promise of a
/// metadata set that passed.
fn check_metadata(body: &[u8]) -> Result<(), TestCaseError> {
    let meta = match ClientMetadata::from_json(body) {
        Ok(meta) => meta,
        Err(e) => {
            prop_assert!(
                matches!(
                    e.code,
                    ErrorCode::InvalidRequest | ErrorCode::InvalidClientMetadata
                ),
                "{e}"
            );
            return Ok(());
        }
    };
    for internal in [false, true] {
        let valid = match meta.validate(&policy(internal)) {
            Ok(valid) => valid,
            Err(e) => {
                prop_assert!(
                    matches!(
                        e.code,
                        ErrorCode::InvalidRedirectUri | ErrorCode::InvalidClientMetadata
                    ),
                    "{e}"
                );
                continue;
            }
        };
        let public = valid.is_public();
        for uri in valid
            .redirect_uris
            .iter()
            .chain(&valid.post_logout_redirect_uris)
        {
            prop_assert!(RedirectUri::parse_registrable(uri.as_str(), public).is_ok());
        }
        prop_assert!(!valid.grant_types.is_empty());
        let code_grant = valid.grant_types.contains(&GrantType::AuthorizationCode);
        prop_assert_eq!(code_grant, !valid.redirect_uris.is_empty());
        prop_assert!(!(public && valid.grant_types.contains(&GrantType::ClientCredentials)));
        prop_assert!(valid.scope.is_subset(&policy(internal).allowed_scope));
        if let Some(name) = &valid.client_name {
            prop_assert_eq!(check_display_name(name, true), Ok(name.as_str()));
        }
        prop_assert!(valid.contacts.len() <= 10);
        prop_assert!(valid.jwks.as_ref().is_none_or(|j| j.len() <= 16 * 1024));
        prop_assert!(!(valid.jwks.is_some() && valid.jwks_uri.is_some()));
        if !internal {
            for uri in valid.jwks_uri.iter().chain(&valid.backchannel_logout_uri) {
                prop_assert!(public_https_url(uri).is_ok(), "{}", uri);
            }
        }
        for origin in &valid.allowed_cors_origins {
            prop_assert_eq!(exact_origin(origin), Ok(origin.clone()));
        }
    }
    Ok(())
}

/// URL-shaped text: schemes, user information, hosts of every kind, ports,
/// paths, queries and fragments.
fn url_like() -> impl Strategy<Value = String> {
    "(https?|[a-z]{1,5}(\\.[a-z]{1,5}){0,2}|javascript|data|file):(//)?([a-z]{0,4}(:[a-z]{0,3})?@)?(\\[[0-9a-f:.]{0,20}\\]|[a-zA-Z0-9.%-]{0,20}|localhost|127\\.0\\.0\\.1)(:[0-9]{0,6})?(/[^#\\s]{0,20})?(\\?[^#]{0,10})?(#.{0,5})?"
}

fn scope_token() -> impl Strategy<Value = String> {
    "[!#-\\[\\]-~]{1,20}"
}

/// A JWT-shaped string whose payload is the given JSON.
fn jwt_with_payload(payload: &Value) -> String {
    format!(
        "eyJhbGciOiJFUzI1NiJ9.{}.sig",
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

fn authorization_header() -> impl Strategy<Value = String> {
    let scheme = select(vec!["Basic", "basic", "BASIC", "Bearer", "Digest", ""]);
    prop_oneof![
        "(?s).{0,60}",
        // Any bytes, non-UTF-8 included, in well-formed base64.
        (scheme.clone(), vec(any::<u8>(), 0..60))
            .prop_map(|(s, b)| format!("{s} {}", STANDARD.encode(b))),
        // base64-ish text that may not decode.
        (scheme.clone(), "[A-Za-z0-9+/=_ -]{0,60}").prop_map(|(s, b)| format!("{s} {b}")),
        // Well-formed credentials with arbitrary ids and secrets.
        (scheme, text(), text()).prop_map(|(s, id, secret)| format!(
            "{s} {}",
            STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret)))
        )),
        "Bearer [A-Za-z0-9._~+/-]{1,40}=*",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_parse_as_params_within_the_limits(
        body in prop_oneof![vec(any::<u8>(), 0..600), form().prop_map(String::into_bytes)]
    ) {
        if let Ok(p) = Params::parse(&body) {
            prop_assert!(p.iter().count() <= MAX_PARAMS);
            for (name, value) in p.iter() {
                prop_assert!(!name.is_empty() && !value.is_empty());
                prop_assert!(value.len() <= MAX_VALUE_LEN);
            }
            prop_assert_eq!(Params::parse(p.to_query().as_bytes()), Ok(p));
        }
    }

    #[test]
    fn a_repeated_parameter_is_refused_however_it_is_spelled(
        pairs in btree_map(name(), text(), 1..10),
        pick in any::<prop::sample::Index>(),
        value in text(),
        spelling in 0..3u8,
        first in any::<bool>(),
    ) {
        let (repeated, _) = pairs.iter().nth(pick.index(pairs.len())).unwrap();
        let again = match spelling {
            0 => form_encode(repeated),
            1 => percent_all(repeated),
            _ => form_encode(repeated).replace('a', "%61"),
        };
        let again = format!("{again}={}", form_encode(&value));
        let rest = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        let body = if first { format!("{again}&{rest}") } else { format!("{rest}&{again}") };
        prop_assert!(Params::parse(body.as_bytes()).is_err(), "{}", body);
    }

    #[test]
    fn distinct_parameters_within_the_limits_round_trip(
        pairs in btree_map(name(), "(?s).{0,60}", 0..MAX_PARAMS),
    ) {
        let p = Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        for (k, v) in &pairs {
            prop_assert_eq!(p.get(k), (!v.is_empty()).then_some(v.as_str()));
        }
    }

    #[test]
    fn too_long_a_value_or_too_many_parameters_is_refused(
        name in name(),
        len in MAX_VALUE_LEN + 1..4 * MAX_VALUE_LEN,
        extra in MAX_PARAMS + 1..2 * MAX_PARAMS,
    ) {
        let long = format!("{}={}", form_encode(&name), "v".repeat(len));
        prop_assert!(Params::parse(long.as_bytes()).is_err());
        let many: Vec<String> = (0..extra).map(|i| format!("p{i}=1")).collect();
        prop_assert!(Params::parse(many.join("&").as_bytes()).is_err());
    }

    #[test]
    fn scope_round_trips_through_its_text(s in prop_oneof![
        "\\PC{0,60}",
        vec(scope_token(), 1..70).prop_map(|t| t.join(" ")),
    ]) {
        match Scope::parse(&s) {
            Ok(scope) => {
                prop_assert!(!scope.is_empty() && scope.len() <= 64);
                let text = scope.to_string();
                prop_assert_eq!(Scope::parse(&text), Ok(scope.clone()));
                for token in s.split(' ') {
                    prop_assert!(scope.contains(token));
                }
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidScope),
        }
    }

    #[test]
    fn scopes_of_valid_tokens_parse(tokens in vec(scope_token(), 1..64)) {
        let scope = Scope::parse(&tokens.join(" ")).unwrap();
        for t in &tokens {
            prop_assert!(scope.contains(t));
            prop_assert!(ScopeToken::parse(t).is_some());
        }
    }

    #[test]
    fn state_nonce_and_client_id_accept_exactly_their_alphabet(s in prop_oneof![
        "\\PC{0,20}",
        "(?s).{0,20}",
        "[ -~]{0,600}",
        "[!-~]{120,140}",
    ]) {
        let state = State::parse(&s).map(State::into_string).ok();
        prop_assert_eq!(state, is_vschar_text(&s, 512).then(|| s.clone()));
        prop_assert_eq!(Nonce::parse(&s).is_ok(), is_vschar_text(&s, 512));
        let client_id_ok = is_vschar_text(&s, 128) && !s.contains(' ');
        prop_assert_eq!(ClientId::parse(&s).map(|c| c.into_string()).ok(), client_id_ok.then(|| s.clone()));
    }

    #[test]
    fn pkce_accepts_exactly_s256_of_a_well_formed_verifier(
        verifier in prop_oneof!["[A-Za-z0-9._~-]{40,130}", "\\PC{0,130}"],
        other in "[A-Za-z0-9._~-]{43,128}",
        method in prop_oneof![Just("S256".to_owned()), "\\PC{0,6}"],
    ) {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let parsed = CodeVerifier::parse(&verifier);
        prop_assert_eq!(parsed.is_ok(), well_formed);
        let challenge = sha256_b64url(verifier.as_bytes());
        let c = CodeChallenge::parse(Some(&challenge), Some(&method));
        prop_assert_eq!(c.is_ok(), method == "S256");
        if let (Ok(c), Ok(v)) = (c, parsed) {
            prop_assert!(c.verify(&v));
            if other != verifier {
                prop_assert!(!c.verify(&CodeVerifier::parse(&other).unwrap()));
            }
        }
        // Whatever was sent as a challenge, only 43 base64url characters pass.
        if let Ok(c) = CodeChallenge::parse(Some(&verifier), Some("S256")) {
            prop_assert_eq!(c.as_str().len(), 43);
        }
    }

    #[test]
    fn a_redirect_uri_that_parses_keeps_its_exact_text(
        s in prop_oneof![url_like(), "\\PC{0,60}", "(?s).{0,30}"],
        public in any::<bool>(),
    ) {
        if let Ok(r) = RedirectUri::parse(&s) {
            prop_assert_eq!(r.as_str(), s.as_str());
            prop_assert!(!s.contains('#') && s.len() <= 2048);
            let _ = r.url();
            if let Some(src) = r.csp_source() {
                prop_assert!(src.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.:/[]".contains(&b)));
            }
        }
        if let Ok(r) = RedirectUri::parse_registrable(&s, public) {
            prop_assert_eq!(r.as_str(), s.as_str());
            prop_assert!(RedirectUri::parse(&s).is_ok());
            let url = r.url();
            prop_assert!(url.username().is_empty() && url.password().is_none());
            prop_assert!(matches!(url.scheme(), "https" | "http") || (public && url.scheme().contains('.')));
        }
        // What a confidential client may register, a public one may too.
        if RedirectUri::parse_registrable(&s, false).is_ok() {
            prop_assert!(RedirectUri::parse_registrable(&s, true).is_ok());
        }
    }

    #[test]
    fn an_allowed_cors_origin_is_exactly_its_text(s in prop_oneof![url_like(), "\\PC{0,40}"]) {
        if let Ok(o) = exact_origin(&s) {
            prop_assert_eq!(o, s);
        }
    }

    #[test]
    fn a_display_name_that_passes_is_visible_and_bounded(
        s in prop_oneof![
            "\\PC{0,40}",
            "(?s).{0,40}",
            ("\\PC{0,10}", select(vec!["\u{202E}", "\u{200B}", "\u{2066}", "\n", "\u{FEFF}", "Latchkey", "LATCH\u{212A}EY", "L\u{0430}tchkey", "\u{FF2C}ATCHKEY", " "]), "\\PC{0,10}")
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
            (195usize..206).prop_map(|n| "é".repeat(n)),
        ],
        registrant in any::<bool>(),
    ) {
        if let Ok(name) = check_display_name(&s, registrant) {
            prop_assert_eq!(name, s.trim());
            prop_assert!((1..=200).contains(&name.chars().count()));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert!(!(registrant && name.to_lowercase().contains("latchkey")));
        }
    }

    #[test]
    fn prompt_round_trips(s in proptest::option::of(prop_oneof![
        "\\PC{0,20}",
        vec(select(vec!["none", "login", "consent", "select_account", "", "x"]), 0..4).prop_map(|v| v.join(" ")),
    ])) {
        if let Ok(p) = Prompts::parse(s.as_deref()) {
            prop_assert!(!(p.none && (p.login || p.consent || p.select_account)));
            prop_assert_eq!(Prompts::parse(p.to_param().as_deref()), Ok(p));
        }
    }

    #[test]
    fn the_bearer_header_yields_only_a_b64token(
        header in prop_oneof![authorization_header(), "(?s).{0,30}"],
        token in "[A-Za-z0-9._~+/-]{1,60}=*",
        scheme in select(vec!["Bearer", "bearer", "BEARER"]),
    ) {
        if let Ok(t) = parse_bearer(&header) {
            prop_assert!(header.ends_with(t) && t.len() <= 8192);
            prop_assert!(t.trim_end_matches('=').bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
        }
        let header = format!("{scheme} {token}");
        prop_assert_eq!(parse_bearer(&header), Ok(token.as_str()));
    }

    #[test]
    fn an_assertion_subject_is_read_only_from_a_well_formed_payload(
        payload in prop_oneof![
            json(),
            "\\PC{0,20}".prop_map(|sub| serde_json::json!({ "sub": sub })),
            "[!-~]{1,130}".prop_map(|sub| serde_json::json!({ "sub": sub, "iss": sub })),
        ],
        junk in "(?s).{0,60}",
    ) {
        let _ = assertion_subject(&junk);
        let expected = payload
            .get("sub")
            .and_then(Value::as_str)
            .and_then(|s| ClientId::parse(s).ok());
        prop_assert_eq!(assertion_subject(&jwt_with_payload(&payload)), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_authorization_request_is_checked_whatever_it_says(
        query in prop_oneof![3 => params_around(AUTHORIZE), 1 => form()]
    ) {
        let params = parse_or_empty(&query);
        let target = match AuthorizationTarget::parse(&params) {
            Ok(t) => t,
            Err(e) => {
                prop_assert!(is_client_error(&e), "{}", e);
                return Ok(());
            }
        };
        prop_assert_eq!(Some(target.client_id.as_str()), params.get("client_id"));
        prop_assert_eq!(Some(target.redirect_uri.as_str()), params.get("redirect_uri"));
        let _ = echo_state(&params);
        let Ok(redirect_uri) = RedirectUri::parse(&target.redirect_uri) else {
            return Ok(());
        };
        match AuthorizationRequest::parse(&params, target.client_id, redirect_uri, Default::default()) {
            Ok(r) => {
                prop_assert_eq!(params.get("response_type"), Some("code"));
                prop_assert!(matches!(params.get("response_mode"), None | Some("query")));
                prop_assert!(!params.contains("request") && !params.contains("request_uri"));
                prop_assert_eq!(Some(r.state.as_str()), params.get("state"));
                prop_assert!(!r.scope.contains(Scope::OPENID) || r.nonce.is_some());
                prop_assert_eq!(params.get("code_challenge_method"), Some("S256"));
                prop_assert_eq!(r.code_challenge.as_ref().map(|c| c.as_str()), params.get("code_challenge"));
                prop_assert_eq!(r.max_age, params.get("max_age").and_then(|m| m.parse().ok()));
            }
            Err(e) => prop_assert!(is_client_error(&e), "{}", e),
        }
    }

    #[test]
    fn a_token_request_is_checked_whatever_it_says(
        query in prop_oneof![3 => params_around(TOKEN), 1 => form()]
    ) {
        let params = parse_or_empty(&query);
        match TokenRequest::parse(&params) {
            Ok(TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier: _ }) => {
                prop_assert_eq!(params.get("grant_type"), Some("authorization_code"));
                prop_assert_eq!(Some(code.expose()), params.get("code"));
                prop_assert!(code.expose().bytes().all(|b| b.is_ascii_graphic()));
                prop_assert_eq!(Some(redirect_uri.as_str()), params.get("redirect_uri"));
                if let Some(v) = params.get("code_verifier") {
                    prop_assert!(CodeVerifier::parse(v).is_ok());
                }
            }
            Ok(TokenRequest::RefreshToken { refresh_token, .. }) => {
                prop_assert_eq!(Some(refresh_token.expose()), params.get("refresh_token"));
                prop_assert!(refresh_token.expose().len() <= 512);
            }
            Ok(TokenRequest::ClientCredentials { scope }) => {
                prop_assert_eq!(scope.is_some(), params.contains("scope"));
            }
            Ok(TokenRequest::DeviceCode { device_code }) => {
                prop_assert_eq!(params.get("grant_type"), Some(crate::GrantType::DeviceCode.as_str()));
                prop_assert_eq!(Some(device_code.expose()), params.get("device_code"));
                prop_assert!(device_code.expose().bytes().all(|b| b.is_ascii_graphic()));
            }
            Err(e) => prop_assert!(matches!(
                e.code,
                ErrorCode::InvalidRequest | ErrorCode::UnsupportedGrantType | ErrorCode::InvalidScope
            ), "{}", e),
        }
    }

    #[test]
    fn a_typed_user_code_is_eight_letters_of_the_alphabet_or_nothing(typed in ".{0,80}") {
        use crate::device::{UserCode, USER_CODE_ALPHABET};
        if let Some(code) = UserCode::parse(&typed) {
            prop_assert_eq!(code.normalized().len(), 8);
            prop_assert!(code.normalized().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            prop_assert_eq!(UserCode::parse(&code.display()), Some(code));
        }
    }

    #[test]
    fn client_authentication_allows_one_method_and_nothing_else(
        header in proptest::option::of(authorization_header()),
        query in prop_oneof![
            params_around(TOKEN),
            btree_map(
                select(vec!["client_id", "client_secret", "client_assertion", "client_assertion_type"]),
                prop_oneof![text(), Just(JWT_BEARER_ASSERTION.to_owned())],
                0..4,
            ).prop_map(|m| url::form_urlencoded::Serializer::new(String::new()).extend_pairs(m).finish()),
        ],
    ) {
        let params = parse_or_empty(&query);
        match ClientAuthentication::parse(header.as_deref(), &params) {
            Ok(ClientAuthentication::Basic { client_id, .. }) => {
                prop_assert!(!params.contains("client_secret") && !params.contains("client_assertion"));
                prop_assert!(params.get("client_id").is_none_or(|id| id == client_id.as_str()));
            }
            Ok(ClientAuthentication::Post { client_id, secret }) => {
                prop_assert!(header.is_none() && !params.contains("client_assertion"));
                prop_assert_eq!(Some(client_id.as_str()), params.get("client_id"));
                prop_assert_eq!(Some(secret.expose()), params.get("client_secret"));
            }
            Ok(ClientAuthentication::None { client_id }) => {
                prop_assert!(header.is_none());
                prop_assert!(!params.contains("client_secret") && !params.contains("client_assertion"));
                prop_assert_eq!(Some(client_id.as_str()), params.get("client_id"));
            }
            Ok(ClientAuthentication::JwtAssertion { assertion, .. }) => {
                prop_assert!(header.is_none() && !params.contains("client_secret"));
                prop_assert_eq!(params.get("client_assertion_type"), Some(JWT_BEARER_ASSERTION));
                prop_assert_eq!(Some(assertion.as_str()), params.get("client_assertion"));
            }
            Err(e) => prop_assert!(is_client_error(&e), "{}", e),
        }
    }

    #[test]
    fn basic_credentials_round_trip(
        id in "[!-~]{1,128}",
        secret in "(?s).{0,60}",
        scheme in select(vec!["Basic", "basic", "BASIC"]),
    ) {
        let header = format!(
            "{scheme} {}",
            STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret)))
        );
        match ClientAuthentication::parse(Some(&header), &Params::default()) {
            Ok(ClientAuthentication::Basic { client_id, secret: got }) => {
                prop_assert_eq!(client_id.as_str(), id.as_str());
                prop_assert_eq!(got.expose(), secret.as_str());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn any_bytes_are_read_as_client_metadata_without_panicking(
        body in prop_oneof![vec(any::<u8>(), 0..200), "\\PC{0,100}".prop_map(String::into_bytes)]
    ) {
        check_metadata(&body)?;
    }

    #[test]
    fn any_json_is_judged_as_client_metadata(value in prop_oneof![json(), metadata()]) {
        check_metadata(value.to_string().as_bytes())?;
    }
}
