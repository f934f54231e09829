//! Signing keys from the outside: rotation seen by a relying party, retired
//! and revoked keys, several instances on one database, forged tokens, and
//! verification under load while keys rotate.

use std::process::{Child, Command};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use latchkey_core::admin::{AdminError, NewClient};
use latchkey_core::Latchkey;
use latchkey_domain::keys::{KeyState, SigningAlg};
use latchkey_domain::{Clock, KeyRepository, Kid, MockClock};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, TokenResponse,
};
use serde_json::{json, Value};

use crate::support::*;

/// A test server whose background key check stays out of the way: each
/// test ticks the key service itself, after moving the mock clock.
async fn spawn_app(algorithms: &[&str]) -> TestApp {
    let algorithms: Vec<SigningAlg> = algorithms
        .iter()
        .map(|a| SigningAlg::parse(a).expect("a known algorithm"))
        .collect();
    TestApp::spawn_with(move |c| {
        c.keys.algorithms = algorithms;
        c.keys.check_interval = 600;
    })
    .await
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    part(token, 0)["kid"].as_str().unwrap().to_owned()
}

async fn jwks(app: &TestApp) -> Value {
    api()
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn kids(jwks: &Value) -> Vec<Kid> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Kid::new(k["kid"].as_str().unwrap()))
        .collect()
}

async fn userinfo_status(app: &TestApp, token: &str) -> u16 {
    api()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs alice in (or reuses her session) and redeems the code: the token
/// response as JSON.
async fn tokens_for(app: &TestApp, b: &reqwest::Client, client: &TestClient) -> Value {
    let (verifier, challenge) = pkce();
    let code = code_for(app, b, client, &challenge, "alice").await;
    let resp = redeem(app, client, &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn discover(app: &TestApp, http: &openidconnect::reqwest::Client) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), http)
        .await
        .expect("discovery")
}

