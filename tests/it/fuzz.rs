//! Arbitrary requests to every endpoint: whatever the query string, body,
//! Content-Type, `Authorization` header, cookies and `X-Forwarded-For`,
//! the answer is never a server error (5xx). Requests are generated from a
//! fixed seed, so a run is repeatable; each failure prints its request.
//!
//! Generated requests mix noise with what the server knows (real client
//! ids, tokens, cookies and CSRF tokens, valid requests with a few
//! parameters changed), so that they get past the first check and reach
//! the code behind it.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use latchkey_core::admin::NewClient;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

use crate::registration::{admin_token, initial_token, register, web_metadata};
use crate::support::*;

/// Requests sent in one run.
const REQUESTS: usize = 600;
const SEED: &[u8; 32] = b"latchkey: every answer below 500";
const LOGGED_OUT: &str = "http://127.0.0.1:9/logged-out";

/// What a route reads its parameters from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Takes {
    Query,
    Form,
    Json,
    Nothing,
}

/// Every route, with `{id}` where a path segment goes.
const ROUTES: &[(&str, &str, Takes)] = &[
    ("GET", "/authorize", Takes::Query),
    ("POST", "/authorize", Takes::Form),
    ("POST", "/token", Takes::Form),
    ("POST", "/revoke", Takes::Form),
    ("POST", "/introspect", Takes::Form),
    ("GET", "/userinfo", Takes::Nothing),
    ("POST", "/userinfo", Takes::Form),
    ("GET", "/logout", Takes::Query),
    ("POST", "/logout", Takes::Form),
    ("POST", "/logout/confirm", Takes::Form),
    ("GET", "/login", Takes::Query),
    ("POST", "/login", Takes::Form),
    ("GET", "/consent", Takes::Query),
    ("POST", "/consent", Takes::Form),
    ("POST", "/device_authorization", Takes::Form),
    ("GET", "/device", Takes::Query),
    ("POST", "/device", Takes::Form),
    ("GET", "/device/consent", Takes::Query),
    ("POST", "/device/consent", Takes::Form),
    ("GET", "/account/sessions", Takes::Nothing),
    ("POST", "/account/sessions/end", Takes::Form),
    ("POST", "/account/sessions/end-others", Takes::Form),
    ("GET", "/account/password", Takes::Nothing),
    ("POST", "/account/password", Takes::Form),
    ("GET", "/account/profile", Takes::Query),
    ("POST", "/account/profile", Takes::Form),
    ("GET", "/api/sessions", Takes::Nothing),
    ("DELETE", "/api/sessions/{id}", Takes::Nothing),
    ("POST", "/register", Takes::Json),
    ("GET", "/register/{id}", Takes::Nothing),
    ("PUT", "/register/{id}", Takes::Json),
    ("DELETE", "/register/{id}", Takes::Nothing),
    ("POST", "/register/{id}/secret", Takes::Nothing),
    ("GET", "/admin/clients", Takes::Nothing),
    ("POST", "/admin/clients", Takes::Json),
    ("GET", "/admin/clients/{id}", Takes::Nothing),
    ("PUT", "/admin/clients/{id}", Takes::Json),
    ("DELETE", "/admin/clients/{id}", Takes::Nothing),
    ("POST", "/admin/clients/{id}/secret", Takes::Nothing),
    ("GET", "/admin/users", Takes::Nothing),
    ("POST", "/admin/users", Takes::Json),
    ("GET", "/admin/users/{id}", Takes::Nothing),
    ("PATCH", "/admin/users/{id}", Takes::Json),
    ("DELETE", "/admin/users/{id}", Takes::Nothing),
    ("PUT", "/admin/users/{id}/password", Takes::Json),
    ("GET", "/admin/users/{id}/sessions", Takes::Nothing),
    ("DELETE", "/admin/sessions/{id}", Takes::Nothing),
    ("GET", "/admin/registration-tokens", Takes::Nothing),
    ("POST", "/admin/registration-tokens", Takes::Json),
    ("DELETE", "/admin/registration-tokens/{id}", Takes::Nothing),
    ("GET", "/admin/audit-events", Takes::Query),
    ("GET", "/.well-known/openid-configuration", Takes::Nothing),
    (
        "GET",
        "/.well-known/oauth-authorization-server",
        Takes::Nothing,
    ),
    ("GET", "/jwks", Takes::Nothing),
    ("GET", "/openapi.json", Takes::Nothing),
    ("GET", "/healthz", Takes::Nothing),
];

