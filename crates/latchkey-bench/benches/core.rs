//! Micro-benchmarks of the pieces on Latchkey's hot paths, each calling the
//! server's own code: signing and verifying access tokens (KeySet), PKCE
//! verification, redirect-URI matching, client-secret hashing, and the
//! revocation check (the in-memory mirror; and Redis, when
//! `LATCHKEY_BENCH_REDIS_URL` names one), and counting a request in the
//! metrics.
//!
//! `cargo bench -p latchkey-bench --bench core`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use latchkey_bench::signing::{access_token_claims, key_set};
use latchkey_core::secrets::SecretHasher;
use latchkey_domain::keys::TokenSigner;
use latchkey_domain::{Client, ClientAuthMethod, GrantType};
use latchkey_keys::Alg;
use latchkey_protocol::claims::ACCESS_TOKEN_TYP;
use latchkey_protocol::pkce::{CodeChallenge, CodeVerifier};
use latchkey_protocol::{ClientId, RedirectUri, Scope};

fn jws(c: &mut Criterion) {
    let claims = access_token_claims();
    for alg in [Alg::RS256, Alg::ES256] {
        let keys = key_set(alg).expect("a fresh key set");
        let token = keys.sign(ACCESS_TOKEN_TYP, &claims).expect("signs").token;
        c.bench_function(&format!("{} sign access token", alg.as_str()), |b| {
            b.iter(|| keys.sign(ACCESS_TOKEN_TYP, black_box(&claims)))
        });
        c.bench_function(&format!("{} verify access token", alg.as_str()), |b| {
            b.iter(|| keys.verify(black_box(&token), Some(ACCESS_TOKEN_TYP)))
        });
    }
}

fn pkce(c: &mut Criterion) {
    // RFC 7636 appendix B.
    let challenge = CodeChallenge::parse(
        Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        Some("S256"),
    )
    .expect("a valid challenge");
    let verifier =
        CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").expect("a verifier");
    c.bench_function("PKCE S256 verify", |b| {
        b.iter(|| black_box(&challenge).verify(black_box(&verifier)))
    });
}

fn redirect_uri(c: &mut Criterion) {
    let uris = [
        "https://app.example.com/callback",
        "https://app.example.com/oauth2/callback/secondary",
        "https://staging.app.example.com/callback",
        "http://127.0.0.1:3000/callback",
        "com.example.app:/oauth2redirect",
    ];
    let client = Client {
        id: ClientId::parse("bench-client").expect("a client id"),
        name: "Bench".into(),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        secret_hash: None,
        secret_expires_at: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: uris
            .iter()
            .map(|u| RedirectUri::parse(u).expect("a redirect URI"))
            .collect(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode],
        scope: Scope::parse("openid profile").expect("a scope"),
        backchannel_logout_uri: None,
        id_token_signed_response_alg: None,
        allowed_cors_origins: Vec::new(),
        introspect: false,
        pkce: Default::default(),
        nonce: Default::default(),
        require_mfa: false,
        require_par: false,
        dpop_bound: false,
        resources: Default::default(),
        fapi2: false,
        created_at: 0,
        updated_at: 0,
    };
    c.bench_function("redirect URI match (last of 5)", |b| {
        b.iter(|| client.registered_redirect_uri(black_box("com.example.app:/oauth2redirect")))
    });
    c.bench_function("redirect URI miss (5 registered)", |b| {
        b.iter(|| client.registered_redirect_uri(black_box("https://app.example.com/callback/")))
    });
}

fn client_secret(c: &mut Criterion) {
    let hasher = SecretHasher::new([7; 32]);
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
    let stored = hasher.hash(secret);
    c.bench_function("client secret verify (HMAC-SHA256)", |b| {
        b.iter(|| hasher.verify(black_box(secret), black_box(&stored)))
    });
}

/// The revocation check an access token costs on the hot path: its `jti`,
/// family and session keys against the in-memory mirror (10,000 recorded
/// revocations), and the same three keys against Redis (one EXISTS).
fn revocation_check(c: &mut Criterion) {
    use latchkey_core::revocations::RevocationMirror;
    use latchkey_domain::{RevocationCache, RevokedToken};
    let entries: Vec<RevokedToken> = (0..10_000)
        .map(|i| RevokedToken {
            key: format!("t:revoked-{i}"),
            expires_at: i64::MAX,
            revoked_at: 0,
            reason: latchkey_domain::RevokeReason::RevokedByClient,
        })
        .collect();
    let mirror = RevocationMirror::new();
    mirror.insert(&entries);
    let live = vec![
        "t:Yk3f9Qm2Lr8xWv1Tz5Ns0A".to_owned(),
        "f:family-0123456789".to_owned(),
        "s:session-0123456789".to_owned(),
    ];
    c.bench_function(
        "revocation check, in-memory mirror (3 keys, 10k revoked)",
        |b| b.iter(|| mirror.contains_any(black_box(&live))),
    );
    let Ok(url) = std::env::var("LATCHKEY_BENCH_REDIS_URL") else {
        eprintln!("revocation check via Redis: set LATCHKEY_BENCH_REDIS_URL to measure it");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cache = rt
        .block_on(latchkey_cache::RedisRevocations::connect(
            &url,
            "latchkey-bench:",
        ))
        .expect("Redis answers");
    let short: Vec<RevokedToken> = entries[..100]
        .iter()
        .map(|e| RevokedToken {
            expires_at: 600,
            ..e.clone()
        })
        .collect();
    rt.block_on(cache.publish(&short, 0)).expect("publish");
    c.bench_function(
        "revocation check, Redis EXISTS over loopback (3 keys)",
        |b| b.iter(|| rt.block_on(cache.any_revoked(black_box(&live)))),
    );
}

/// What every request now pays for being counted (a counter and a
/// histogram observation under the route's labels), and what one scrape
/// costs to write; read beside the signature figures of the same run.
fn metrics(c: &mut Criterion) {
    use latchkey_core::support::metrics::{Metrics, StateReading};
    let m = Metrics::new();
    c.bench_function("metrics: count one answered request", |b| {
        b.iter(|| m.http_request(black_box("/token"), "POST", 200, black_box(0.0012)))
    });
    for endpoint in [
        "/authorize",
        "/token",
        "/userinfo",
        "/jwks",
        "/register/{id}",
    ] {
        for status in [200, 302, 400, 401] {
            m.http_request(endpoint, "GET", status, 0.001);
        }
    }
    c.bench_function("metrics: write a scrape", |b| {
        b.iter(|| m.render(black_box(&StateReading::default())))
    });
}

criterion_group!(
    benches,
    metrics,
    jws,
    pkce,
    redirect_uri,
    client_secret,
    revocation_check
);
criterion_main!(benches);
