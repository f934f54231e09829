//! Micro-benchmarks of the pieces on Latchkey's hot paths, each calling the
//! server's own code: signing and verifying access tokens (KeySet), PKCE
//! verification, redirect-URI matching, and client-secret hashing.
//!
//! `cargo bench -p latchkey-bench --bench core`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use latchkey_bench::signing::{access_token_claims, key_set};
use latchkey_core::secrets::SecretHasher;
use latchkey_domain::keys::TokenSigner;
use latchkey_domain::{AuthMethod, Client, GrantType};
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
        auth_method: AuthMethod::ClientSecretBasic,
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

criterion_group!(benches, jws, pkce, redirect_uri, client_secret);
criterion_main!(benches);