/// Parameter and member names the endpoints read.
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
    "post_logout_redirect_uri",
    "access_token",
    "req",
    "csrf",
    "username",
    "password",
    "decision",
    "device_code",
    "user_code",
    "query",
    "session",
    "current",
    "new",
];

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
    "jwks_uri",
    "jwks",
    "id_token_signed_response_alg",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "allowed_cors_origins",
    "introspect",
    "username",
    "password",
    "name",
    "email",
    "expires_in",
    "uses",
    "keys",
];

/// Raw pieces that percent-decoding, URL and JSON parsers may choke on.
const NASTY: &[&str] = &[
    "%", "%G1", "%e9", "%C3%28", "%00", "%FF", "+", "%2B", "&", "=", "&&", "==", "%26", "%3D",
    "\u{0}", "\u{202E}", "\u{FEFF}", "../", "%2e%2e/", "\\", "'", "\"", "<script>", "{{", "}}",
];

/// What the server knows, so requests can carry it.
struct Known {
    /// Path segments: client ids, user names, session and token ids.
    ids: Vec<String>,
    /// Parameter values: tokens, secrets, URIs, CSRF tokens, pending ids.
    values: Vec<String>,
    /// `Authorization` header values that mean something, each with the
    /// start of the paths that take it.
    authorizations: Vec<(&'static str, String)>,
    session: String,
    browser: String,
    /// Valid parameters for each form or query route.
    params: Vec<(&'static str, Vec<(String, String)>)>,
    /// Valid JSON bodies for each JSON route.
    bodies: Vec<(&'static str, Value)>,
}

/// One generated request.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    query: String,
    content_type: Option<Vec<u8>>,
    authorization: Option<Vec<u8>>,
    cookie: Option<Vec<u8>>,
    forwarded: Vec<Vec<u8>>,
    body: Option<Vec<u8>>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query.escape_debug())?;
        }
        for (name, value) in [
            ("Content-Type", &self.content_type),
            ("Authorization", &self.authorization),
            ("Cookie", &self.cookie),
        ] {
            if let Some(v) = value {
                write!(f, "\n{name}: {}", v.escape_ascii())?;
            }
        }
        for v in &self.forwarded {
            write!(f, "\nX-Forwarded-For: {}", v.escape_ascii())?;
        }
        if let Some(body) = &self.body {
            let shown = &body[..body.len().min(2000)];
            write!(f, "\n\n{}", shown.escape_ascii())?;
            if body.len() > shown.len() {
                write!(f, "... ({} bytes)", body.len())?;
            }
        }
        Ok(())
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Text of every kind: what the server knows, noise, nasty pieces, and
/// values past the length limits.
fn text(known: &Arc<Known>) -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(known.values.clone()),
        3 => "\\PC{0,30}",
        1 => "(?s).{0,20}",
        2 => vec(select(NASTY), 1..4).prop_map(|v| v.concat()),
        // A known value ending in NUL, the one character PostgreSQL text
        // cannot hold, or with any nasty piece around it.
        1 => select(known.values.clone()).prop_map(|v| format!("{v}\u{0}")),
        2 => (select(known.values.clone()), select(NASTY), any::<bool>())
            .prop_map(|(v, nasty, before)| corrupt(&v, Some((nasty, before)))),
        1 => (4000usize..9000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// Pairs as they go on the wire: mostly encoded, sometimes raw (so their
/// own `&`, `=` and `%` split or escape), with nasty pieces appended, and
/// sometimes a pair sent twice.
fn encode_pairs(known: &Arc<Known>, pairs: Vec<(String, String)>) -> BoxedStrategy<String> {
    let n = pairs.len();
    (
        vec((0..12u8, proptest::option::of(select(NASTY))), n..=n),
        proptest::option::weighted(0.2, any::<prop::sample::Index>()),
        proptest::option::weighted(0.3, (select(NAMES), text(known))),
    )
        .prop_map(move |(spellings, repeat, noise)| {
            let mut out: Vec<String> = pairs
                .iter()
                .zip(&spellings)
                .map(|((k, v), (how, nasty))| {
                    let v = match how {
                        0 => v.clone(),
                        _ => form_encode(v),
                    };
                    match how {
                        1 => format!("{}={v}{}", form_encode(k), nasty.unwrap_or("")),
                        2 => form_encode(k),
                        _ => format!("{}={v}", form_encode(k)),
                    }
                })
                .collect();
            if let (Some(i), false) = (repeat, out.is_empty()) {
                let again = out[i.index(out.len())].clone();
                out.push(again);
            }
            out.extend(
                noise
                    .into_iter()
                    .map(|(k, v)| format!("{k}={}", form_encode(&v))),
            );
            out.join("&")
        })
        .boxed()
}

/// Parameters for `path`: its valid ones with a few removed or replaced,
/// or any parameters at all.
fn params(known: &Arc<Known>, path: &'static str) -> BoxedStrategy<String> {
    let bases: Vec<Vec<(String, String)>> = known
        .params
        .iter()
        .filter(|(p, _)| *p == path)
        .map(|(_, b)| b.clone())
        .collect();
    let k = known.clone();
    let mutated = (
        select(if bases.is_empty() {
            vec![Vec::new()]
        } else {
            bases
        }),
        corruptions(),
        vec(select(NAMES), 0..2),
        btree_map(select(NAMES), text(known), 0..3),
    )
        .prop_flat_map(move |(base, corruptions, removed, replaced)| {
            let mut pairs: Vec<(String, String)> = base
                .into_iter()
                .zip(corruptions)
                .map(|((name, value), c)| (name, corrupt(&value, c)))
                .filter(|(name, _)| {
                    !removed.contains(&name.as_str()) && !replaced.contains_key(name.as_str())
                })
                .collect();
            pairs.extend(replaced.into_iter().map(|(k, v)| (k.to_owned(), v)));
            encode_pairs(&k, pairs)
        });
    let k = known.clone();
    let random = vec((select(NAMES), text(known)), 0..8)
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Vec<_>>()
        })
        .prop_flat_map(move |pairs| encode_pairs(&k, pairs));
    prop_oneof![
        6 => mutated,
        2 => random,
        1 => vec(any::<u8>(), 0..100).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

/// A change to one known-good value: a nasty piece before or after it.
type Corruption = Option<(&'static str, bool)>;

/// Changes for the values of a valid request, in order: most are left
/// alone. NUL comes up most, as the one character PostgreSQL text cannot
/// hold.
fn corruptions() -> impl Strategy<Value = Vec<Corruption>> {
    let piece = prop_oneof![1 => Just("\u{0}"), 3 => select(NASTY)];
    vec(proptest::option::weighted(0.15, (piece, any::<bool>())), 16)
}

fn corrupt(value: &str, c: Corruption) -> String {
    match c {
        None => value.to_owned(),
        Some((nasty, true)) => format!("{nasty}{value}"),
        Some((nasty, false)) => format!("{value}{nasty}"),
    }
}

/// Applies `corruptions` to the strings of `v`, one each, in order.
fn corrupt_strings(v: &mut Value, corruptions: &mut impl Iterator<Item = Corruption>) {
    match v {
        Value::String(s) => *s = corrupt(s, corruptions.next().flatten()),
        Value::Array(a) => a.iter_mut().for_each(|v| corrupt_strings(v, corruptions)),
        Value::Object(o) => o.values_mut().for_each(|v| corrupt_strings(v, corruptions)),
        _ => {}
    }
}

/// JSON of every shape, with the names and values the JSON endpoints read.
fn json_value(known: &Arc<Known>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text(known).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(
                prop_oneof![select(MEMBERS).prop_map(str::to_owned), "\\PC{0,8}"],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON body for `path`: its valid body with a few members replaced or
/// removed, any JSON, or bytes that are not JSON.
fn json_body(known: &Arc<Known>, path: &'static str) -> BoxedStrategy<Vec<u8>> {
    let bases: Vec<Value> = known
        .bodies
        .iter()
        .filter(|(p, _)| *p == path)
        .map(|(_, b)| b.clone())
        .collect();
    let mutated = (
        select(if bases.is_empty() {
            vec![json!({})]
        } else {
            bases
        }),
        corruptions(),
        btree_map(
            select(MEMBERS),
            proptest::option::of(json_value(known)),
            0..3,
        ),
    )
        .prop_map(|(mut base, corruptions, changes)| {
            corrupt_strings(&mut base, &mut corruptions.into_iter());
            if let Some(object) = base.as_object_mut() {
                for (name, value) in changes {
                    match value {
                        Some(v) => object.insert(name.to_owned(), v),
                        None => object.remove(name),
                    };
                }
            }
            base.to_string().into_bytes()
        });
    prop_oneof![
        4 => mutated,
        2 => json_value(known).prop_map(|v| v.to_string().into_bytes()),
        1 => vec(any::<u8>(), 0..200),
        1 => (64 * 1024..70 * 1024usize)
            .prop_map(|n| format!("{{\"client_name\":\"{}\"}}", "x".repeat(n)).into_bytes()),
    ]
    .boxed()
}

/// Bytes a header value may hold: visible ASCII, space, tab and obs-text.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![8 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\t')],
        0..max,
    )
}

fn content_type(takes: Takes) -> BoxedStrategy<Option<Vec<u8>>> {
    let fitting = match takes {
        Takes::Json => "application/json",
        _ => "application/x-www-form-urlencoded",
    };
    prop_oneof![
        6 => Just(Some(fitting.as_bytes().to_vec())),
        2 => select(vec![
            "application/x-www-form-urlencoded; charset=UTF-8",
            "application/x-www-form-urlencoded; charset=latin1",
            "application/x-www-form-urlencoded;;",
            "application/json; charset=\"utf-8\"",
            "application/json; charset",
            "APPLICATION/JSON",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ])
        .prop_map(|c| Some(c.as_bytes().to_vec())),
        1 => header_bytes(60).prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// An `Authorization` header: usually the credentials `path` takes (so
/// that requests reach the handler behind the check), or others, or noise.
fn authorization(known: &Arc<Known>, path: &str) -> BoxedStrategy<Option<Vec<u8>>> {
    let scheme = select(vec!["Basic", "Bearer", "bearer", "Digest", ""]);
    let fitting = known
        .authorizations
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, a)| a.clone());
    prop_oneof![
        2 => Just(None),
        4 => Just(fitting.map(String::into_bytes)),
        2 => select(known.authorizations.clone()).prop_map(|(_, a)| Some(a.into_bytes())),
        1 => (scheme.clone(), vec(any::<u8>(), 0..60))
            .prop_map(|(s, b)| Some(format!("{s} {}", STANDARD.encode(b)).into_bytes())),
        1 => (scheme, text(known), text(known)).prop_map(|(s, id, secret)| {
            let credentials = format!("{}:{}", form_encode(&id), form_encode(&secret));
            Some(format!("{s} {}", STANDARD.encode(credentials)).into_bytes())
        }),
        1 => header_bytes(80).prop_map(Some),
    ]
    .boxed()
}

fn cookie(known: &Arc<Known>) -> BoxedStrategy<Option<Vec<u8>>> {
    let value = |real: String| {
        prop_oneof![
            3 => Just(real.into_bytes()),
            1 => "[A-Za-z0-9._-]{0,100}".prop_map(String::into_bytes),
            1 => header_bytes(60),
        ]
    };
    prop_oneof![
        1 => Just(None),
        4 => (
            proptest::option::of(value(known.session.clone())),
            proptest::option::of(value(known.browser.clone())),
        )
            .prop_map(|(session, browser)| {
                let mut cookie = Vec::new();
                for (name, v) in [("latchkey_session", session), ("latchkey_csrf", browser)] {
                    if let Some(v) = v {
                        if !cookie.is_empty() {
                            cookie.extend_from_slice(b"; ");
                        }
                        cookie.extend_from_slice(name.as_bytes());
                        cookie.push(b'=');
                        cookie.extend(v);
                    }
                }
                Some(cookie)
            }),
        1 => header_bytes(80).prop_map(Some),
    ]
    .boxed()
}

fn forwarded() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let entry = prop_oneof![
        select(vec![
            "203.0.113.7",
            "[2001:db8::7]:4711",
            "192.0.2.1:99999",
            "unknown",
            "",
            " ",
            "127.0.0.1",
            "::ffff:10.0.0.1",
        ])
        .prop_map(|e| e.as_bytes().to_vec()),
        header_bytes(20),
    ];
    vec(
        vec(entry, 0..5).prop_map(|entries| entries.join(&b","[..])),
        0..3,
    )
}

/// A path segment: an id the server knows, or text, percent-encoded.
fn segment(known: &Arc<Known>) -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(known.ids.clone()).prop_map(|s| form_encode(&s)),
        2 => text(known).prop_map(|s| form_encode(&s)),
        1 => select(known.ids.clone()).prop_map(|s| format!("{}%00", form_encode(&s))),
        1 => select(vec!["%00", "%FF", "..", "%2e%2e", "%2F", "x%zz", ""]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// Any request to the route with index `i`.
fn request(known: &Arc<Known>, i: usize) -> BoxedStrategy<Request> {
    let (method, path, takes) = ROUTES[i];
    let method = prop_oneof![
        9 => Just(method.to_owned()),
        1 => select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
            .prop_map(str::to_owned),
    ];
    let query = match takes {
        Takes::Query => params(known, path),
        _ => prop_oneof![3 => Just(String::new()), 1 => params(known, path)].boxed(),
    };
    let body = match takes {
        Takes::Form => params(known, path)
            .prop_map(|p| Some(p.into_bytes()))
            .boxed(),
        Takes::Json => json_body(known, path).prop_map(Some).boxed(),
        Takes::Query | Takes::Nothing => prop_oneof![
            3 => Just(None),
            1 => params(known, path).prop_map(|p| Some(p.into_bytes())),
        ]
        .boxed(),
    };
    let body = prop_oneof![
        12 => body,
        1 => (16 * 1024..20 * 1024usize).prop_map(|n| Some(format!("a={}", "x".repeat(n)).into_bytes())),
    ];
    (
        method,
        segment(known),
        query,
        content_type(takes),
        authorization(known, path),
        cookie(known),
        forwarded(),
        body,
    )
        .prop_map(
            move |(method, id, query, content_type, authorization, cookie, forwarded, body)| {
                Request {
                    method,
                    path: path.replace("{id}", &id),
                    query,
                    content_type,
                    authorization,
                    cookie,
                    forwarded,
                    body,
                }
            },
        )
        .boxed()
}

/// Sends `r`; `None` if it cannot be written as HTTP at all. An error is
/// a connection the server dropped without answering (a panic in a
/// handler does that).
async fn send(app: &TestApp, r: &Request) -> Option<reqwest::Result<reqwest::Response>> {
    let url = if r.query.is_empty() {
        app.url(&r.path)
    } else {
        app.url(&format!("{}?{}", r.path, r.query))
    };
    let url = reqwest::Url::parse(&url).ok()?;
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).ok()?;
    let mut req = api().request(method, url);
    for (name, value) in [
        ("content-type", &r.content_type),
        ("authorization", &r.authorization),
        ("cookie", &r.cookie),
    ] {
        if let Some(v) = value {
            req = req.header(name, reqwest::header::HeaderValue::from_bytes(v).ok()?);
        }
    }
    for v in &r.forwarded {
        req = req.header(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_bytes(v).ok()?,
        );
    }
    if let Some(body) = &r.body {
        req = req.body(body.clone());
    }
    Some(req.send().await)
}

/// Sets up a server with a user signed in, clients, tokens and a pending
/// authorization request, and returns everything a request may carry.
async fn known(app: &TestApp) -> Known {
    app.add_user("alice").await;
    let web = app
        .add_client(NewClient {
            name: "Portal".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![
                latchkey_domain::GrantType::AuthorizationCode,
                latchkey_domain::GrantType::RefreshToken,
            ],
            scope: Some("openid profile offline_access sessions".into()),
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            ..NewClient::default()
        })
        .await;
    let machine = app.machine_client().await;
    let tv = app
        .add_client(NewClient {
            name: "TV".into(),
            public: true,
            grant_types: vec![latchkey_domain::GrantType::DeviceCode],
            scope: Some("openid profile".into()),
            ..NewClient::default()
        })
        .await;
    let device: Value = api()
        .post(app.url("/device_authorization"))
        .form(&[("client_id", tv.id())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_value = |name: &str| device[name].as_str().unwrap().to_owned();
    let admin = admin_token(app).await;
    let initial = initial_token(app, 1000).await;
    let registered = register(app, &initial, web_metadata()).await;
    let registered_id = registered["client_id"].as_str().unwrap().to_owned();
    let registration = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Alice signs in; her browser keeps its cookies.
    let (browser, jar) = browser_with_jar();
    let (verifier, challenge) = pkce();
    let scope = "openid profile offline_access sessions";
    let back = sign_in(
        app,
        &browser,
        &authorize_url(app, web.id(), &challenge, &[("scope", scope)]),
        "alice",
    )
    .await;
    let code = param(&back, "code").expect("a code");
    let tokens: Value = redeem(app, &web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = |name: &str| tokens[name].as_str().unwrap().to_owned();
    let (access, refresh, id_token) = (
        token("access_token"),
        token("refresh_token"),
        token("id_token"),
    );
    let session = jar_cookie(&jar, &app.url("/"), "latchkey_session").expect("session");
    let csrf_cookie = jar_cookie(&jar, &app.url("/"), "latchkey_csrf").expect("csrf cookie");

    // A request waiting at the sign-in page.
    let resp = browser
        .get(authorize_url(
            app,
            web.id(),
            &challenge,
            &[("prompt", "login")],
        ))
        .send()
        .await
        .unwrap();
    let pending = param(&location(&resp), "req").expect("pending id");

    let sessions: Value = api()
        .get(app.url("/api/sessions"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_ids: Vec<String> = sessions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();

    let csrf = |purpose: &str| app.core.csrf().token(&csrf_cookie, purpose);
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", form_encode(id), form_encode(secret)))
        )
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let authorize = pairs(&[
        ("response_type", "code"),
        ("client_id", web.id()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st"),
        ("nonce", "no"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let logout = pairs(&[
        ("id_token_hint", &id_token),
        ("post_logout_redirect_uri", LOGGED_OUT),
        ("state", "st"),
        ("client_id", web.id()),
    ]);
    let mut ids = vec![
        web.id().to_owned(),
        machine.id().to_owned(),
        tv.id().to_owned(),
        registered_id.clone(),
        "alice".into(),
    ];
    ids.extend(session_ids.iter().cloned());
    let mut values = ids.clone();
    values.extend([
        access.clone(),
        refresh.clone(),
        id_token.clone(),
        code.clone(),
        verifier.clone(),
        challenge.clone(),
        web.secret().to_owned(),
        machine.secret().to_owned(),
        pending.clone(),
        csrf("login"),
        csrf("consent"),
        csrf("logout"),
        csrf("account"),
        csrf("device"),
        device_value("device_code"),
        device_value("user_code"),
        latchkey_domain::GrantType::DeviceCode.as_str().into(),
        REDIRECT.into(),
        LOGGED_OUT.into(),
        PASSWORD.into(),
        "openid profile".into(),
        "authorization_code".into(),
        "refresh_token".into(),
        "client_credentials".into(),
        latchkey_protocol::client_auth::JWT_BEARER_ASSERTION.into(),
        "approve".into(),
    ]);
    Known {
        ids,
        values,
        authorizations: vec![
            ("/userinfo", format!("Bearer {access}")),
            ("/api/", format!("Bearer {access}")),
            ("/admin/", format!("Bearer {admin}")),
            ("/register/", format!("Bearer {registration}")),
            ("/register", format!("Bearer {initial}")),
            ("/token", basic(web.id(), web.secret())),
            ("/revoke", basic(web.id(), web.secret())),
            ("/introspect", basic(web.id(), web.secret())),
            ("/", format!("Bearer {id_token}")),
        ],
        session,
        browser: csrf_cookie.clone(),
        params: vec![
            ("/authorize", authorize.clone()),
            (
                "/token",
                pairs(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
            ),
            (
                "/token",
                pairs(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                    ("client_id", web.id()),
                ]),
            ),
            (
                "/token",
                pairs(&[("grant_type", "client_credentials"), ("scope", "api:read")]),
            ),
            (
                "/revoke",
                pairs(&[("token", &access), ("token_type_hint", "access_token")]),
            ),
            ("/introspect", pairs(&[("token", &refresh)])),
            ("/userinfo", pairs(&[("access_token", &access)])),
            ("/logout", logout.clone()),
            (
                "/logout/confirm",
                pairs(&[
                    ("csrf", &csrf("logout")),
                    (
                        "query",
                        &url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(&logout)
                            .finish(),
                    ),
                ]),
            ),
            ("/login", pairs(&[("req", &pending)])),
            (
                "/login",
                pairs(&[
                    ("req", &pending),
                    ("csrf", &csrf("login")),
                    ("username", "alice"),
                    ("password", "wrong password"),
                ]),
            ),
            (
                "/consent",
                pairs(&[
                    ("req", &pending),
                    ("csrf", &csrf("consent")),
                    ("decision", "approve"),
                ]),
            ),
            (
                "/account/sessions/end",
                pairs(&[
                    ("csrf", &csrf("account")),
                    ("session", session_ids.first().map_or("", String::as_str)),
                ]),
            ),
            (
                "/account/sessions/end-others",
                pairs(&[("csrf", &csrf("account"))]),
            ),
            (
                "/account/password",
                pairs(&[
                    ("csrf", &csrf("account")),
                    ("current", "wrong"),
                    ("new", "a new long password"),
                ]),
            ),
            (
                "/account/profile",
                pairs(&[
                    ("csrf", &csrf("account")),
                    ("name", "Alice"),
                    ("website", "https://alice.example"),
                    ("address.locality", "Oxford"),
                ]),
            ),
        ],
        bodies: vec![
            ("/register", web_metadata()),
            ("/register/{id}", {
                let mut m = web_metadata();
                m["client_id"] = registered_id.clone().into();
                m
            }),
            (
                "/admin/clients",
                json!({
                    "client_name": "Fuzzed",
                    "redirect_uris": [REDIRECT],
                    "client_uri": "https://app.example.com",
                }),
            ),
            (
                "/admin/clients/{id}",
                json!({"client_name": "Fuzzed", "redirect_uris": [REDIRECT], "introspect": true}),
            ),
            (
                "/admin/users",
                json!({"username": "bob", "password": "a long password", "name": "Bob", "email": "bob@example.com"}),
            ),
            (
                "/admin/users/{id}",
                json!({"name": "Bob", "email_verified": true, "groups": ["staff"], "address": {"country": "GB"}}),
            ),
            (
                "/admin/users/{id}/password",
                json!({"password": "another long password"}),
            ),
            (
                "/admin/registration-tokens",
                json!({"expires_in": 3600, "uses": 1}),
            ),
        ],
    }
}

/// The fixed seed, or another one named in `LATCHKEY_FUZZ_SEED` to look
/// further than the usual run.
fn seed() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    match std::env::var("LATCHKEY_FUZZ_SEED") {
        Ok(s) => {
            eprintln!("fuzz seed: {s}");
            Sha256::digest(s.as_bytes()).into()
        }
        Err(_) => *SEED,
    }
}

#[tokio::test]
async fn arbitrary_requests_to_every_endpoint_never_get_a_server_error() {
    let app =
        TestApp::spawn_with(|c| c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
            .await;
    let known = Arc::new(known(&app).await);
    let strategy = (0..ROUTES.len()).prop_flat_map({
        let known = known.clone();
        move |i| request(&known, i)
    });
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed()),
    );
    let mut requests: Vec<Request> = (0..REQUESTS)
        .map(|_| strategy.new_tree(&mut runner).expect("a request").current())
        .collect();
    // Requests that end things (sessions, users, clients, tokens) go last,
    // so that the others still meet a live session and live clients.
    requests.sort_by_key(|r| r.method == "DELETE" || r.path.contains("password"));

    let mut failures = Vec::new();
    let mut sent = 0;
    for r in &requests {
        let resp = match send(&app, r).await {
            None => continue,
            Some(Ok(resp)) => resp,
            Some(Err(e)) => {
                failures.push(format!("no answer ({e}) for\n{r}"));
                continue;
            }
        };
        sent += 1;
        let status = resp.status();
        if status.is_server_error() {
            let body = resp.text().await.unwrap_or_default();
            failures.push(format!("{status} for\n{r}\n-> {body}"));
        }
    }
    assert!(
        sent >= REQUESTS * 9 / 10,
        "only {sent} requests could be sent"
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} requests got a server error:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// PostgreSQL text cannot hold NUL (SQLite can): a NUL in a value that is
/// stored or looked up is the request's fault on both, never a 500. These
/// are the places the fuzzing above found it.
#[tokio::test]
async fn a_nul_character_is_refused_not_a_server_error() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let admin = admin_token(&app).await;
    let initial = initial_token(&app, 10).await;

    // A sign-in form, ready to post.
    let b = browser();
    let (_, challenge) = pkce();
    let page = login_page(&app, &b, &authorize_url(&app, web.id(), &challenge, &[])).await;
    let (req, csrf) = (page.req(), page.csrf());

    let mut answers = vec![(
        "POST /login with a NUL in the user name",
        b.post(app.url("/login"))
            .form(&[
                ("req", req.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice\u{0}"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap(),
    )];
    answers.push((
        "GET /consent?req=x%00",
        b.get(app.url("/consent?req=x%00")).send().await.unwrap(),
    ));
    for (method, path) in [
        ("GET", "/admin/users/alice%00"),
        ("GET", "/admin/users/alice%00/sessions"),
        ("DELETE", "/admin/users/alice%00"),
        ("DELETE", "/admin/sessions/x%00"),
        ("DELETE", "/admin/registration-tokens/x%00"),
    ] {
        let resp = api()
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        answers.push((path, resp));
    }
    let resp = api()
        .put(app.url("/admin/users/alice%00/password"))
        .bearer_auth(&admin)
        .json(&json!({"password": "a new long password"}))
        .send()
        .await
        .unwrap();
    answers.push(("PUT /admin/users/alice%00/password", resp));
    let resp = api()
        .post(app.url("/admin/users"))
        .bearer_auth(&admin)
        .json(&json!({"username": "bob", "password": PASSWORD, "name": "B\u{0}b"}))
        .send()
        .await
        .unwrap();
    answers.push(("POST /admin/users with a NUL in the name", resp));
    let metadata = json!({
        "redirect_uris": [REDIRECT],
        "client_uri": "https://app.example.com/\u{0}",
    });
    for (path, token) in [("/register", &initial), ("/admin/clients", &admin)] {
        let resp = api()
            .post(app.url(path))
            .bearer_auth(token)
            .json(&metadata)
            .send()
            .await
            .unwrap();
        answers.push((path, resp));
    }

    for (what, resp) in answers {
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(status.as_u16() < 500, "{what}: {status} {body}");
    }
}
