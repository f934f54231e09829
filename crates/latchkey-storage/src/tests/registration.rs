//! Client registration storage on both backends: registration records,
//! secret rotation, deletion with its revocation, initial access tokens
//! (uses counted by a conditional update), admin tokens, and single-use
//! assertion `jti`s.

use std::sync::Arc;

use latchkey_domain::*;

use super::{backends, cid, client, public_client, sweep_all};
use crate::SeaStore;

/// What the registration sweeps remove at `now`.
fn registration_at(now: i64) -> [Sweep; 2] {
    [
        Sweep::RegistrationTokens { now },
        Sweep::AssertionJtis { now },
    ]
}

fn registration() -> ClientRegistration {
    ClientRegistration {
        registration_token_hash: Some("rat-hash".into()),
        jwks: Some(r#"{"keys":[{"kty":"EC"}]}"#.into()),
        jwks_uri: None,
        client_uri: Some("https://app.example.com".into()),
        logo_uri: Some("https://app.example.com/logo.png".into()),
        policy_uri: None,
        tos_uri: Some("https://app.example.com/tos".into()),
        contacts: vec!["ops@example.com".into(), "dev@example.com".into()],
        by_operator: false,
    }
}

fn initial(id: &str, hash: &str, expires_at: i64, uses: i64) -> InitialAccessToken {
    InitialAccessToken {
        id: id.into(),
        token_hash: hash.into(),
        created_at: 100,
        expires_at,
        uses_left: uses,
    }
}

#[tokio::test]
async fn registered_clients_round_trip_and_update_together() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        let c = client("c1", 10);
        let r = registration();
        s.insert_registered_client(&c, &r).await.unwrap();
        assert_eq!(s.find_client(&c.id).await.unwrap(), Some(c.clone()), "{n}");
        assert_eq!(
            s.find_registration(&c.id).await.unwrap(),
            Some(r.clone()),
            "{n}"
        );
        // The same id again: nothing of the second insert stays.
        let mut dup = client("c1", 10);
        dup.name = "Other".into();
        assert!(
            matches!(
                s.insert_registered_client(&dup, &ClientRegistration::default())
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "{n}"
        );
        assert_eq!(
            s.find_registration(&c.id).await.unwrap(),
            Some(r.clone()),
            "{n}"
        );

        let mut changed = c.clone();
        changed.name = "Renamed".into();
        changed.updated_at = 20;
        let r2 = ClientRegistration {
            jwks: None,
            jwks_uri: Some("https://app.example.com/jwks".into()),
            contacts: vec![],
            // An operator's update vouches for the client.
            by_operator: true,
            ..r.clone()
        };
        assert!(
            s.update_registered_client(&changed, &r2, None)
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap(), Some(changed), "{n}");
        assert_eq!(s.find_registration(&c.id).await.unwrap(), Some(r2), "{n}");

        // A client made by an operator has no record until it is updated.
        let p = public_client("p1");
        s.insert_client(&p).await.unwrap();
        assert_eq!(s.find_registration(&p.id).await.unwrap(), None, "{n}");
        let r3 = ClientRegistration::default();
        assert!(
            s.update_registered_client(&p, &r3, None).await.unwrap(),
            "{n}"
        );
        assert_eq!(s.find_registration(&p.id).await.unwrap(), Some(r3), "{n}");

        // An unknown client: false, and no orphan record.
        let ghost = client("ghost", 1);
        assert!(
            !s.update_registered_client(&ghost, &r, None).await.unwrap(),
            "{n}"
        );
        assert_eq!(s.find_registration(&ghost.id).await.unwrap(), None, "{n}");
    }
}

fn token_rotation(seen: &str, new: &str) -> RegistrationTokenRotation {
    RegistrationTokenRotation {
        seen_hash: seen.into(),
        new_hash: new.into(),
    }
}

async fn token_hash_of(s: &SeaStore, id: &str) -> Option<String> {
    s.find_registration(&cid(id))
        .await
        .unwrap()
        .unwrap()
        .registration_token_hash
}

