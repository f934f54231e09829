//! Property tests for the JWS verifiers that read attacker input: the
//! [`KeySet`] that verifies Latchkey's own tokens (access tokens,
//! `id_token_hint`) and [`verify_with_jwks`] for client assertions against
//! a client's JWK Set. Whatever the token and whatever the key set,
//! nothing panics, and nothing is accepted unless a registered private key
//! signed it; what a registered key did sign is accepted, whatever else
//! its header says.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsSigner, HS256};
use latchkey_domain::keys::{KeyError, KeyState, TokenSigner};
use latchkey_domain::Kid;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use crate::generate::{generate_signing_key, signer_from_pem, Alg};
use crate::{seal_new_key, verify_with_jwks, Kek, KeySet};

/// A key pair and what its owner publishes.
struct Party {
    alg: Alg,
    kid: String,
    signer: Box<dyn JwsSigner>,
    jwk: Map<String, Value>,
    pem: Vec<u8>,
}

struct Fixture {
    /// Latchkey's own key set: one current key per algorithm.
    set: KeySet,
    /// The private halves of the keys in `set` (also used as clients' keys).
    ours: Vec<Party>,
    /// Keys no one registered, one per algorithm, each claiming the `kid`
    /// of the registered key of its algorithm.
    strangers: Vec<Party>,
}

fn party(alg: Alg, kid: &str, pem: Vec<u8>, jwk: &str) -> Party {
    Party {
        alg,
        kid: kid.to_owned(),
        signer: signer_from_pem(alg, kid, &pem).unwrap(),
        jwk: serde_json::from_str(jwk).unwrap(),
        pem,
    }
}

/// Key generation is slow (RSA): once per test binary.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let kek = Kek::from_bytes([7; 32]);
        let records: Vec<_> = Alg::ALL
            .iter()
            .map(|&alg| {
                let kid = format!("kid-{}", alg.as_str());
                seal_new_key(&kek, alg, Kid::new(kid), 0, 0, KeyState::Current).unwrap()
            })
            .collect();
        let ours = records
            .iter()
            .zip(Alg::ALL)
            .map(|(r, alg)| {
                let pem = kek
                    .decrypt(&r.encrypted_private_key, r.kid.as_str().as_bytes())
                    .unwrap();
                party(alg, r.kid.as_str(), pem, &r.public_jwk)
            })
            .collect();
        let strangers = Alg::ALL
            .iter()
            .map(|&alg| {
                let kid = format!("kid-{}", alg.as_str());
                let key = generate_signing_key(alg, &kid).unwrap();
                party(alg, &kid, key.private_pem, &key.public_jwk)
            })
            .collect();
        Fixture {
            set: KeySet::from_records(&records, &kek).unwrap(),
            ours,
            strangers,
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn compact(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(payload), b64(signature))
}

