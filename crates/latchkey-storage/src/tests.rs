//! Every test runs against SQLite (a fresh file in a temp directory) and,
//! when reachable, Postgres (a fresh schema, dropped afterwards). Postgres
//! being unreachable fails the run when `CI=true`, and is a note otherwise.

use std::sync::Arc;
use std::time::Duration;

use latchkey_domain::keys::{KeyState, SigningKeyRecord};
use latchkey_domain::*;
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::user_claims::{ClaimNames, ClaimText, Email, UserClaim};
use latchkey_protocol::{ClientId, Nonce, RedirectUri, Scope};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};

use latchkey_migration::{Migrator, MigratorTrait};

use crate::entities::{clients, signing_keys};
use crate::{connect, PoolOptions, SeaStore};

mod attempts;
mod device;
mod pushed;
mod registration;
mod sweep;
mod tokens;

/// Runs each sweep to completion in batches of two, so every rule is also
/// run with its bound; rows changed in all.
async fn sweep_all(s: &SeaStore, sweeps: &[Sweep]) -> u64 {
    let mut total = 0;
    for sweep in sweeps {
        loop {
            let n = s.sweep_batch(sweep, 2).await.unwrap();
            assert!(n <= 2, "{sweep:?}: a batch of 2 changed {n} rows");
            total += n;
            if n < 2 {
                break;
            }
        }
    }
    total
}

/// The sweeps of expired authorization state and revocations at `now`.
fn expired_at(now: i64) -> [Sweep; 5] {
    [
        Sweep::PendingRequests { now },
        Sweep::PushedRequests { now },
        Sweep::Codes { now },
        Sweep::Revocations { now },
        Sweep::LoginChallenges { now },
    ]
}

fn sessions_before(ended_before: i64, started_before: i64) -> [Sweep; 1] {
    [Sweep::Sessions {
        ended_before,
        started_before,
    }]
}

// ---------------------------------------------------------------- harness

struct Backend {
    name: &'static str,
    store: SeaStore,
    // Dropped after `store`: removes the SQLite directory or Postgres schema.
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema { url: String, schema: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Cleanup::Schema { url, schema } = self else {
            return;
        };
        let (url, schema) = (url.clone(), schema.clone());
        // Drop cannot await; a short-lived runtime on its own thread can,
        // whichever runtime the test itself uses.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let opts = PoolOptions {
                    max_connections: 1,
                    statement_timeout: Some(Duration::from_secs(10)),
                    ..PoolOptions::default()
                };
                if let Ok(s) = connect(&url, &opts).await {
                    let _ = s
                        .db
                        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn postgres_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn random_hex() -> String {
    let mut b = [0u8; 8];
    latchkey_domain::Random::fill(&latchkey_domain::OsRandom, &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether Postgres answers, probed once per test binary.
static POSTGRES: tokio::sync::OnceCell<Result<(), String>> = tokio::sync::OnceCell::const_new();

async fn postgres_available() -> bool {
    let probe = POSTGRES
        .get_or_init(|| async {
            let opts = PoolOptions {
                max_connections: 1,
                connect_timeout: Duration::from_secs(3),
                ..PoolOptions::default()
            };
            connect(&postgres_url(), &opts)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await;
    match probe {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "Postgres is required in CI but unreachable ({e}); \
             set LATCHKEY_TEST_POSTGRES_URL or start Postgres"
        ),
        Err(e) => {
            static ONCE: std::sync::Once = std::sync::Once::new();
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            ONCE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: Postgres unreachable ({e}); running the storage tests on SQLite only"
                );
            });
            false
        }
    }
}

/// A fresh, migrated store per backend.
async fn backends() -> Vec<Backend> {
    let mut out = Vec::new();

    let dir = tempfile::tempdir().expect("temp dir");
    // A subdirectory that does not exist yet: connect must create it.
    let url = format!("sqlite://{}/db/latchkey.sqlite", dir.path().display());
    let store = connect(&url, &PoolOptions::default())
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    out.push(Backend {
        name: "sqlite",
        store,
        _cleanup: Cleanup::Dir(dir),
    });

    if postgres_available().await {
        let url = postgres_url();
        let schema = format!("t_{}", random_hex());
        let opts = PoolOptions {
            schema: Some(schema.clone()),
            ..PoolOptions::default()
        };
        let store = connect(&url, &opts).await.expect("open Postgres");
        let cleanup = Cleanup::Schema { url, schema };
        store.migrate().await.expect("migrate Postgres");
        out.push(Backend {
            name: "postgres",
            store,
            _cleanup: cleanup,
        });
    }
    out
}

// --------------------------------------------------------------- builders

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn cid(s: &str) -> ClientId {
    ClientId::parse(s).unwrap()
}

fn client(id: &str, created_at: i64) -> Client {
    Client {
        id: cid(id),
        name: format!("Client {id}"),
        auth_method: ClientAuthMethod::ClientSecretBasic,
        secret_hash: Some("secret-hash".into()),
        secret_expires_at: Some(2_000_000_000),
        previous_secret_hash: Some("old-hash".into()),
        previous_secret_expires_at: Some(1_700_000_100),
        redirect_uris: vec![
            RedirectUri::parse("https://app.example.com/cb").unwrap(),
            RedirectUri::parse("http://127.0.0.1:8080/cb?x=1").unwrap(),
        ],
        post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example.com/bye").unwrap()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Scope::parse("openid profile email").unwrap(),
        backchannel_logout_uri: Some("https://app.example.com/bcl".into()),
        id_token_signed_response_alg: Some(latchkey_protocol::SigningAlg::ES256),
        allowed_cors_origins: vec!["https://app.example.com".into()],
        introspect: true,
        pkce: Requirement::Optional,
        nonce: Requirement::Optional,
        require_mfa: false,
        require_par: false,
        dpop_bound: false,
        resources: Resources::default(),
        fapi2: false,
        created_at,
        updated_at: created_at,
    }
}

fn public_client(id: &str) -> Client {
    Client {
        id: cid(id),
        name: "Public".into(),
        auth_method: ClientAuthMethod::None,
        secret_hash: None,
        secret_expires_at: None,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![],
        scope: Scope::empty(),
        backchannel_logout_uri: None,
        id_token_signed_response_alg: None,
        allowed_cors_origins: vec![],
        introspect: false,
        pkce: Requirement::Required,
        nonce: Requirement::Required,
        require_mfa: true,
        require_par: true,
        dpop_bound: true,
        resources: Resources::from_texts(["https://api.example.com"]).unwrap(),
        fapi2: true,
        created_at: 5,
        updated_at: 5,
    }
}

fn user(id: &str, username: &str) -> User {
    User {
        id: UserId::new(id),
        username: username.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        claims: StandardClaims {
            name: Some(ClaimText::parse("name", "Alice Liddell".into()).unwrap()),
            email: Some(Email::parse("email", "alice@example.com".into()).unwrap()),
            email_verified: true,
            ..StandardClaims::default()
        },
        groups: Groups::default(),
        disabled: false,
        role: Role::User,
        created_at: 100,
        password_changed_at: 100,
        updated_at: 100,
    }
}

fn session(id: &str, user_id: &str, created_at: i64) -> BrowserSession {
    BrowserSession {
        id: SessionId::new(id),
        user_id: UserId::new(user_id),
        token_hash: TokenHash::new(format!("hash-{id}")),
        created_at,
        last_seen_at: created_at,
        auth_time: created_at,
        methods: latchkey_domain::Methods::PASSWORD,
        user_agent: Some("Mozilla/5.0".into()),
        ip: Some("192.0.2.1".into()),
        ended_at: None,
    }
}

fn pending(id: &str, client_id: &str, expires_at: i64) -> PendingAuthorization {
    PendingAuthorization {
        id: id.into(),
        client_id: cid(client_id),
        query: "response_type=code&client_id=c1&state=xyz".into(),
        session_id: None,
        browser_hash: Some("browser-hash".into()),
        pushed: false,
        created_at: 100,
        expires_at,
    }
}

/// Who presents the test codes: client c1, with their redirect URI and
/// the verifier of their challenge.
fn presenter() -> CodePresenter<'static> {
    static CLIENT: std::sync::LazyLock<ClientId> = std::sync::LazyLock::new(|| cid("c1"));
    static CHALLENGE_OF_C1: std::sync::LazyLock<CodeChallenge> =
        std::sync::LazyLock::new(|| CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap());
    CodePresenter {
        client_id: &CLIENT,
        redirect_uri: "https://app.example.com/cb",
        code_challenge: Some(&CHALLENGE_OF_C1),
        dpop_jkt: None,
    }
}

fn code(hash: &str, client_id: &str, user_id: &str, expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: TokenHash::new(hash),
        client_id: cid(client_id),
        user_id: UserId::new(user_id),
        session_id: SessionId::new("s1"),
        redirect_uri: RedirectUri::parse("https://app.example.com/cb").unwrap(),
        code_challenge: Some(CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap()),
        nonce: Some(Nonce::parse("n-0S6_WzA2Mj").unwrap()),
        scope: Scope::parse("openid profile").unwrap(),
        claims: RequestedClaims {
            userinfo: ClaimNames::from_names(["email", "groups"]),
            id_token: ClaimNames::from_names(["name"]),
        },
        auth_time: 90,
        methods: latchkey_domain::Methods::PASSWORD,
        acr: "urn:latchkey:acr:pwd".into(),
        dpop_jkt: None,
        resources: Resources::default(),
        created_at: 100,
        expires_at,
        state: CodeState::Issued,
    }
}