#[tokio::test]
async fn the_registration_token_rotates_only_from_the_stored_hash() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        let c = client("c1", 10);
        s.insert_registered_client(&c, &registration())
            .await
            .unwrap();
        let first = token_rotation("rat-hash", "rat-2");
        assert!(
            s.rotate_registration_token(&c.id, &first).await.unwrap(),
            "{n}"
        );
        assert_eq!(token_hash_of(s, "c1").await.as_deref(), Some("rat-2"));
        // The old hash no longer applies, nor a guess, nor another client.
        for r in [first.clone(), token_rotation("guess", "rat-3")] {
            assert!(
                !s.rotate_registration_token(&c.id, &r).await.unwrap(),
                "{n}"
            );
        }
        let second = token_rotation("rat-2", "rat-3");
        assert!(
            !s.rotate_registration_token(&cid("ghost"), &second)
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(token_hash_of(s, "c1").await.as_deref(), Some("rat-2"));

        // An update with a stale rotation changes nothing at all.
        let mut renamed = c.clone();
        renamed.name = "Renamed".into();
        let r2 = ClientRegistration {
            contacts: vec![],
            ..registration()
        };
        assert!(
            !s.update_registered_client(&renamed, &r2, Some(&first))
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap(), Some(c.clone()), "{n}");
        assert_eq!(token_hash_of(s, "c1").await.as_deref(), Some("rat-2"));
        // With the current one, metadata and token change together.
        assert!(
            s.update_registered_client(&renamed, &r2, Some(&second))
                .await
                .unwrap(),
            "{n}"
        );
        let after = s.find_registration(&c.id).await.unwrap().unwrap();
        assert_eq!(
            (after.registration_token_hash.as_deref(), after.contacts),
            (Some("rat-3"), vec![]),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap(), Some(renamed.clone()));
        // An update without a rotation keeps the stored hash, whatever the
        // record it was given says (an operator's write from an older read
        // must not bring a rotated-away token back).
        assert!(
            s.update_registered_client(&renamed, &registration(), None)
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(token_hash_of(s, "c1").await.as_deref(), Some("rat-3"));

        // A guarded delete needs the current hash.
        let rev = RevokedToken {
            key: RevocationKey::Client("c1".into()).to_key(),
            expires_at: 1_000,
            revoked_at: 100,
            reason: RevokeReason::ClientDeletedByRegistrant,
        };
        for stale in ["rat-hash", "rat-2"] {
            assert!(
                !s.delete_client_revoking(&c.id, &rev, Some(stale))
                    .await
                    .unwrap(),
                "{n}"
            );
        }
        assert!(s.find_client(&c.id).await.unwrap().is_some(), "{n}");
        assert!(!s.any_revoked(&["c:c1".into()]).await.unwrap(), "{n}");
        assert!(
            s.delete_client_revoking(&c.id, &rev, Some("rat-3"))
                .await
                .unwrap(),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap(), None, "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_concurrent_token_rotations_from_one_hash_exactly_one_wins() {
    const N: usize = 16;
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        s.insert_registered_client(&client("c1", 10), &registration())
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let (s, barrier) = (s.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let r = token_rotation("rat-hash", &format!("new-{i}"));
                    s.rotate_registration_token(&cid("c1"), &r)
                        .await
                        .unwrap()
                        .then_some(i)
                })
            })
            .collect();
        let mut winners = vec![];
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "{n}: {winners:?}");
        assert_eq!(
            token_hash_of(s, "c1").await,
            Some(format!("new-{}", winners[0])),
            "{n}"
        );
    }
}

#[tokio::test]
async fn secret_rotation_moves_the_current_secret_once() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        let c = client("c1", 10);
        s.insert_client(&c).await.unwrap();
        let rotation = SecretRotation {
            seen_hash: Some("secret-hash".into()),
            new_hash: "new-hash".into(),
            new_expires_at: None,
            previous_expires_at: 5_000,
            now: 50,
        };
        assert!(
            s.rotate_client_secret(&c.id, &rotation).await.unwrap(),
            "{n}"
        );
        let after = s.find_client(&c.id).await.unwrap().unwrap();
        assert_eq!(after.secret_hash.as_deref(), Some("new-hash"), "{n}");
        assert_eq!(after.secret_expires_at, None, "{n}");
        assert_eq!(
            after.previous_secret_hash.as_deref(),
            Some("secret-hash"),
            "{n}"
        );
        assert_eq!(after.previous_secret_expires_at, Some(5_000), "{n}");
        assert_eq!(after.updated_at, 50, "{n}");
        // The same rotation again saw a secret that is no longer current.
        assert!(
            !s.rotate_client_secret(&c.id, &rotation).await.unwrap(),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap().unwrap(), after, "{n}");
        assert!(
            !s.rotate_client_secret(&cid("ghost"), &rotation)
                .await
                .unwrap(),
            "{n}"
        );
        // A client without a secret gets its first one.
        let p = public_client("p1");
        s.insert_client(&p).await.unwrap();
        let first = SecretRotation {
            seen_hash: None,
            new_hash: "first".into(),
            new_expires_at: Some(9_000),
            previous_expires_at: 60,
            now: 60,
        };
        assert!(s.rotate_client_secret(&p.id, &first).await.unwrap(), "{n}");
        let p2 = s.find_client(&p.id).await.unwrap().unwrap();
        assert_eq!(
            (
                p2.secret_hash.as_deref(),
                p2.secret_expires_at,
                p2.previous_secret_hash
            ),
            (Some("first"), Some(9_000), None),
            "{n}"
        );
    }
}