/// Signs `header.payload` (both as given, not re-serialised).
fn signed(signer: &dyn JwsSigner, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

/// JSON of every shape, nested a few levels; with `floats`, numbers that
/// may not survive a text round trip exactly.
fn json(floats: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(move |f| if floats { Value::from(f) } else { Value::Null }),
        "\\PC{0,20}".prop_map(Value::String),
        (8000..9000usize).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const ALGS: &[&str] = &[
    "RS256", "PS256", "ES256", "EdDSA", "none", "None", "NONE", "HS256", "HS512", "RS384", "ES384",
    "es256", "",
];

/// A JOSE header an attacker might send: any `alg`, a registered, unknown
/// or malformed `kid`, and the members that name keys or change the rules
/// (`jwk`, `jku`, `x5u`, `x5c`, `crit`, `b64`), with values of any type.
fn hostile_header() -> impl Strategy<Value = Map<String, Value>> {
    let f = fixture();
    let kids: Vec<String> = f
        .ours
        .iter()
        .map(|p| p.kid.clone())
        .chain(["elsewhere".to_owned(), String::new()])
        .collect();
    let stranger_jwks: Vec<Value> = f
        .strangers
        .iter()
        .map(|p| Value::Object(p.jwk.clone()))
        .collect();
    let member = |name: &'static str, value: BoxedStrategy<Value>| {
        proptest::option::of(prop_oneof![3 => value, 1 => json(true)])
            .prop_map(move |v| v.map(|v| (name, v)))
            .boxed()
    };
    (
        member("alg", select(ALGS).prop_map(Value::from).boxed()),
        member("kid", select(kids).prop_map(Value::from).boxed()),
        member(
            "typ",
            select(vec!["JWT", "at+jwt", "logout+jwt"])
                .prop_map(Value::from)
                .boxed(),
        ),
        member("jwk", select(stranger_jwks).boxed()),
        member(
            "jku",
            Just(Value::from("https://attacker.example/jwks")).boxed(),
        ),
        member(
            "x5u",
            Just(Value::from("https://attacker.example/cert")).boxed(),
        ),
        member("crit", Just(serde_json::json!(["exp"])).boxed()),
        member("b64", Just(Value::Bool(false)).boxed()),
        btree_map("\\PC{1,8}", json(true), 0..3),
    )
        .prop_map(|(alg, kid, typ, jwk, jku, x5u, crit, b64, extra)| {
            let mut header: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in [alg, kid, typ, jwk, jku, x5u, crit, b64]
                .into_iter()
                .flatten()
            {
                header.insert(name.to_owned(), value);
            }
            header
        })
}

/// How a forger might sign: not at all, with noise, with a key no one
/// registered, with HMAC keyed by public material, or by moving a genuine
/// signature onto other content.
#[derive(Debug, Clone)]
enum Forgery {
    Empty,
    Noise(Vec<u8>),
    Stranger(usize),
    HmacWithPublic { key: usize, material: usize },
    MovedSignature(usize),
}

fn forgery() -> impl Strategy<Value = Forgery> {
    let n = Alg::ALL.len();
    prop_oneof![
        Just(Forgery::Empty),
        vec(any::<u8>(), 0..600).prop_map(Forgery::Noise),
        (0..n).prop_map(Forgery::Stranger),
        (0..n, 0..3usize).prop_map(|(key, material)| Forgery::HmacWithPublic { key, material }),
        (0..n).prop_map(Forgery::MovedSignature),
    ]
}

fn forge(forgery: &Forgery, header: &[u8], payload: &[u8]) -> String {
    let f = fixture();
    match forgery {
        Forgery::Empty => compact(header, payload, b""),
        Forgery::Noise(bytes) => compact(header, payload, bytes),
        Forgery::Stranger(i) => signed(f.strangers[*i].signer.as_ref(), header, payload),
        Forgery::HmacWithPublic { key, material } => {
            let public = &f.ours[*key];
            let secret = match material {
                0 => Value::Object(public.jwk.clone()).to_string().into_bytes(),
                1 => f.set.jwks().body.to_vec(),
                _ => public.pem.clone(),
            };
            signed(&HS256.signer_from_bytes(&secret).unwrap(), header, payload)
        }
        Forgery::MovedSignature(i) => {
            // A genuine signature, over the same header and other content.
            let other = [payload, b" "].concat();
            let genuine = signed(f.ours[*i].signer.as_ref(), header, &other);
            let signature = genuine.rsplit('.').next().unwrap();
            format!("{}.{}.{signature}", b64(header), b64(payload))
        }
    }
}

/// Header members no JOSE specification registers: anything may sit there
/// without changing how the token is read.
fn harmless_members() -> impl Strategy<Value = Map<String, Value>> {
    btree_map("ext_[a-z]{0,6}", json(true), 0..4).prop_map(|m| m.into_iter().collect())
}

/// A claim set that survives a JSON round trip exactly.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    btree_map("\\PC{0,8}", json(false), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A genuine token of `p` with the given header members added.
fn genuine(p: &Party, extra: &Map<String, Value>, payload: &[u8], with_kid: bool) -> String {
    let mut header = extra.clone();
    header.insert("alg".into(), p.alg.as_str().into());
    if with_kid {
        header.insert("kid".into(), p.kid.clone().into());
    }
    signed(
        p.signer.as_ref(),
        &serde_json::to_vec(&header).unwrap(),
        payload,
    )
}

/// Flips one bit of one decoded part of a compact JWS.
fn tampered(token: &str, part: usize, bit: usize) -> String {
    let mut parts: Vec<Vec<u8>> = token
        .split('.')
        .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
        .collect();
    let bytes = &mut parts[part % 3];
    if bytes.is_empty() {
        bytes.push(0);
    } else {
        let len = bytes.len();
        bytes[(bit / 8) % len] ^= 1 << (bit % 8);
    }
    compact(&parts[0], &parts[1], &parts[2])
}

/// JWK-shaped objects: types, curves, algorithms, uses and key members of
/// every kind, registered `kid`s included, with arbitrary values.
fn junk_jwk() -> impl Strategy<Value = Value> {
    let text = |values: Vec<&'static str>| prop_oneof![4 => select(values).prop_map(Value::from), 1 => json(true)];
    let bytes = |max: usize| vec(any::<u8>(), 0..max).prop_map(|b| Value::from(b64(&b)));
    (
        text(vec!["RSA", "EC", "OKP", "oct", ""]),
        text(vec![
            "kid-RS256",
            "kid-PS256",
            "kid-ES256",
            "kid-EdDSA",
            "other",
        ]),
        proptest::option::of(text(vec![
            "RS256", "PS256", "ES256", "EdDSA", "HS256", "none",
        ])),
        proptest::option::of(text(vec!["sig", "enc"])),
        proptest::option::of(text(vec!["P-256", "Ed25519", "X25519", "secp256k1"])),
        bytes(600),
        proptest::option::of(bytes(9)),
        bytes(40),
        bytes(40),
    )
        .prop_map(|(kty, kid, alg, use_, crv, n, e, x, y)| {
            let mut jwk = Map::new();
            jwk.insert("kty".into(), kty);
            jwk.insert("kid".into(), kid);
            for (name, v) in [("alg", alg), ("use", use_), ("crv", crv), ("e", e)] {
                if let Some(v) = v {
                    jwk.insert(name.into(), v);
                }
            }
            for (name, v) in [("n", n), ("x", x), ("y", y)] {
                jwk.insert(name.into(), v);
            }
            Value::Object(jwk)
        })
}

/// A JWK of the type and curve `alg` needs, with key members of random
/// bytes (RSA moduli and exponents of any size, points off the curve).
fn fitting_jwk(alg: Alg) -> impl Strategy<Value = Value> {
    let bytes = |min: usize, max: usize| vec(any::<u8>(), min..max).prop_map(|b| b64(&b));
    (
        bytes(200, 600),
        bytes(0, 9),
        bytes(0, 40),
        bytes(0, 40),
        any::<bool>(),
    )
        .prop_map(move |(n, e, x, y, named)| {
            let mut jwk = match alg {
                Alg::RS256 | Alg::PS256 => serde_json::json!({ "kty": "RSA", "n": n, "e": e }),
                Alg::ES256 => serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }),
                Alg::EdDSA => serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
            };
            jwk["kid"] = "k".into();
            if named {
                jwk["alg"] = alg.as_str().into();
            }
            jwk
        })
}

