//! Property tests for what the core reads from attackers: CSRF cookies and
//! form tokens (only values this server issued pass), and the claims of a
//! JWT whose signature checked out (no claim set, however odd, is accepted
//! outside its issuer, audience and validity window).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use crate::csrf::CsrfGuard;
use crate::jwt::{check_claims, ClaimRules};

const KEY: [u8; 32] = [3; 32];

/// 43 base64url characters: the shape of a browser id's random part.
fn random_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{43}"
}

/// Cookie values an attacker can send: anything, things shaped like a
/// browser id with a made-up or foreign MAC, and issued values with one
/// character changed, added or dropped.
fn cookie() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,100}",
        (random_part(), "[A-Za-z0-9_-]{0,50}").prop_map(|(r, mac)| format!("{r}.{mac}")),
        (random_part(), any::<[u8; 32]>())
            .prop_map(|(r, key)| CsrfGuard::new(key).issue_browser(&r)),
        (
            random_part(),
            any::<prop::sample::Index>(),
            any::<bool>(),
            "[ -~]"
        )
            .prop_map(|(r, at, cut, c)| {
                let mut v = CsrfGuard::new(KEY).issue_browser(&r).into_bytes();
                let i = at.index(v.len());
                if cut {
                    v.truncate(i);
                } else {
                    v[i] = c.as_bytes()[0];
                }
                String::from_utf8(v).unwrap()
            }),
        (random_part(), "(?s).{1,4}")
            .prop_map(|(r, extra)| format!("{}{extra}", CsrfGuard::new(KEY).issue_browser(&r))),
    ]
}

fn purpose() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["login", "consent", "logout", "account"]).prop_map(str::to_owned),
        "\\PC{0,10}",
    ]
}

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://id.example";
const AUDIENCES: &[&str] = &["https://id.example", "https://api.example"];

/// A claim value: mostly what the checked claims hold (times around now,
/// the issuer and audiences and their near misses), or anything else.
fn claim_value() -> impl Strategy<Value = Value> {
    let time = prop_oneof![
        (NOW - 100..NOW + 100).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-100.0f64..100.0).prop_map(|d| Value::from(NOW as f64 + d)),
    ];
    let name = select(vec![
        ISSUER,
        "https://id.example/",
        "https://api.example",
        "https://evil.example",
        "",
    ])
    .prop_map(Value::from);
    let leaf = prop_oneof![
        3 => time,
        3 => name.clone(),
        1 => vec(name, 0..3).prop_map(Value::Array),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => "\\PC{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("\\PC{0,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A claim set: a valid one with a few claims removed or replaced, or
/// claims drawn at random.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        4 => select(vec!["iss", "aud", "exp", "nbf", "iat"]).prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ];
    let changes = btree_map(name, proptest::option::of(claim_value()), 0..4);
    (any::<bool>(), changes).prop_map(|(valid, changes)| {
        let mut claims = Map::new();
        if valid {
            claims.insert("iss".into(), ISSUER.into());
            claims.insert("aud".into(), "https://api.example".into());
            claims.insert("exp".into(), (NOW + 60).into());
            claims.insert("iat".into(), NOW.into());
        }
        for (name, value) in changes {
            match value {
                Some(v) => claims.insert(name, v),
                None => claims.remove(&name),
            };
        }
        claims
    })
}

/// A NumericDate as a number of seconds, for comparing with `now`.
fn seconds(claims: &Map<String, Value>, name: &str) -> Option<f64> {
    claims.get(name).and_then(Value::as_f64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn only_a_browser_id_this_server_issued_is_accepted(
        value in cookie(),
        random in random_part(),
    ) {
        let g = CsrfGuard::new(KEY);
        if g.is_issued(&value) {
            // Then it is exactly what the server makes of its random part.
            let (r, _) = value.split_once('.').unwrap();
            prop_assert_eq!(&g.issue_browser(r), &value);
        }
        prop_assert!(g.is_issued(&g.issue_browser(&random)));
    }

    #[test]
    fn a_form_token_passes_only_with_its_own_browser_and_purpose(
        browser in prop_oneof![
            random_part().prop_map(|r| CsrfGuard::new(KEY).issue_browser(&r)),
            cookie(),
        ],
        other_browser in cookie(),
        purpose in purpose(),
        other_purpose in purpose(),
        presented in prop_oneof!["(?s).{0,60}", "[A-Za-z0-9_-]{43}"],
    ) {
        let g = CsrfGuard::new(KEY);
        let token = g.token(&browser, &purpose);
        prop_assert_eq!(
            g.verify(Some(&browser), &purpose, Some(&token)),
            g.is_issued(&browser)
        );
        if g.verify(Some(&browser), &purpose, Some(&presented)) {
            prop_assert_eq!(&presented, &token);
        }
        if other_purpose != purpose {
            prop_assert!(!g.verify(Some(&browser), &other_purpose, Some(&token)));
        }
        if other_browser != browser {
            prop_assert!(!g.verify(Some(&other_browser), &purpose, Some(&token)));
        }
        prop_assert!(!CsrfGuard::new([4; 32]).verify(Some(&browser), &purpose, Some(&token)));
        prop_assert!(!g.verify(None, &purpose, Some(&token)));
        prop_assert!(!g.verify(Some(&browser), &purpose, None));
    }

    #[test]
    fn claims_pass_only_inside_issuer_audience_and_validity(
        claims in claims(),
        skew in 0i64..300,
        audiences in any::<bool>(),
        allow_expired in any::<bool>(),
        require_iat in any::<bool>(),
    ) {
        let rules = ClaimRules {
            issuer: ISSUER,
            audiences: audiences.then_some(AUDIENCES),
            now: NOW,
            skew,
            allow_expired,
            require_iat,
        };
        if check_claims(&claims, &rules).is_err() {
            return Ok(());
        }
        prop_assert_eq!(claims.get("iss"), Some(&Value::from(ISSUER)));
        if audiences {
            let aud = claims.get("aud");
            let named = match aud {
                Some(Value::String(a)) => AUDIENCES.contains(&a.as_str()),
                Some(Value::Array(a)) => a.iter().any(|a| a.as_str().is_some_and(|a| AUDIENCES.contains(&a))),
                _ => false,
            };
            prop_assert!(named, "aud {:?}", aud);
        }
        let exp = seconds(&claims, "exp");
        prop_assert!(exp.is_some(), "exp {:?}", claims.get("exp"));
        if !allow_expired {
            prop_assert!(exp.unwrap() > (NOW - skew) as f64, "exp {:?}", exp);
        }
        let soon = (NOW + skew + 1) as f64;
        for name in ["nbf", "iat"] {
            match claims.get(name) {
                None => prop_assert!(!(name == "iat" && require_iat)),
                Some(v) => prop_assert!(v.as_f64().is_some_and(|t| t < soon), "{} {:?}", name, v),
            }
        }
    }
}