fn key(kid: &str, state: KeyState, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: Kid::new(kid),
        alg: latchkey_protocol::SigningAlg::RS256,
        state,
        encrypted_private_key: vec![0, 1, 2, 255, 254, 0, 42],
        public_jwk: format!(r#"{{"kid":"{kid}","kty":"RSA"}}"#),
        created_at,
        activates_at: created_at + 10,
        retired_at: None,
        removed_at: None,
    }
}

fn issued(jti: &str) -> IssuedFromCode {
    IssuedFromCode {
        access_token_jti: Jti::new(jti),
        access_token_expires_at: 1_000,
        family_id: None,
    }
}

/// A client, a user and a session for the flow tests to hang codes on.
async fn seed(s: &SeaStore) {
    s.insert_client(&client("c1", 10)).await.unwrap();
    s.insert_user(&user("u1", "alice")).await.unwrap();
    s.insert_session(&session("s1", "u1", 100)).await.unwrap();
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn clients_round_trip() {
    for b in backends().await {
        let s = &b.store;
        let c = client("c1", 10);
        s.insert_client(&c).await.unwrap();
        let p = public_client("c0");
        s.insert_client(&p).await.unwrap();
        assert_eq!(
            s.find_client(&c.id).await.unwrap(),
            Some(c.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_client(&p.id).await.unwrap(),
            Some(p.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_client(&cid("nope")).await.unwrap(),
            None,
            "{}",
            b.name
        );

        let mut changed = c.clone();
        changed.name = "Renamed".into();
        changed.secret_hash = None;
        changed.grant_types = vec![GrantType::ClientCredentials];
        changed.updated_at = 20;
        // Not changeable by an update.
        changed.created_at = 999;
        assert!(s.update_client(&changed).await.unwrap(), "{}", b.name);
        changed.created_at = c.created_at;
        assert_eq!(
            s.find_client(&c.id).await.unwrap(),
            Some(changed.clone()),
            "{}",
            b.name
        );
        assert!(
            !s.update_client(&client("ghost", 1)).await.unwrap(),
            "{}",
            b.name
        );

        // Ordered by created_at, then id.
        s.insert_client(&client("a9", 10)).await.unwrap();
        let ids: Vec<String> = s
            .list_clients()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id.into_string())
            .collect();
        assert_eq!(ids, ["c0", "a9", "c1"], "{}", b.name);

        assert!(
            matches!(s.insert_client(&c).await, Err(StoreError::Conflict(_))),
            "{}",
            b.name
        );
        assert!(s.delete_client(&c.id).await.unwrap(), "{}", b.name);
        assert!(!s.delete_client(&c.id).await.unwrap(), "{}", b.name);
        assert_eq!(s.find_client(&c.id).await.unwrap(), None, "{}", b.name);
    }
}

#[tokio::test]
async fn users_round_trip_and_unique_username() {
    for b in backends().await {
        let s = &b.store;
        let mut u = user("u1", "alice");
        u.disabled = true;
        s.insert_user(&u).await.unwrap();
        let bare = User {
            claims: StandardClaims::default(),
            created_at: 50,
            ..user("u2", "bob")
        };
        s.insert_user(&bare).await.unwrap();
        assert_eq!(
            s.find_user(&UserId::new("u1")).await.unwrap(),
            Some(u.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_user_by_username("bob").await.unwrap(),
            Some(bare.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_user(&UserId::new("nope")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.list_users().await.unwrap(),
            vec![bare.clone(), u.clone()],
            "{}",
            b.name
        );

        let taken = user("u3", "alice");
        match s.insert_user(&taken).await {
            Err(StoreError::Conflict(msg)) => {
                assert!(
                    !msg.contains("argon2"),
                    "{}: message leaks a value: {msg}",
                    b.name
                )
            }
            other => panic!("{}: expected Conflict, got {other:?}", b.name),
        }

        assert!(
            s.set_password(&UserId::new("u1"), "new-hash", 500)
                .await
                .unwrap(),
            "{}",
            b.name
        );
        let after = s.find_user(&UserId::new("u1")).await.unwrap().unwrap();
        assert_eq!(
            (after.password_hash.as_str(), after.password_changed_at),
            ("new-hash", 500)
        );
        assert!(
            !s.set_password(&UserId::new("nope"), "x", 500)
                .await
                .unwrap(),
            "{}",
            b.name
        );

        assert!(
            s.delete_user(&UserId::new("u2")).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.delete_user(&UserId::new("u2")).await.unwrap(),
            "{}",
            b.name
        );
    }
}

/// Every standard claim and the groups go in and come back; a change
/// replaces them and stamps `updated_at`; a `name` or `email` stored before
/// claims were checked is read back as it was.
#[tokio::test]
async fn user_claims_and_groups_round_trip() {
    for b in backends().await {
        let s = &b.store;
        let mut u = user("u1", "alice");
        u.claims
            .apply(
                serde_json::json!({
                    "given_name": "Alice", "family_name": "Liddell", "middle_name": "P",
                    "nickname": "al", "picture": "https://example.com/a.png",
                    "website": "https://alice.example", "gender": "female",
                    "birthdate": "1852-05-04", "zoneinfo": "Europe/London", "locale": "en-GB",
                    "phone_number": "+441234567890", "phone_number_verified": true,
                    "address": {"locality": "Oxford", "country": "GB"},
                })
                .as_object()
                .unwrap()
                .clone(),
            )
            .unwrap();
        u.groups = Groups::parse(vec!["staff".into(), "readers".into()]).unwrap();
        s.insert_user(&u).await.unwrap();
        let id = UserId::new("u1");
        assert_eq!(
            s.find_user(&id).await.unwrap(),
            Some(u.clone()),
            "{}",
            b.name
        );

        let mut claims = u.claims.clone();
        claims
            .set(UserClaim::Address, serde_json::Value::Null)
            .unwrap();
        claims.set(UserClaim::Name, "Alice L.".into()).unwrap();
        let groups = Groups::parse(vec!["admins".into()]).unwrap();
        assert!(s.set_user_claims(&id, &claims, &groups, 700).await.unwrap());
        assert!(!s
            .set_user_claims(&UserId::new("nope"), &claims, &groups, 700)
            .await
            .unwrap());
        let after = s.find_user(&id).await.unwrap().unwrap();
        assert_eq!(
            (after.claims, after.groups, after.updated_at),
            (claims.clone(), groups.clone(), 700),
            "{}",
            b.name
        );

        // A user's own edit: the claims only, and only over what was read.
        let mut own = claims.clone();
        own.set(UserClaim::Nickname, "ally".into()).unwrap();
        assert!(!s
            .set_user_claims_if_unchanged(&id, &own, 699, 701)
            .await
            .unwrap());
        assert!(s
            .set_user_claims_if_unchanged(&id, &own, 700, 701)
            .await
            .unwrap());
        assert!(!s
            .set_user_claims_if_unchanged(&id, &own, 700, 702)
            .await
            .unwrap());
        let after = s.find_user(&id).await.unwrap().unwrap();
        assert_eq!(
            (after.claims, after.groups, after.updated_at),
            (own, groups, 701),
            "the groups stay: {}",
            b.name
        );

        let old = User {
            claims: StandardClaims {
                name: Some(ClaimText::legacy(String::new())),
                email: Some(Email::legacy("bob".into())),
                ..StandardClaims::default()
            },
            ..user("u2", "bob")
        };
        s.insert_user(&old).await.unwrap();
        assert_eq!(
            s.find_user(&UserId::new("u2")).await.unwrap(),
            Some(old),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn a_role_is_stored_and_changed() {
    for b in backends().await {
        let s = &b.store;
        let admin = User {
            role: Role::Admin,
            ..user("u1", "alice")
        };
        s.insert_user(&admin).await.unwrap();
        s.insert_user(&user("u2", "bob")).await.unwrap();
        let role = |id: &'static str| async move {
            s.find_user(&UserId::new(id)).await.unwrap().unwrap().role
        };
        assert_eq!(role("u1").await, Role::Admin, "{}", b.name);
        assert_eq!(role("u2").await, Role::User, "{}", b.name);
        assert!(s
            .set_user_role(&UserId::new("u2"), Role::Admin)
            .await
            .unwrap());
        assert!(s
            .set_user_role(&UserId::new("u1"), Role::User)
            .await
            .unwrap());
        assert_eq!(role("u1").await, Role::User, "{}", b.name);
        assert_eq!(role("u2").await, Role::Admin, "{}", b.name);
        assert!(!s
            .set_user_role(&UserId::new("nobody"), Role::Admin)
            .await
            .unwrap());
    }
}

/// PostgreSQL text cannot hold NUL, which SQLite stores: there, a NUL to
/// write or to look up is `Unstorable` (the request's fault, answered
/// 400), never a bare storage error, and nothing is written.
#[tokio::test]
async fn a_nul_character_is_unstorable_on_postgres() {
    for b in backends().await {
        let s = &b.store;
        let found = s.find_user_by_username("al\u{0}ice").await;
        let nul_name = User {
            claims: StandardClaims {
                name: Some(ClaimText::legacy("B\u{0}b".into())),
                ..StandardClaims::default()
            },
            ..user("u1", "bob")
        };
        let inserted = s.insert_user(&nul_name).await;
        if b.name == "postgres" {
            assert!(matches!(found, Err(StoreError::Unstorable(_))), "{found:?}");
            assert!(
                matches!(inserted, Err(StoreError::Unstorable(_))),
                "{inserted:?}"
            );
            assert_eq!(s.find_user(&UserId::new("u1")).await.unwrap(), None);
        } else {
            assert_eq!(found.unwrap(), None, "{}", b.name);
            assert!(inserted.is_ok(), "{}", b.name);
        }
    }
}

/// A local user must not read the SQLite database (password hashes,
/// e-mails, audit addresses): a new file is 0600, its new directory 0700,
/// and the WAL files SQLite adds follow the file.
#[tokio::test]
async fn the_sqlite_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_dir = dir.path().join("data");
    let url = format!("sqlite://{}/latchkey.sqlite", db_dir.display());
    let store = connect(&url, &PoolOptions::default())
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db_dir), 0o700);
    for name in [
        "latchkey.sqlite",
        "latchkey.sqlite-wal",
        "latchkey.sqlite-shm",
    ] {
        let path = db_dir.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        } else {
            assert_ne!(name, "latchkey.sqlite", "the database file exists");
        }
    }
}

#[tokio::test]
async fn sessions_round_trip_and_end_once() {
    for b in backends().await {
        let s = &b.store;
        s.insert_user(&user("u1", "alice")).await.unwrap();
        let s1 = session("s1", "u1", 100);
        let s0 = BrowserSession {
            user_agent: None,
            ip: None,
            ..session("s0", "u1", 50)
        };
        s.insert_session(&s1).await.unwrap();
        s.insert_session(&s0).await.unwrap();
        assert_eq!(
            s.find_session(&SessionId::new("s1")).await.unwrap(),
            Some(s1.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_active_session(&TokenHash::new("hash-s1"))
                .await
                .unwrap(),
            Some(s1.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.list_active_sessions(&UserId::new("u1")).await.unwrap(),
            vec![s0.clone(), s1.clone()],
            "{}",
            b.name
        );

        s.touch_session(&SessionId::new("s1"), 150).await.unwrap();
        assert_eq!(
            s.find_session(&SessionId::new("s1"))
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            150
        );

        assert!(
            s.end_session(&SessionId::new("s1"), 200).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.end_session(&SessionId::new("s1"), 300).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.end_session(&SessionId::new("unknown"), 300)
                .await
                .unwrap(),
            "{}",
            b.name
        );
        let ended = s
            .find_session(&SessionId::new("s1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ended.ended_at, Some(200), "{}: the first end wins", b.name);
        assert_eq!(
            s.find_active_session(&TokenHash::new("hash-s1"))
                .await
                .unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.list_active_sessions(&UserId::new("u1")).await.unwrap(),
            vec![s0.clone()],
            "{}: ended sessions are not read back",
            b.name
        );
        // Swept: ended before 201, or begun before 60 (s0 began at 50).
        assert_eq!(
            sweep_all(s, &sessions_before(200, 60)).await,
            1,
            "{}",
            b.name
        );
        assert!(
            s.find_session(&SessionId::new("s0"))
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        assert_eq!(
            sweep_all(s, &sessions_before(201, 60)).await,
            1,
            "{}",
            b.name
        );
        assert!(
            s.find_session(&SessionId::new("s1"))
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        s.insert_session(&BrowserSession {
            last_seen_at: 150,
            ..s1.clone()
        })
        .await
        .unwrap();
        s.end_session(&SessionId::new("s1"), 200).await.unwrap();
        // An ended session is not revived by a touch.
        s.touch_session(&SessionId::new("s1"), 400).await.unwrap();
        assert_eq!(
            s.find_session(&SessionId::new("s1"))
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            150
        );

        let dup_token = BrowserSession {
            id: SessionId::new("s2"),
            ..s1.clone()
        };
        assert!(matches!(
            s.insert_session(&dup_token).await,
            Err(StoreError::Conflict(_))
        ));
    }
}

#[tokio::test]
async fn pending_codes_and_consents_round_trip() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;

        let p = pending("p1", "c1", 1_000);
        s.insert_pending(&p).await.unwrap();
        assert_eq!(
            s.find_pending("p1").await.unwrap(),
            Some(p.clone()),
            "{}",
            b.name
        );
        assert!(
            s.attach_session("p1", &SessionId::new("s1")).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.attach_session("nope", &SessionId::new("s1"))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        let attached = PendingAuthorization {
            session_id: Some(SessionId::new("s1")),
            ..p.clone()
        };
        assert_eq!(
            s.find_pending("p1").await.unwrap(),
            Some(attached),
            "{}",
            b.name
        );
        assert!(s.delete_pending("p1").await.unwrap());
        assert!(
            !s.delete_pending("p1").await.unwrap(),
            "a pending request settles once"
        );
        assert_eq!(s.find_pending("p1").await.unwrap(), None, "{}", b.name);

        let c = code("h1", "c1", "u1", 1_000);
        s.insert_code(&c).await.unwrap();
        let bare = AuthorizationCode {
            nonce: None,
            scope: Scope::empty(),
            claims: RequestedClaims::default(),
            ..code("h2", "c1", "u1", 1_000)
        };
        s.insert_code(&bare).await.unwrap();
        match s
            .redeem_code(&TokenHash::new("h2"), &presenter(), 300, &issued("jti-2"))
            .await
            .unwrap()
        {
            CodeRedemption::Redeemed(got) => assert_eq!(
                got,
                AuthorizationCode {
                    state: CodeState::Redeemed {
                        at: 300,
                        issued: issued("jti-2"),
                    },
                    ..bare
                },
                "{}",
                b.name
            ),
            other => panic!("{}: {other:?}", b.name),
        }
        assert!(
            matches!(s.insert_code(&c).await, Err(StoreError::Conflict(_))),
            "{}",
            b.name
        );
        // The claims a request named come back with the code.
        match s
            .redeem_code(&TokenHash::new("h1"), &presenter(), 300, &issued("jti-1"))
            .await
            .unwrap()
        {
            CodeRedemption::Redeemed(got) => {
                assert!(!c.claims.is_empty());
                assert_eq!(got.claims, c.claims, "{}", b.name);
            }
            other => panic!("{}: {other:?}", b.name),
        }

        let consent = Consent {
            user_id: UserId::new("u1"),
            client_id: cid("c1"),
            scope: Scope::parse("openid").unwrap(),
            granted_at: 100,
        };
        assert_eq!(
            s.find_consent(&UserId::new("u1"), &cid("c1"))
                .await
                .unwrap(),
            None,
            "{}",
            b.name
        );
        s.save_consent(&consent).await.unwrap();
        assert_eq!(
            s.find_consent(&UserId::new("u1"), &cid("c1"))
                .await
                .unwrap(),
            Some(consent.clone())
        );
        // Saving again replaces the earlier consent.
        let wider = Consent {
            scope: Scope::parse("openid profile").unwrap(),
            granted_at: 200,
            ..consent
        };
        s.save_consent(&wider).await.unwrap();
        assert_eq!(
            s.find_consent(&UserId::new("u1"), &cid("c1"))
                .await
                .unwrap(),
            Some(wider),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn revocation_keys_and_audit_round_trip() {
    for b in backends().await {
        let s = &b.store;
        let t = RevokedToken {
            key: "j1".into(),
            expires_at: 500,
            revoked_at: 100,
            reason: RevokeReason::Logout,
        };
        assert!(!s.any_revoked(&["j1".into()]).await.unwrap(), "{}", b.name);
        s.revoke_token(&t).await.unwrap();
        // Revoking again is not an error.
        s.revoke_token(&RevokedToken {
            reason: RevokeReason::PasswordChanged,
            ..t.clone()
        })
        .await
        .unwrap();
        assert!(s.any_revoked(&["j1".into()]).await.unwrap(), "{}", b.name);
        assert!(!s.any_revoked(&["j2".into()]).await.unwrap(), "{}", b.name);

        let k2 = key("k2", KeyState::Next, 200);
        let k1 = SigningKeyRecord {
            retired_at: Some(150),
            removed_at: Some(160),
            ..key("k1", KeyState::Retired, 100)
        };
        s.insert_key(&k2).await.unwrap();
        s.insert_key(&k1).await.unwrap();
        assert_eq!(
            s.list_keys().await.unwrap(),
            vec![k1.clone(), k2.clone()],
            "{}",
            b.name
        );

        let e = |id: &str, at: i64| AuditRecord {
            id: id.into(),
            at,
            kind: AuditEvent::Login,
            user_id: Some("u1".into()),
            client_id: None,
            ip: Some("192.0.2.1".into()),
            detail: r#"{"method":"password"}"#.into(),
            actor: None,
        };
        for (id, at) in [("e1", 10), ("e3", 30), ("e2", 20), ("e4", 30)] {
            s.record(&e(id, at)).await.unwrap();
        }
        assert_eq!(
            s.recent(3).await.unwrap(),
            vec![e("e4", 30), e("e3", 30), e("e2", 20)],
            "{}",
            b.name
        );
        assert_eq!(s.recent(10).await.unwrap().len(), 4, "{}", b.name);

        let other = AuditRecord {
            kind: AuditEvent::ClientDeleted,
            user_id: None,
            client_id: Some("c1".into()),
            actor: Some("console:root".into()),
            ..e("e5", 40)
        };
        s.record(&other).await.unwrap();
        let search = |f: AuditFilter, limit| async move {
            let ids: Vec<String> = s
                .search(&f, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            ids
        };
        assert_eq!(
            search(AuditFilter::default(), 2).await,
            ["e5", "e4"],
            "{}",
            b.name
        );
        let by_user = AuditFilter {
            user_id: Some("u1".into()),
            ..AuditFilter::default()
        };
        assert_eq!(search(by_user, 10).await, ["e4", "e3", "e2", "e1"]);
        let by_client = AuditFilter {
            client_id: Some("c1".into()),
            ..AuditFilter::default()
        };
        assert_eq!(search(by_client, 10).await, ["e5"]);
        let by_actor = AuditFilter {
            actor: Some("console:root".into()),
            ..AuditFilter::default()
        };
        assert_eq!(search(by_actor, 10).await, ["e5"], "{}", b.name);
        assert_eq!(
            s.recent(1).await.unwrap()[0].actor.as_deref(),
            Some("console:root")
        );
        let by_kind = AuditFilter {
            kind: Some(AuditEvent::Login),
            since: Some(20),
            until: Some(30),
            ..AuditFilter::default()
        };
        assert_eq!(search(by_kind, 10).await, ["e2"], "{}", b.name);
        let nothing = AuditFilter {
            user_id: Some("u2".into()),
            ..AuditFilter::default()
        };
        assert!(search(nothing, 10).await.is_empty());

        s.ping().await.unwrap();
    }
}

/// A presenter that does not match the code (client, redirect URI or PKCE
/// challenge) is told so and consumes nothing; a replay is only a replay
/// by the code's own presenter.
#[tokio::test]
async fn a_wrong_presenter_consumes_nothing() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_client(&client("c2", 10)).await.unwrap();
        s.insert_code(&code("h1", "c1", "u1", 1_000)).await.unwrap();
        let other_client = cid("c2");
        let other_challenge = CodeChallenge::parse(
            Some("F9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .unwrap();
        let right = presenter();
        for wrong in [
            CodePresenter {
                client_id: &other_client,
                ..right
            },
            CodePresenter {
                redirect_uri: "https://app.example.com/cb/",
                ..right
            },
            CodePresenter {
                code_challenge: Some(&other_challenge),
                ..right
            },
            CodePresenter {
                code_challenge: None,
                ..right
            },
        ] {
            assert_eq!(
                s.redeem_code(&TokenHash::new("h1"), &wrong, 200, &issued("j-wrong"))
                    .await
                    .unwrap(),
                CodeRedemption::WrongPresenter,
                "{}",
                b.name
            );
        }
        let CodeRedemption::Redeemed(c) = s
            .redeem_code(&TokenHash::new("h1"), &right, 201, &issued("j-right"))
            .await
            .unwrap()
        else {
            panic!("{}: the code was not spent by the wrong presenters", b.name)
        };
        assert_eq!(
            c.issued().map(|i| i.access_token_jti.as_str()),
            Some("j-right"),
            "{}",
            b.name
        );
        assert_eq!(
            s.redeem_code(
                &TokenHash::new("h1"),
                &CodePresenter {
                    client_id: &other_client,
                    ..right
                },
                202,
                &issued("x")
            )
            .await
            .unwrap(),
            CodeRedemption::WrongPresenter,
            "{}: a stranger's presentation after redemption is no replay",
            b.name
        );
    }
}

/// A code issued without PKCE is stored as such and redeemed only without
/// a verifier (RFC 9700 §2.1.1: no verifier may be added after the fact).
#[tokio::test]
async fn a_code_without_challenge_takes_no_verifier() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let without = AuthorizationCode {
            code_challenge: None,
            nonce: None,
            ..code("h1", "c1", "u1", 1_000)
        };
        s.insert_code(&without).await.unwrap();
        let right = presenter();
        assert_eq!(
            s.redeem_code(&TokenHash::new("h1"), &right, 200, &issued("j1"))
                .await
                .unwrap(),
            CodeRedemption::WrongPresenter,
            "{}: a verifier for a code issued without a challenge",
            b.name
        );
        let none = CodePresenter {
            code_challenge: None,
            ..right
        };
        let CodeRedemption::Redeemed(c) = s
            .redeem_code(&TokenHash::new("h1"), &none, 201, &issued("j2"))
            .await
            .unwrap()
        else {
            panic!("{}: the code without a challenge was not redeemed", b.name)
        };
        assert_eq!((c.code_challenge, c.nonce), (None, None), "{}", b.name);
    }
}

#[tokio::test]
async fn redeem_code_is_single_use() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_code(&code("h1", "c1", "u1", 1_000)).await.unwrap();

        let first = s
            .redeem_code(
                &TokenHash::new("h1"),
                &presenter(),
                200,
                &issued("jti-first"),
            )
            .await
            .unwrap();
        let CodeRedemption::Redeemed(c) = first else {
            panic!("{}: {first:?}", b.name)
        };
        assert_eq!(c.redeemed_at(), Some(200), "{}", b.name);
        assert_eq!(
            c.issued().map(|i| i.access_token_jti.as_str()),
            Some("jti-first"),
            "{}",
            b.name
        );

        let second = s
            .redeem_code(
                &TokenHash::new("h1"),
                &presenter(),
                201,
                &issued("jti-second"),
            )
            .await
            .unwrap();
        let CodeRedemption::AlreadyUsed(c) = second else {
            panic!("{}: {second:?}", b.name)
        };
        // The replay sees what the first redemption recorded, untouched.
        assert_eq!(c.redeemed_at(), Some(200), "{}", b.name);
        assert_eq!(
            c.issued().map(|i| i.access_token_jti.as_str()),
            Some("jti-first"),
            "{}",
            b.name
        );

        let unknown = s
            .redeem_code(&TokenHash::new("nope"), &presenter(), 200, &issued("x"))
            .await
            .unwrap();
        assert_eq!(unknown, CodeRedemption::NotFound, "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_redeem_has_exactly_one_winner() {
    const N: usize = 20;
    for b in backends().await {
        seed(&b.store).await;
        b.store
            .insert_code(&code("h1", "c1", "u1", 1_000))
            .await
            .unwrap();

        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = b.store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .redeem_code(
                            &TokenHash::new("h1"),
                            &presenter(),
                            200,
                            &issued(&format!("jti-{i}")),
                        )
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut replays = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(CodeRedemption::Redeemed(c)) => {
                    winners.push(c.issued().map(|i| i.access_token_jti.clone()))
                }
                Ok(CodeRedemption::AlreadyUsed(_)) => replays += 1,
                other => panic!("{}: unexpected {other:?}", b.name),
            }
        }
        assert_eq!(winners.len(), 1, "{}: winners {winners:?}", b.name);
        assert_eq!(replays, N - 1, "{}", b.name);
        // The stored jti is the winner's.
        let again = b
            .store
            .redeem_code(&TokenHash::new("h1"), &presenter(), 300, &issued("late"))
            .await
            .unwrap();
        let CodeRedemption::AlreadyUsed(c) = again else {
            panic!("{}: {again:?}", b.name)
        };
        assert_eq!(
            c.issued().map(|i| i.access_token_jti.clone()),
            winners[0],
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn insert_next_key_is_conditional_on_the_keys_the_caller_read() {
    for b in backends().await {
        let s = &b.store;
        let next = |kid: &str| key(kid, KeyState::Next, 100);
        let n = b.name;
        // No key at all: a first key, succeeding nothing.
        assert!(s.insert_next_key(&next("n1"), None).await.unwrap(), "{n}");
        // Its algorithm has a next key now: no second one.
        assert!(!s.insert_next_key(&next("n2"), None).await.unwrap(), "{n}");
        assert!(
            !s.insert_next_key(&next("n2"), Some(&Kid::new("n1")))
                .await
                .unwrap(),
            "{n}"
        );
        // n1 signs: only a successor of n1 may be published.
        assert!(s
            .transition_key(&Kid::new("n1"), KeyState::Next, KeyState::Current, 110)
            .await
            .unwrap());
        assert!(!s.insert_next_key(&next("n2"), None).await.unwrap(), "{n}");
        assert!(
            !s.insert_next_key(&next("n2"), Some(&Kid::new("x")))
                .await
                .unwrap(),
            "{n}"
        );
        assert!(
            s.insert_next_key(&next("n2"), Some(&Kid::new("n1")))
                .await
                .unwrap(),
            "{n}"
        );
        // Another algorithm is independent.
        let es = SigningKeyRecord {
            alg: latchkey_protocol::SigningAlg::ES256,
            ..next("e1")
        };
        assert!(s.insert_next_key(&es, None).await.unwrap(), "{n}");
        // Stored exactly as given.
        let stored = s.list_keys().await.unwrap();
        assert_eq!(
            stored.iter().find(|k| k.kid.as_str() == "n2"),
            Some(&next("n2")),
            "{n}"
        );
        assert_eq!(stored.len(), 3, "{n}");
        // Only next keys go through here.
        assert!(s
            .insert_next_key(&key("c9", KeyState::Current, 1), None)
            .await
            .is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_next_key_per_algorithm_is_a_database_fact() {
    for b in backends().await {
        let s = &b.store;
        s.insert_key(&key("n1", KeyState::Next, 100)).await.unwrap();
        // A second next key of the same algorithm: refused.
        let err = s.insert_key(&key("n2", KeyState::Next, 101)).await;
        assert!(
            matches!(err, Err(StoreError::Conflict(_))),
            "{}: {err:?}",
            b.name
        );
        // Another algorithm, or another state, is fine.
        s.insert_key(&SigningKeyRecord {
            alg: latchkey_protocol::SigningAlg::ES256,
            ..key("e1", KeyState::Next, 100)
        })
        .await
        .unwrap();
        s.insert_key(&key("c1", KeyState::Current, 90))
            .await
            .unwrap();
        s.insert_key(&key("c2", KeyState::Retired, 80))
            .await
            .unwrap();
        // Once the next key is promoted, a new one may be published.
        assert!(s
            .transition_key(&Kid::new("n1"), KeyState::Next, KeyState::Current, 200)
            .await
            .unwrap());
        s.insert_key(&key("n3", KeyState::Next, 200)).await.unwrap();

        // Many instances publishing at once: exactly one wins.
        const N: usize = 8;
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = s.clone();
                let barrier = barrier.clone();
                let record = SigningKeyRecord {
                    alg: latchkey_protocol::SigningAlg::PS256,
                    ..key(&format!("p{i}"), KeyState::Next, 300)
                };
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.insert_next_key(&record, None).await
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "{}", b.name);
        let nexts = s
            .list_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.state == KeyState::Next)
            .count();
        assert_eq!(nexts, 3, "{}: RS256, ES256 and PS256", b.name);
    }
}

#[tokio::test]
async fn transition_key_is_guarded_by_state() {
    for b in backends().await {
        let s = &b.store;
        s.insert_key(&key("k1", KeyState::Next, 100)).await.unwrap();

        assert!(!s
            .transition_key(&Kid::new("k1"), KeyState::Current, KeyState::Retired, 150)
            .await
            .unwrap());
        assert!(!s
            .transition_key(&Kid::new("nope"), KeyState::Next, KeyState::Current, 150)
            .await
            .unwrap());
        assert!(s
            .transition_key(&Kid::new("k1"), KeyState::Next, KeyState::Current, 150)
            .await
            .unwrap());
        assert!(!s
            .transition_key(&Kid::new("k1"), KeyState::Next, KeyState::Current, 151)
            .await
            .unwrap());
        assert!(s
            .transition_key(&Kid::new("k1"), KeyState::Current, KeyState::Retired, 200)
            .await
            .unwrap());
        assert!(s
            .transition_key(&Kid::new("k1"), KeyState::Retired, KeyState::Removed, 300)
            .await
            .unwrap());

        let k = s.list_keys().await.unwrap().pop().unwrap();
        assert_eq!(
            (k.state, k.retired_at, k.removed_at),
            (KeyState::Removed, Some(200), Some(300)),
            "{}",
            b.name
        );
        // Promotion stamped when the key really started signing.
        assert_eq!(k.activates_at, 150, "{}", b.name);

        s.insert_key(&key("k2", KeyState::Current, 110))
            .await
            .unwrap();
        assert!(s
            .transition_key(&Kid::new("k2"), KeyState::Current, KeyState::Revoked, 400)
            .await
            .unwrap());
        let k2 = s
            .list_keys()
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.kid.as_str() == "k2")
            .unwrap();
        assert_eq!(
            (k2.state, k2.removed_at),
            (KeyState::Revoked, Some(400)),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn deleting_a_client_or_user_cascades() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_client(&client("c2", 20)).await.unwrap();
        s.insert_pending(&pending("p1", "c1", 1_000)).await.unwrap();
        s.insert_pending(&pending("p2", "c2", 1_000)).await.unwrap();
        s.insert_code(&code("h1", "c1", "u1", 1_000)).await.unwrap();
        s.insert_code(&code("h2", "c2", "u1", 1_000)).await.unwrap();
        for c in ["c1", "c2"] {
            let consent = Consent {
                user_id: UserId::new("u1"),
                client_id: cid(c),
                scope: Scope::parse("openid").unwrap(),
                granted_at: 100,
            };
            s.save_consent(&consent).await.unwrap();
        }

        assert!(s.delete_client(&cid("c1")).await.unwrap(), "{}", b.name);
        assert_eq!(s.find_pending("p1").await.unwrap(), None, "{}", b.name);
        assert_eq!(
            s.find_consent(&UserId::new("u1"), &cid("c1"))
                .await
                .unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.redeem_code(&TokenHash::new("h1"), &presenter(), 200, &issued("j"))
                .await
                .unwrap(),
            CodeRedemption::NotFound
        );
        // The other client's rows are untouched.
        assert!(s.find_pending("p2").await.unwrap().is_some(), "{}", b.name);
        assert!(
            s.find_consent(&UserId::new("u1"), &cid("c2"))
                .await
                .unwrap()
                .is_some(),
            "{}",
            b.name
        );

        assert!(
            s.delete_user(&UserId::new("u1")).await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_session(&SessionId::new("s1")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.find_consent(&UserId::new("u1"), &cid("c2"))
                .await
                .unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.redeem_code(&TokenHash::new("h2"), &presenter(), 200, &issued("j"))
                .await
                .unwrap(),
            CodeRedemption::NotFound
        );
    }
}

#[tokio::test]
async fn sweep_expired_removes_only_expired_rows() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let now = 1_000;
        s.insert_pending(&pending("p-old", "c1", now))
            .await
            .unwrap();
        s.insert_pending(&pending("p-live", "c1", now + 1))
            .await
            .unwrap();
        s.insert_code(&code("c-old", "c1", "u1", now))
            .await
            .unwrap();
        s.insert_code(&code("c-live", "c1", "u1", now + 1))
            .await
            .unwrap();
        // Expired and consumed, but the token issued from it lives on: kept.
        s.insert_code(&code("c-used-live", "c1", "u1", now - 10))
            .await
            .unwrap();
        let live = IssuedFromCode {
            access_token_jti: Jti::new("a"),
            access_token_expires_at: now + 60,
            family_id: None,
        };
        s.redeem_code(
            &TokenHash::new("c-used-live"),
            &presenter(),
            now - 20,
            &live,
        )
        .await
        .unwrap();
        // Expired, consumed and its token expired too: removed.
        s.insert_code(&code("c-used-old", "c1", "u1", now - 10))
            .await
            .unwrap();
        let dead = IssuedFromCode {
            access_token_jti: Jti::new("b"),
            access_token_expires_at: now,
            family_id: None,
        };
        s.redeem_code(&TokenHash::new("c-used-old"), &presenter(), now - 20, &dead)
            .await
            .unwrap();
        for (jti, exp) in [("r-old", now), ("r-live", now + 1)] {
            let t = RevokedToken {
                key: jti.into(),
                expires_at: exp,
                revoked_at: 1,
                reason: RevokeReason::RevokedByClient,
            };
            s.revoke_token(&t).await.unwrap();
        }

        assert_eq!(sweep_all(s, &expired_at(now)).await, 4, "{}", b.name);

        assert_eq!(s.find_pending("p-old").await.unwrap(), None, "{}", b.name);
        assert!(
            s.find_pending("p-live").await.unwrap().is_some(),
            "{}",
            b.name
        );
        let present = |r: CodeRedemption| r != CodeRedemption::NotFound;
        assert!(
            !present(
                s.redeem_code(&TokenHash::new("c-old"), &presenter(), now, &issued("z"))
                    .await
                    .unwrap()
            ),
            "{}",
            b.name
        );
        assert!(!present(
            s.redeem_code(
                &TokenHash::new("c-used-old"),
                &presenter(),
                now,
                &issued("z")
            )
            .await
            .unwrap()
        ));
        assert!(present(
            s.redeem_code(
                &TokenHash::new("c-used-live"),
                &presenter(),
                now,
                &issued("z")
            )
            .await
            .unwrap()
        ));
        assert!(present(
            s.redeem_code(&TokenHash::new("c-live"), &presenter(), now, &issued("z"))
                .await
                .unwrap()
        ));
        assert!(
            !s.any_revoked(&["r-old".into()]).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            s.any_revoked(&["r-live".into()]).await.unwrap(),
            "{}",
            b.name
        );

        assert_eq!(
            sweep_all(s, &expired_at(now)).await,
            0,
            "{}: nothing left to sweep",
            b.name
        );
    }
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    for b in backends().await {
        let s = &b.store;
        let mut row = clients::Model::from_domain(&client("c1", 10));
        row.redirect_uris = Set("not json".into());
        clients::Entity::insert(row)
            .exec_without_returning(&s.db)
            .await
            .unwrap();
        match s.find_client(&cid("c1")).await {
            Err(StoreError::Corrupt(msg)) => {
                assert!(msg.contains("clients.redirect_uris"), "{}: {msg}", b.name)
            }
            other => panic!("{}: expected Corrupt, got {other:?}", b.name),
        }
        assert!(
            matches!(s.list_clients().await, Err(StoreError::Corrupt(_))),
            "{}",
            b.name
        );

        let mut row = clients::Model::from_domain(&client("c2", 10));
        row.id = Set("bad id".into());
        row.redirect_uris = Set(r#"["https://ok.example/cb", "relative"]"#.into());
        clients::Entity::insert(row)
            .exec_without_returning(&s.db)
            .await
            .unwrap();
        assert!(
            matches!(s.list_clients().await, Err(StoreError::Corrupt(_))),
            "{}",
            b.name
        );

        let mut row = signing_keys::Model::from_domain(&key("k1", KeyState::Next, 1));
        row.state = Set("sparkling".into());
        signing_keys::Entity::insert(row)
            .exec_without_returning(&s.db)
            .await
            .unwrap();
        match s.list_keys().await {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("signing_keys.state"), "{msg}"),
            other => panic!("{}: expected Corrupt, got {other:?}", b.name),
        }
    }
}

#[tokio::test]
async fn migrate_twice_is_idempotent() {
    for b in backends().await {
        // `backends` already migrated once.
        b.store.migrate().await.unwrap();
        b.store.migrate().await.unwrap();
        b.store.insert_user(&user("u1", "alice")).await.unwrap();
        assert!(
            b.store
                .find_user(&UserId::new("u1"))
                .await
                .unwrap()
                .is_some(),
            "{}",
            b.name
        );

        // `down` drops every table (children first, or the foreign keys
        // refuse), and `up` brings them back empty.
        Migrator::down(b.store.db.ungated(), None).await.unwrap();
        assert!(
            b.store.find_user(&UserId::new("u1")).await.is_err(),
            "{}: table still there",
            b.name
        );
        b.store.migrate().await.unwrap();
        assert_eq!(
            b.store.find_user(&UserId::new("u1")).await.unwrap(),
            None,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn closed_postgres_port_is_unavailable() {
    let opts = PoolOptions {
        connect_timeout: Duration::from_secs(1),
        acquire_timeout: Duration::from_secs(1),
        ..PoolOptions::default()
    };
    let started = std::time::Instant::now();
    match connect("postgres://postgres:hunter2@127.0.0.1:1/test", &opts).await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_urls_and_schema_names_are_refused() {
    let opts = PoolOptions::default();
    match connect("mysql://root:pw@localhost/db", &opts).await {
        Err(StoreError::Other(msg)) => {
            assert!(msg.contains("\"mysql\""), "{msg}");
            assert!(!msg.contains("pw"), "{msg}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let bad_schema = PoolOptions {
        schema: Some("x\"; DROP TABLE users; --".into()),
        ..opts
    };
    assert!(matches!(
        connect(&postgres_url(), &bad_schema).await,
        Err(StoreError::Other(_))
    ));
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let s = connect("sqlite::memory:", &PoolOptions::default())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s.insert_user(&user("u1", "alice")).await.unwrap();
    // Another pooled connection sees the same database.
    let u1 = UserId::new("u1");
    let (a, b) = tokio::join!(s.find_user(&u1), s.find_user_by_username("alice"));
    assert!(a.unwrap().is_some() && b.unwrap().is_some());
}

#[tokio::test]
async fn postgres_generic_plans_are_asked_for_unless_disabled() {
    if !postgres_available().await {
        return;
    }
    for (generic, expected) in [(true, "force_generic_plan"), (false, "auto")] {
        let opts = PoolOptions {
            generic_plans: generic,
            ..PoolOptions::default()
        };
        let s = connect(&postgres_url(), &opts).await.unwrap();
        let row =
            s.db.query_one(Statement::from_string(
                s.db.get_database_backend(),
                "SHOW plan_cache_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        let mode: String = row.try_get_by_index(0).unwrap();
        assert_eq!(mode, expected, "generic_plans = {generic}");
    }
}

#[tokio::test]
async fn postgres_statement_timeout_is_applied() {
    if !postgres_available().await {
        return;
    }
    let opts = PoolOptions {
        statement_timeout: Some(Duration::from_millis(200)),
        ..PoolOptions::default()
    };
    let s = connect(&postgres_url(), &opts).await.unwrap();
    let err =
        s.db.execute_unprepared("SELECT pg_sleep(2)")
            .await
            .unwrap_err();
    assert!(
        matches!(
            crate::error::map_db_err("sleep", err),
            StoreError::Unavailable(_)
        ),
        "a statement timeout is retryable"
    );
}

#[tokio::test]
async fn second_factors_are_used_once_and_unique() {
    use latchkey_domain::{
        FactorRepository, LoginChallenge, Methods, PasskeyRecord, TotpCredential,
    };
    for b in backends().await {
        let s = &b.store;
        s.insert_user(&user("u1", "alice")).await.unwrap();
        s.insert_user(&user("u2", "bob")).await.unwrap();
        let (u1, u2) = (UserId::new("u1"), UserId::new("u2"));

        // An app's time step only moves forward.
        s.save_totp(&TotpCredential {
            user_id: u1.clone(),
            secret: "sealed".into(),
            last_step: 10,
            created_at: 1,
        })
        .await
        .unwrap();
        assert!(!s.use_totp_step(&u1, 10).await.unwrap(), "{}", b.name);
        assert!(s.use_totp_step(&u1, 11).await.unwrap(), "{}", b.name);
        assert!(!s.use_totp_step(&u1, 11).await.unwrap(), "{}", b.name);
        assert!(
            !s.use_totp_step(&u2, 12).await.unwrap(),
            "no app: {}",
            b.name
        );

        // A recovery code: its user's, once.
        s.replace_recovery_codes(&u1, &["h1".into(), "h2".into()], 5)
            .await
            .unwrap();
        assert!(
            !s.use_recovery_code(&u2, "h1", 6).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            s.use_recovery_code(&u1, "h1", 6).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.use_recovery_code(&u1, "h1", 7).await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(s.unused_recovery_codes(&u1).await.unwrap(), 1, "{}", b.name);

        // A credential id is one user's: a second insert is a conflict.
        let key = PasskeyRecord {
            id: "cred-1".into(),
            user_id: u1.clone(),
            name: "Key".into(),
            credential: "{}".into(),
            synced: false,
            created_at: 1,
            last_used_at: None,
        };
        s.insert_passkey(&key).await.unwrap();
        let again = s
            .insert_passkey(&PasskeyRecord {
                user_id: u2.clone(),
                ..key.clone()
            })
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{}: {again:?}",
            b.name
        );
        assert!(
            !s.delete_passkey(&u2, "cred-1").await.unwrap(),
            "{}",
            b.name
        );

        // Tries are counted before a check; a reset removes everything,
        // sign-ins in progress included.
        let challenge = LoginChallenge {
            id: "ch1".into(),
            user_id: Some(u1.clone()),
            browser_hash: "b".into(),
            pending_id: None,
            session_id: None,
            methods: Methods::PASSWORD,
            password_hash: None,
            ceremony: None,
            failures: 0,
            created_at: 1,
            expires_at: 100,
        };
        s.insert_challenge(&challenge).await.unwrap();
        assert_eq!(s.count_challenge_try("ch1").await.unwrap(), 1, "{}", b.name);
        assert_eq!(s.count_challenge_try("ch1").await.unwrap(), 2, "{}", b.name);
        assert_eq!(
            s.count_challenge_try("gone").await.unwrap(),
            0,
            "{}",
            b.name
        );
        assert_eq!(
            s.reset_factors(&u1).await.unwrap(),
            4,
            "the app, both codes (used or not), the key: {}",
            b.name
        );
        assert_eq!(s.find_challenge("ch1").await.unwrap(), None, "{}", b.name);
        assert_eq!(s.find_totp(&u1).await.unwrap(), None, "{}", b.name);
    }
}