/// A registered key altered the way a careless or hostile registrant
/// might: another `kid`, `alg`, `use`, `crv` or `key_ops`, a member gone.
fn altered(jwk: &Map<String, Value>, how: u8, value: &Value) -> Value {
    let mut jwk = jwk.clone();
    match how % 6 {
        0 => jwk.insert("kid".into(), value.clone()),
        1 => jwk.insert("alg".into(), value.clone()),
        2 => jwk.insert("use".into(), value.clone()),
        3 => jwk.insert("crv".into(), value.clone()),
        4 => jwk.insert("key_ops".into(), value.clone()),
        _ => {
            let member = ["n", "e", "x", "y"][usize::from(how) % 4];
            jwk.remove(member)
        }
    };
    Value::Object(jwk)
}

fn jwks_text(keys: Vec<Value>) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

/// The algorithms a client may use: usually all of them.
fn allowed() -> impl Strategy<Value = Vec<Alg>> {
    prop_oneof![
        3 => Just(Alg::ALL.to_vec()),
        1 => proptest::sample::subsequence(Alg::ALL.to_vec(), 0..=Alg::ALL.len()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_verifies(
        token in prop_oneof![
            "(?s).{0,200}",
            "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,400}",
            (json(true), json(true), vec(any::<u8>(), 0..300)).prop_map(|(h, p, s)| {
                compact(h.to_string().as_bytes(), p.to_string().as_bytes(), &s)
            }),
        ],
        typ in proptest::option::of(select(vec!["JWT", "at+jwt"])),
        jwks in prop_oneof!["(?s).{0,40}", vec(junk_jwk(), 0..4).prop_map(jwks_text)],
        allowed in allowed(),
    ) {
        prop_assert!(fixture().set.verify(&token, typ).is_err());
        prop_assert!(verify_with_jwks(&token, &jwks, &allowed).is_err());
    }

    #[test]
    fn a_token_no_registered_key_signed_never_verifies(
        header in hostile_header(),
        payload in prop_oneof![
            claims().prop_map(|c| serde_json::to_vec(&c).unwrap()),
            vec(any::<u8>(), 0..100),
        ],
        forgery in forgery(),
        typ in proptest::option::of(select(vec!["JWT", "at+jwt"])),
    ) {
        let f = fixture();
        let header = serde_json::to_vec(&header).unwrap();
        let token = forge(&forgery, &header, &payload);
        let result = f.set.verify(&token, typ);
        prop_assert!(result.is_err(), "{:?} accepted: {}", forgery, token);
        // The same forgeries as client assertions, against a JWK Set of
        // every registered key.
        let registered = jwks_text(f.ours.iter().map(|p| Value::Object(p.jwk.clone())).collect());
        let result = verify_with_jwks(&token, &registered, &Alg::ALL);
        prop_assert!(result.is_err(), "{:?} accepted: {}", forgery, token);
    }

    #[test]
    fn a_genuine_token_verifies_whatever_else_its_header_says(
        which in 0..Alg::ALL.len(),
        extra in harmless_members(),
        claims in claims(),
        part in 0usize..3,
        bit in any::<usize>(),
    ) {
        let f = fixture();
        let p = &f.ours[which];
        let token = genuine(p, &extra, &serde_json::to_vec(&claims).unwrap(), true);
        prop_assert_eq!(f.set.verify(&token, None).ok(), Some(claims));
        let forged = tampered(&token, part, bit);
        prop_assert!(f.set.verify(&forged, None).is_err(), "{}", forged);
    }

    #[test]
    fn only_a_json_object_is_a_claim_set(which in 0..Alg::ALL.len(), payload in json(true)) {
        let f = fixture();
        let token = genuine(&f.ours[which], &Map::new(), payload.to_string().as_bytes(), true);
        let result = f.set.verify(&token, None);
        prop_assert_eq!(result.is_ok(), payload.is_object());
        if !payload.is_object() {
            prop_assert!(matches!(result, Err(KeyError::Malformed(_))));
        }
    }

    #[test]
    fn a_client_assertion_verifies_only_with_the_clients_own_key(
        which in 0..Alg::ALL.len(),
        extra in harmless_members(),
        claims in claims(),
        with_kid in any::<bool>(),
        junk in vec(junk_jwk(), 0..4),
        alterations in vec((any::<u8>(), json(true)), 0..3),
        allowed in allowed(),
        forgery in forgery(),
    ) {
        let f = fixture();
        let client = &f.ours[which];
        let payload = serde_json::to_vec(&claims).unwrap();
        // The client's key set: its key, altered copies, and junk whose kid
        // is never the client's own.
        let mut keys: Vec<Value> = junk
            .into_iter()
            .filter(|k| k["kid"] != client.kid.as_str())
            .collect();
        keys.extend(alterations.iter().map(|(how, v)| altered(&client.jwk, *how, v)));
        keys.push(Value::Object(client.jwk.clone()));
        let jwks = jwks_text(keys);

        let token = genuine(client, &extra, &payload, with_kid);
        match verify_with_jwks(&token, &jwks, &allowed) {
            Ok(got) => {
                prop_assert_eq!(got, claims);
                prop_assert!(allowed.contains(&client.alg));
            }
            Err(e) => prop_assert!(
                !allowed.contains(&client.alg)
                    // Altered copies of the key may make it ambiguous.
                    || !alterations.is_empty()
                    || (!with_kid && matches!(e, KeyError::UnknownKid(_))),
                "{e}"
            ),
        }

        // Anything not signed by the client's key is refused, even by a key
        // set of the client's altered key and junk.
        let header = serde_json::to_vec(&serde_json::json!({
            "alg": client.alg.as_str(),
            "kid": client.kid,
            "jwk": Value::Object(f.strangers[which].jwk.clone()),
            "jku": "https://attacker.example/jwks",
        }))
        .unwrap();
        let forged = forge(&forgery, &header, &payload);
        prop_assert!(verify_with_jwks(&forged, &jwks, &Alg::ALL).is_err(), "{:?}", forgery);
        let forged = genuine(&f.strangers[which], &extra, &payload, with_kid);
        prop_assert!(verify_with_jwks(&forged, &jwks, &Alg::ALL).is_err());
    }

    #[test]
    fn arbitrary_key_material_is_refused_without_panicking(
        (alg, jwk) in prop_oneof![
            (select(Alg::ALL.to_vec()), junk_jwk()),
            select(Alg::ALL.to_vec()).prop_flat_map(|alg| (Just(alg), fitting_jwk(alg))),
        ],
        signature in vec(any::<u8>(), 0..600),
    ) {
        let header = serde_json::json!({ "alg": alg.as_str(), "kid": jwk["kid"] });
        let token = compact(header.to_string().as_bytes(), b"{}", &signature);
        prop_assert!(verify_with_jwks(&token, &jwks_text(vec![jwk]), &Alg::ALL).is_err());
    }
}