/// One sign-in by a relying party that validates the ID token against the
/// JWKS it fetched earlier (`meta`), as a caching relying party does.
/// Returns the ID token.
async fn rp_sign_in(
    app: &TestApp,
    http: &openidconnect::reqwest::Client,
    b: &reqwest::Client,
    meta: &CoreProviderMetadata,
    web: &TestClient,
) -> CoreIdToken {
    let client = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(web.id().into()),
        Some(ClientSecret::new(web.secret().into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let back = sign_in(app, b, auth_url.as_str(), "alice").await;
    let code = param(&back, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token").clone();
    let clock = app.clock.clone();
    let v = client.id_token_verifier().set_time_fn(move || clock.now());
    id_token
        .claims(&v, &nonce)
        .expect("the ID token validates against the cached JWKS");
    id_token
}

/// Validates an ID token obtained earlier against `meta`'s JWKS.
fn rp_validate(app: &TestApp, meta: &CoreProviderMetadata, web: &TestClient, t: &CoreIdToken) {
    let client = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(web.id().into()),
        Some(ClientSecret::new(web.secret().into())),
    );
    let clock = app.clock.clone();
    let v = client.id_token_verifier().set_time_fn(move || clock.now());
    t.claims(&v, |_: Option<&Nonce>| Ok(()))
        .expect("an earlier ID token still validates");
}

fn header_kid(t: &CoreIdToken) -> String {
    kid_of(&t.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_keeps_validating_id_tokens_across_two_forced_rotations() {
    let app = spawn_app(&["RS256"]).await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let http = rp_http();
    let b = browser();

    // The relying party fetches the metadata and JWKS once, and honours the
    // JWKS Cache-Control: it fetches again only after max-age.
    let resp = api().get(app.url("/jwks")).send().await.unwrap();
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert_eq!(cache, "public, max-age=300");
    let max_age = 300;
    let mut meta = discover(&app, &http).await;
    let first = rp_sign_in(&app, &http, &b, &meta, &web).await;

    // Rotation 1: the key published ahead starts signing; the relying
    // party validates with the JWKS it already has.
    let r = app.core.signing_keys().rotate().await.unwrap();
    assert_eq!(
        (r.promoted.len(), r.retired.len(), r.created.len()),
        (1, 1, 1)
    );
    let second = rp_sign_in(&app, &http, &b, &meta, &web).await;
    assert_ne!(header_kid(&second), header_kid(&first));
    assert_eq!(header_kid(&second), r.promoted[0].as_str());

    // Its cache expires; it fetches the JWKS again.
    app.clock.advance(Duration::from_secs(max_age + 1));
    app.core.signing_keys().tick().await.unwrap();
    meta = discover(&app, &http).await;

    // Rotation 2, validated against the refreshed (now cached) JWKS.
    let r = app.core.signing_keys().rotate().await.unwrap();
    let third = rp_sign_in(&app, &http, &b, &meta, &web).await;
    assert_eq!(header_kid(&third), r.promoted[0].as_str());
    let seen = [header_kid(&first), header_kid(&second), header_kid(&third)];
    assert!(seen[0] != seen[2] && seen[1] != seen[2], "{seen:?}");
    // Tokens of the retired keys still validate against the new JWKS.
    let meta = discover(&app, &http).await;
    rp_validate(&app, &meta, &web, &first);
    rp_validate(&app, &meta, &web, &second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_retired_key_verify_until_they_expire() {
    let app = spawn_app(&["RS256"]).await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let old = tokens_for(&app, &b, &web).await;
    let access = old["access_token"].as_str().unwrap().to_owned();
    let old_kid = Kid::new(kid_of(&access));

    let r = app.core.signing_keys().rotate().await.unwrap();
    assert_eq!(r.retired, std::slice::from_ref(&old_kid));
    assert_eq!(userinfo_status(&app, &access).await, 200);
    let new = tokens_for(&app, &b, &web).await;
    assert_ne!(
        kid_of(new["access_token"].as_str().unwrap()),
        old_kid.as_str()
    );

    // Just before it expires (the token lives 300 s), with the key retired.
    app.clock.advance(Duration::from_secs(299));
    app.core.signing_keys().tick().await.unwrap();
    assert_eq!(userinfo_status(&app, &access).await, 200);
    assert!(kids(&jwks(&app).await).contains(&old_kid));

    // Expired: refused, and the key stays published until the longest
    // token it may have signed (an ID token, 600 s) has expired too, plus
    // the skew and the other instances' check interval.
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(userinfo_status(&app, &access).await, 401);
    let settings = &app.core.settings();
    let retire_for = settings.key_policy().retire_for;
    assert_eq!(retire_for, 600 + 5 + 600);
    app.clock
        .advance(Duration::from_secs(retire_for as u64 - 310));
    let r = app.core.signing_keys().tick().await.unwrap();
    assert!(r.removed.is_empty(), "removed too early: {r:?}");
    assert!(kids(&jwks(&app).await).contains(&old_kid));
    app.clock.advance(Duration::from_secs(1));
    let r = app.core.signing_keys().tick().await.unwrap();
    assert_eq!(r.removed, std::slice::from_ref(&old_kid));
    assert!(!kids(&jwks(&app).await).contains(&old_kid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_leaves_the_jwks_and_its_tokens_are_refused_at_once() {
    let app = spawn_app(&["RS256"]).await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let before = tokens_for(&app, &b, &web).await;
    let access = before["access_token"].as_str().unwrap().to_owned();
    let leaked = Kid::new(kid_of(&access));
    assert_eq!(userinfo_status(&app, &access).await, 200);
    let etag = api().get(app.url("/jwks")).send().await.unwrap().headers()["etag"].clone();

    let r = app
        .core
        .admin(Actor::CommandLine)
        .keys()
        .revoke(&leaked)
        .await
        .unwrap();
    assert_eq!(r.revoked, std::slice::from_ref(&leaked));
    // The published next key took over at once, and a successor exists.
    assert_eq!(r.promoted.len(), 1);
    assert_eq!(r.created.len(), 1);

    assert_eq!(userinfo_status(&app, &access).await, 401, "refused at once");
    let resp = api().get(app.url("/jwks")).send().await.unwrap();
    assert_ne!(resp.headers()["etag"], etag);
    let published = kids(&resp.json().await.unwrap());
    assert!(!published.contains(&leaked), "{published:?}");
    let after = tokens_for(&app, &b, &web).await;
    let access = after["access_token"].as_str().unwrap();
    assert_eq!(kid_of(access), r.promoted[0].as_str());
    assert_eq!(userinfo_status(&app, access).await, 200);

    // Revoked is final; unknown kids are named as such.
    match app
        .core
        .admin(Actor::CommandLine)
        .keys()
        .revoke(&leaked)
        .await
    {
        Err(AdminError::Invalid(m)) => assert!(m.contains("already revoked"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        app.core
            .admin(Actor::CommandLine)
            .keys()
            .revoke(&Kid::new("no-such-kid"))
            .await,
        Err(AdminError::NotFound("key"))
    ));
}

/// A compact JWS with the given header and claims, signed by `sign`.
fn forge(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn hs256(key: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        use openssl::sign::Signer;
        let pkey = openssl::pkey::PKey::hmac(key).unwrap();
        let mut s = Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        s.update(input).unwrap();
        s.sign_to_vec().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_access_tokens_are_refused_at_userinfo() {
    let app = spawn_app(&["RS256"]).await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let real = tokens_for(&app, &b, &web).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        userinfo_status(&app, &real).await,
        200,
        "the control passes"
    );
    let header = part(&real, 0);
    let claims = part(&real, 1);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let jwks = jwks(&app).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();

    // The attacker's own RSA key.
    let attacker =
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let rs256 = |input: &[u8]| {
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &attacker).unwrap();
        s.update(input).unwrap();
        s.sign_to_vec().unwrap()
    };
    // The server's public key as PEM, the other classic HMAC secret.
    let n = openssl::bn::BigNum::from_slice(
        &URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let e = openssl::bn::BigNum::from_slice(
        &URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let public_pem = openssl::rsa::Rsa::from_public_components(n, e)
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    let jwk_text = jwk.to_string();

    let with = |extra: Value| {
        let mut h = header.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        h
    };
    let mut more = claims.clone();
    more["scope"] = json!("openid profile email admin");
    let mut payload_tampered: Vec<&str> = real.split('.').collect();
    let tampered_claims = b64(more.to_string().as_bytes());
    payload_tampered[1] = &tampered_claims;

    let forged = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(with(json!({"alg": "none"})).to_string().as_bytes()),
                b64(claims.to_string().as_bytes())
            ),
        ),
        (
            "HS256 keyed with the public JWK",
            forge(
                &with(json!({"alg": "HS256"})),
                &claims,
                hs256(jwk_text.as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the public PEM",
            forge(&with(json!({"alg": "HS256"})), &claims, hs256(&public_pem)),
        ),
        (
            "unknown kid",
            forge(&with(json!({"kid": "attacker-key"})), &claims, rs256),
        ),
        (
            "jku pointing elsewhere",
            forge(
                &with(json!({"jku": "https://attacker.example/jwks.json"})),
                &claims,
                rs256,
            ),
        ),
        (
            "unknown kid with jku",
            forge(
                &with(json!({"kid": "k1", "jku": "https://attacker.example/jwks.json"})),
                &claims,
                rs256,
            ),
        ),
        ("tampered payload", payload_tampered.join(".")),
    ];
    for (what, token) in &forged {
        assert_eq!(
            userinfo_status(&app, token).await,
            401,
            "{what} was accepted"
        );
    }

    // Expired (300 s lifetime, 5 s skew): accepted within the skew only.
    app.clock.advance(Duration::from_secs(304));
    assert_eq!(userinfo_status(&app, &real).await, 200, "within the skew");
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(userinfo_status(&app, &real).await, 401, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_algorithms_are_what_discovery_lists_and_clients_choose_among() {
    let app = spawn_app(&["ES256", "RS256", "EdDSA"]).await;
    app.add_user("alice").await;
    let meta: Value = api()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256", "EdDSA"])
    );
    // A current and a next key per algorithm.
    let published = jwks(&app).await;
    let mut algs: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "ES256", "EdDSA", "EdDSA", "RS256", "RS256"]);

    let new = |alg: Option<&str>| NewClient {
        name: "Web".into(),
        redirect_uris: vec![REDIRECT.into()],
        id_token_alg: alg.map(|a| latchkey_domain::keys::SigningAlg::parse(a).unwrap()),
        ..NewClient::default()
    };
    match app
        .core
        .admin(Actor::CommandLine)
        .clients()
        .create(new(Some("PS256")))
        .await
    {
        Err(AdminError::Invalid(m)) => assert!(m.contains("not enabled"), "{m}"),
        other => panic!("{:?}", other.map(|(c, _)| c)),
    }
    let b = browser();
    let http = rp_http();
    let provider = discover(&app, &http).await;
    for (alg, rp_alg, expected) in [
        (Some("EdDSA"), CoreJwsSigningAlgorithm::EdDsa, "EdDSA"),
        (
            Some("ES256"),
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            "ES256",
        ),
        // The OIDC default.
        (None, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, "RS256"),
    ] {
        let client = app.add_client(new(alg)).await;
        assert_eq!(
            client
                .client
                .id_token_signed_response_alg
                .map(|a| a.as_str()),
            alg,
            "stored"
        );
        let tokens = tokens_for(&app, &b, &client).await;
        // Access tokens: the first enabled algorithm, whatever the client.
        assert_eq!(
            part(tokens["access_token"].as_str().unwrap(), 0)["alg"],
            "ES256"
        );
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(part(id_token, 0)["alg"], expected);
        // A relying party that accepts only its registered algorithm
        // validates it, at_hash included.
        let rp = CoreClient::from_provider_metadata(
            provider.clone(),
            ClientId::new(client.id().into()),
            Some(ClientSecret::new(client.secret().into())),
        );
        let clock = app.clock.clone();
        let v = rp
            .id_token_verifier()
            .set_allowed_algs([rp_alg])
            .set_time_fn(move || clock.now());
        let parsed = CoreIdToken::from_str(id_token).unwrap();
        let claims = parsed
            .claims(&v, &Nonce::new("no-456".into()))
            .unwrap_or_else(|e| panic!("{expected}: {e}"));
        let access =
            openidconnect::AccessToken::new(tokens["access_token"].as_str().unwrap().to_owned());
        let expected_hash = openidconnect::AccessTokenHash::from_token(
            &access,
            parsed.signing_alg().unwrap(),
            parsed.signing_key(&v).unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims.access_token_hash(),
            Some(&expected_hash),
            "{expected}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_hint_may_be_expired_but_not_forged() {
    let app = spawn_app(&["RS256"]).await;
    let user = app.add_user("alice").await;
    let web = app.web_client().await;
    let b = browser();
    let tokens = tokens_for(&app, &b, &web).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let hint = app
        .core
        .signing_keys()
        .verify_id_token_hint(&id_token)
        .unwrap();
    assert_eq!(
        (hint.sub.as_str(), hint.aud.as_str()),
        (user.id.as_str(), web.id())
    );

    // Expired (600 s lifetime), and its key retired: still a good hint.
    app.core.signing_keys().rotate().await.unwrap();
    app.clock.advance(Duration::from_secs(700));
    app.core.signing_keys().tick().await.unwrap();
    let hint = app
        .core
        .signing_keys()
        .verify_id_token_hint(&id_token)
        .unwrap();
    assert!(hint.exp < app.clock.unix());

    // Tampered, unsigned, or an access token: refused.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    let mut claims = part(&id_token, 1);
    claims["sub"] = json!("mallory");
    parts[1] = b64(claims.to_string().as_bytes());
    assert!(app
        .core
        .signing_keys()
        .verify_id_token_hint(&parts.join("."))
        .is_err());
    let mut header = part(&id_token, 0);
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(part(&id_token, 1).to_string().as_bytes())
    );
    assert!(app
        .core
        .signing_keys()
        .verify_id_token_hint(&unsigned)
        .is_err());
    let access = tokens["access_token"].as_str().unwrap();
    assert!(app
        .core
        .signing_keys()
        .verify_id_token_hint(access)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_rotating_at_once_create_exactly_one_key() {
    const N: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    // Two algorithms: two keys to race for at each step.
    config.keys.algorithms = vec![SigningAlg::ES256, SigningAlg::RS256];
    #[allow(clippy::disallowed_methods)]
    let clock = Arc::new(MockClock::new(Utc::now()));
    // The schema first, so only the key service races.
    latchkey::open_store(&config)
        .await
        .unwrap()
        .migrate()
        .await
        .unwrap();

    // N instances start at once on an empty database.
    let builds = (0..N).map(|_| {
        let config = config.clone();
        let clock: Arc<dyn Clock> = clock.clone();
        tokio::spawn(async move { latchkey::build_core(&config, clock).await.unwrap() })
    });
    let mut cores: Vec<Arc<Latchkey>> = Vec::new();
    for b in builds {
        cores.push(Arc::new(b.await.unwrap()));
    }
    let stored = cores[0].signing_keys().list().await.unwrap();
    let count = |state: KeyState| stored.iter().filter(|k| k.state == state).count();
    assert_eq!(
        (
            stored.len(),
            count(KeyState::Current),
            count(KeyState::Next)
        ),
        (4, 2, 2),
        "one current and one next key per algorithm: {stored:?}"
    );

    // The rotation falls due for every instance at the same moment.
    let next_at = stored
        .iter()
        .filter(|k| k.state == KeyState::Next)
        .map(|k| k.activates_at)
        .max()
        .unwrap();
    let wait = next_at - clock.unix();
    clock.advance(Duration::from_secs(wait as u64));
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let ticks: Vec<_> = cores
        .iter()
        .map(|core| {
            let (core, barrier) = (core.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                core.signing_keys().tick().await.unwrap()
            })
        })
        .collect();
    let mut reports = Vec::new();
    for t in ticks {
        reports.push(t.await.unwrap());
    }
    let created: usize = reports.iter().map(|r| r.created.len()).sum();
    let promoted: usize = reports.iter().map(|r| r.promoted.len()).sum();
    let lost: u32 = reports.iter().map(|r| r.lost_races).sum();
    assert_eq!((promoted, created), (2, 2), "{reports:?}");
    let stored = cores[0].signing_keys().list().await.unwrap();
    let count = |state: KeyState| stored.iter().filter(|k| k.state == state).count();
    assert_eq!(
        (
            stored.len(),
            count(KeyState::Current),
            count(KeyState::Next)
        ),
        (6, 2, 2),
        "{stored:?}"
    );
    println!("{N} instances rotated together: {lost} lost races, one new key per algorithm");

    // Every instance publishes the same key set.
    for core in &cores {
        core.signing_keys().reload().await.unwrap();
    }
    let first = cores[0].jwks().published().0;
    for core in &cores[1..] {
        assert_eq!(core.jwks().published().0.etag, first.etag);
    }
}

fn latchkey_bin(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.current_dir(dir)
        .env_remove("LATCHKEY_ISSUER")
        .env_remove("LATCHKEY_BIND")
        .env_remove("LATCHKEY_DATABASE_URL");
    c
}

/// Stops a server started by this test, by its PID.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn keys_json(dir: &std::path::Path) -> Vec<Value> {
    let out = latchkey_bin(dir)
        .args(["keys", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_database_rotate_together() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey_bin(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Fast rotation in real time: a key is published 3 s before it signs
    // and signs for 6 s; instances check every second.
    let start = || {
        let mut serve = latchkey_bin(dir.path());
        serve
            .env("LATCHKEY_MIGRATE_ON_START", "false")
            .env("LATCHKEY_KEYS__ROTATION_PERIOD", "6")
            .env("LATCHKEY_KEYS__PROPAGATION", "3")
            .env("LATCHKEY_KEYS__JWKS_MAX_AGE", "1")
            .env("LATCHKEY_KEYS__CHECK_INTERVAL", "1")
            .args(["serve"]);
        crate::support::Serving::spawn(serve, None)
    };
    // Both start at once on a database without keys.
    let (a, b) = (start(), start());
    let (pa, pb) = (a.listening().1, b.listening().1);
    let servers = [Server(a.child), Server(b.child)];
    let http = reqwest::Client::new();
    let fetch = |port: u16| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("http://127.0.0.1:{port}/jwks"))
                .send()
                .await
                .ok()?;
            let etag = r.headers().get("etag")?.to_str().ok()?.to_owned();
            Some((etag, r.json::<Value>().await.ok()?))
        }
    };
    for port in [pa, pb] {
        let mut up = false;
        for _ in 0..200 {
            if fetch(port).await.is_some() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(up, "server on {port} did not start");
    }

    // Read the keys straight from the database: the command line would
    // take part in the rotation itself.
    let mut db = test_config(dir.path());
    db.storage.database_url = format!("sqlite://{}/data/latchkey.db", dir.path().display());
    db.storage.migrate_on_start = false;
    let store = latchkey::open_store(&db).await.unwrap();

    // Wait through at least one rotation.
    let mut rotated = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let keys = store.list_keys().await.unwrap();
        if keys.iter().any(|k| k.state == KeyState::Retired) {
            rotated = true;
            break;
        }
    }
    assert!(rotated, "no rotation happened");

    // Both publish the same JWKS, with the retired key (each picks up the
    // other's changes within its check interval).
    let mut same = None;
    for _ in 0..100 {
        let (a, b) = (fetch(pa).await.unwrap(), fetch(pb).await.unwrap());
        if a.0 == b.0 && a.1["keys"].as_array().unwrap().len() >= 3 {
            same = Some(a.1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    same.expect("both servers publish the same JWKS, rotation included");
    drop(servers);

    // Exactly one key per step: one current, one next, and every other key
    // was current once (none was created twice and left unused).
    let keys = store.list_keys().await.unwrap();
    let state = |s: KeyState| keys.iter().filter(|k| k.state == s).count();
    assert_eq!(
        (state(KeyState::Current), state(KeyState::Next)),
        (1, 1),
        "{keys:#?}"
    );
    for k in &keys {
        if matches!(k.state, KeyState::Retired | KeyState::Removed) {
            assert!(k.retired_at.is_some(), "a key that never signed: {k:?}");
        }
    }
    let mut activations: Vec<i64> = keys
        .iter()
        .filter(|k| k.state != KeyState::Next)
        .map(|k| k.activates_at)
        .collect();
    activations.sort_unstable();
    activations.dedup();
    assert_eq!(
        activations.len(),
        keys.len() - 1,
        "two keys started signing at once: {keys:#?}"
    );
}

#[test]
fn keys_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_json(dir.path());
    assert_eq!(
        keys.len(),
        2,
        "first use creates the first key and its successor"
    );
    assert!(keys
        .iter()
        .all(|k| k.get("encrypted_private_key").is_none()));
    assert!(keys.iter().all(|k| k["public_jwk"].get("d").is_none()));
    let current = keys.iter().find(|k| k["state"] == "current").unwrap();
    let next = keys.iter().find(|k| k["state"] == "next").unwrap();

    let out = latchkey_bin(dir.path())
        .args(["keys", "rotate", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["promoted"], json!([next["kid"]]));
    assert_eq!(report["retired"], json!([current["kid"]]));
    assert_eq!(report["created"].as_array().unwrap().len(), 1);

    let kid = next["kid"].as_str().unwrap();
    let out = latchkey_bin(dir.path())
        .args(["keys", "revoke", kid])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("revoked {kid}")));
    let keys = keys_json(dir.path());
    let state_of = |kid: &str| {
        keys.iter().find(|k| k["kid"] == kid).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state_of(kid), "revoked");
    assert_eq!(keys.iter().filter(|k| k["state"] == "current").count(), 1);

    for (args, needle) in [
        (vec!["keys", "revoke", kid], "already revoked"),
        (vec!["keys", "revoke", "nope"], "not found"),
    ] {
        let out = latchkey_bin(dir.path()).args(&args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    }

    // A missing KEK while keys exist: an error naming the file, and no new
    // KEK or key.
    std::fs::remove_file(dir.path().join("keys/kek")).unwrap();
    let out = latchkey_bin(dir.path())
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("keys/kek"), "{err}");
    assert!(!dir.path().join("keys/kek").exists());
    // The wrong KEK: the same, and the keys are left as they were.
    std::fs::write(
        dir.path().join("keys/kek"),
        format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        ),
    )
    .unwrap();
    let out = latchkey_bin(dir.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert!(
        err.contains("keys/kek") && err.contains("does not match"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_under_load_fails_no_verification() {
    const ROTATIONS: usize = 6;
    let app = Arc::new(spawn_app(&["RS256", "ES256"]).await);
    app.add_user("alice").await;
    let machine = Arc::new(app.machine_client().await);
    let web = Arc::new(app.web_client().await);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counts = Arc::new(std::sync::Mutex::new((0u64, 0u64, Vec::<String>::new())));

    let mut workers = Vec::new();
    // Machine clients: a token, then /userinfo and /introspect. A verified
    // token without `openid` gets 403 insufficient_scope at userinfo (a
    // failed verification is 401) and is active at introspection.
    for _ in 0..3 {
        let (app, machine, stop, counts) =
            (app.clone(), machine.clone(), stop.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            let http = api();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = http
                    .post(app.url("/token"))
                    .basic_auth(machine.id(), Some(machine.secret()))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap();
                let refused = {
                    let mut c = counts.lock().unwrap();
                    c.0 += 1;
                    if status != 200 {
                        c.2.push(format!("token request: {status} {body}"));
                    }
                    status != 200
                };
                if refused {
                    continue;
                }
                let token = body["access_token"].as_str().unwrap().to_owned();
                let status = userinfo_status(&app, &token).await;
                // And the same token at introspection (the resource
                // server's view): it must be active.
                let active = http
                    .post(app.url("/introspect"))
                    .basic_auth(machine.id(), Some(machine.secret()))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()["active"]
                    == true;
                let mut c = counts.lock().unwrap();
                c.1 += 2;
                if status != 403 {
                    c.2.push(format!(
                        "userinfo: {status} for a token of {}",
                        kid_of(&token)
                    ));
                }
                if !active {
                    c.2.push(format!(
                        "introspection: inactive token of {}",
                        kid_of(&token)
                    ));
                }
            }
        }));
    }
    // A user: code flow, then /userinfo with an openid token.
    {
        let (app, web, stop, counts) = (app.clone(), web.clone(), stop.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            let b = browser();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tokens = tokens_for(&app, &b, &web).await;
                let token = tokens["access_token"].as_str().unwrap().to_owned();
                let status = userinfo_status(&app, &token).await;
                let mut c = counts.lock().unwrap();
                c.0 += 1;
                c.1 += 1;
                if status != 200 {
                    c.2.push(format!(
                        "userinfo: {status} for a token of {}",
                        kid_of(&token)
                    ));
                }
            }
        }));
    }

    let mut kids_used = std::collections::HashSet::new();
    for _ in 0..ROTATIONS {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = app.core.signing_keys().rotate().await.unwrap();
        kids_used.extend(r.promoted);
        app.core.signing_keys().tick().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (tokens, verifications, failures) = counts.lock().unwrap().clone();
    println!(
        "rotation under load: {ROTATIONS} forced rotations ({} keys promoted), {tokens} token \
         requests, {verifications} userinfo and introspection verifications, {} failed verifications",
        kids_used.len(),
        failures.len()
    );
    assert!(
        verifications >= 20,
        "too little load to mean anything: {verifications}"
    );
    assert_eq!(
        kids_used.len(),
        ROTATIONS * 2,
        "each rotation promoted a key per algorithm"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