#[tokio::test]
async fn deleting_a_client_records_its_revocation_in_the_same_transaction() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        let c = client("c1", 10);
        s.insert_registered_client(&c, &registration())
            .await
            .unwrap();
        assert!(s.record_assertion_jti(&c.id, "j1", 500).await.unwrap());
        let rev = RevokedToken {
            key: RevocationKey::Client("c1".into()).to_key(),
            expires_at: 1_000,
            revoked_at: 100,
            reason: RevokeReason::ClientDeletedByOperator,
        };
        assert!(
            s.delete_client_revoking(&c.id, &rev, None).await.unwrap(),
            "{n}"
        );
        assert_eq!(s.find_client(&c.id).await.unwrap(), None, "{n}");
        assert_eq!(s.find_registration(&c.id).await.unwrap(), None, "{n}");
        assert!(s.any_revoked(&["c:c1".into()]).await.unwrap(), "{n}");
        // Unknown client: false, and nothing recorded.
        let other = RevokedToken {
            key: "c:ghost".into(),
            ..rev.clone()
        };
        assert!(
            !s.delete_client_revoking(&cid("ghost"), &other, None)
                .await
                .unwrap(),
            "{n}"
        );
        assert!(!s.any_revoked(&["c:ghost".into()]).await.unwrap(), "{n}");
    }
}

#[tokio::test]
async fn initial_access_tokens_are_used_up_and_expire() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        s.insert_initial_token(&initial("i1", "h1", 1_000, 2))
            .await
            .unwrap();
        s.insert_initial_token(&initial("i2", "h2", 1_000, 1))
            .await
            .unwrap();
        assert!(
            matches!(
                s.insert_initial_token(&initial("i3", "h1", 1_000, 1)).await,
                Err(StoreError::Conflict(_))
            ),
            "{n}"
        );
        let found = s.find_initial_token("h1").await.unwrap().unwrap();
        assert!(found.usable(999) && !found.usable(1_000), "{n}");
        assert!(s.consume_initial_token("h1", 500).await.unwrap(), "{n}");
        assert!(s.consume_initial_token("h1", 500).await.unwrap(), "{n}");
        assert!(!s.consume_initial_token("h1", 500).await.unwrap(), "{n}");
        assert_eq!(
            s.find_initial_token("h1").await.unwrap().unwrap().uses_left,
            0
        );
        // Expired: not consumable even with uses left.
        assert!(!s.consume_initial_token("h2", 1_000).await.unwrap(), "{n}");
        assert!(!s.consume_initial_token("nope", 1).await.unwrap(), "{n}");
        let ids: Vec<String> = s
            .list_initial_tokens()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, ["i1", "i2"], "{n}");
        // i1 is used up, i2 unexpired at 999: the sweep takes i1 only.
        assert_eq!(sweep_all(s, &registration_at(999)).await, 1, "{n}");
        assert!(s.find_initial_token("h1").await.unwrap().is_none(), "{n}");
        assert!(s.delete_initial_token("i2").await.unwrap(), "{n}");
        assert!(!s.delete_initial_token("i2").await.unwrap(), "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_an_initial_token_never_exceed_its_uses() {
    for b in backends().await {
        let s = Arc::new(b.store.clone());
        s.insert_initial_token(&initial("i1", "h1", 1_000, 3))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.consume_initial_token("h1", 10).await.unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += t.await.unwrap() as usize;
        }
        assert_eq!(wins, 3, "{}", b.name);
    }
}

#[tokio::test]
async fn admin_tokens_round_trip() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        let t = AdminToken {
            id: "a1".into(),
            token_hash: "ah".into(),
            name: "ops".into(),
            created_at: 10,
            expires_at: 1_000,
        };
        s.insert_admin_token(&t).await.unwrap();
        assert_eq!(
            s.find_admin_token("ah").await.unwrap(),
            Some(t.clone()),
            "{n}"
        );
        assert_eq!(s.find_admin_token("other").await.unwrap(), None, "{n}");
        assert_eq!(s.list_admin_tokens().await.unwrap(), vec![t], "{n}");
        assert!(s.delete_admin_token("a1").await.unwrap(), "{n}");
        assert_eq!(s.find_admin_token("ah").await.unwrap(), None, "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_assertion_jti_is_single_use_per_client() {
    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        s.insert_client(&client("c1", 10)).await.unwrap();
        s.insert_client(&client("c2", 10)).await.unwrap();
        assert!(
            s.record_assertion_jti(&cid("c1"), "j", 500).await.unwrap(),
            "{n}"
        );
        assert!(
            !s.record_assertion_jti(&cid("c1"), "j", 900).await.unwrap(),
            "{n}"
        );
        // Another client's jti space is its own.
        assert!(
            s.record_assertion_jti(&cid("c2"), "j", 500).await.unwrap(),
            "{n}"
        );
        // Concurrent presentations of one new jti: exactly one wins.
        let shared = Arc::new(b.store.clone());
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let s = shared.clone();
            tasks.push(tokio::spawn(async move {
                s.record_assertion_jti(&cid("c1"), "race", 500)
                    .await
                    .unwrap()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += t.await.unwrap() as usize;
        }
        assert_eq!(wins, 1, "{n}");
        // Swept once expired; a deleted client's records go with it.
        assert_eq!(sweep_all(s, &registration_at(500)).await, 3, "{n}");
        assert!(
            s.record_assertion_jti(&cid("c1"), "j", 900).await.unwrap(),
            "{n}"
        );
        assert!(s.delete_client(&cid("c1")).await.unwrap());
        assert_eq!(sweep_all(s, &registration_at(10_000)).await, 0, "{n}");
    }
}

/// The migration that added `by_operator` classifies existing clients by
/// who made them: a record without a registration access token came from
/// the admin API, no record at all from the command line (which gets one),
/// a token from the client itself.
#[tokio::test]
async fn existing_clients_are_classified_by_who_made_them() {
    use latchkey_migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};

    for b in backends().await {
        let (s, n) = (&b.store, b.name);
        // Back to before that migration, whatever came after it.
        let since = Migrator::migrations()
            .iter()
            .rev()
            .position(|m| m.name() == "m20261202_000007_registration_by_operator")
            .expect("the migration exists") as u32;
        Migrator::down(s.db.ungated(), Some(since + 1))
            .await
            .unwrap();
        // Rows as that schema had them (the client entity has columns
        // that later migrations add).
        let clients = ["cli", "admin", "dynamic"].map(|id| {
            format!(
                "INSERT INTO clients (id, name, auth_method, redirect_uris, \
                 post_logout_redirect_uris, grant_types, scope, allowed_cors_origins, \
                 created_at, updated_at) VALUES ('{id}', '{id}', 'client_secret_basic', \
                 '[]', '[]', '[\"client_credentials\"]', 'openid', '[]', 10, 10)"
            )
        });
        for sql in clients.iter().map(String::as_str).chain([
            "INSERT INTO client_registrations (client_id, contacts) VALUES ('admin', '[]')",
            "INSERT INTO client_registrations (client_id, registration_token_hash, contacts) \
             VALUES ('dynamic', 'rat-hash', '[]')",
        ]) {
            s.db.execute(Statement::from_string(s.db.get_database_backend(), sql))
                .await
                .unwrap();
        }
        s.migrate().await.unwrap();
        for (id, by_operator) in [("cli", true), ("admin", true), ("dynamic", false)] {
            let r = s.find_registration(&cid(id)).await.unwrap();
            assert_eq!(r.map(|r| r.by_operator), Some(by_operator), "{n}: {id}");
        }
    }
}
