//! Refresh families, revocation keys, teardowns and the logout outbox, on
//! both backends (same harness as the parent module).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use latchkey_domain::*;
use latchkey_protocol::user_claims::ClaimNames;
use latchkey_protocol::Scope;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{backends, cid, client, code, presenter, seed, session, sweep_all, user};
use crate::entities::logout_deliveries::GIVEN_UP;
use crate::entities::refresh_tokens;
use crate::SeaStore;

// --------------------------------------------------------------- builders

fn family(id: &str, user_id: &str, session_id: &str, created_at: i64) -> RefreshFamily {
    RefreshFamily {
        id: FamilyId::new(id),
        user_id: UserId::new(user_id),
        client_id: cid("c1"),
        session_id: SessionId::new(session_id),
        scope: Scope::parse("openid offline_access").unwrap(),
        claims: RequestedClaims {
            userinfo: ClaimNames::from_names(["phone_number", "address"]),
            id_token: ClaimNames::from_names(["email"]),
        },
        auth_time: 90,
        dpop_jkt: None,
        resources: latchkey_domain::Resources::default(),
        generation: 0,
        state: FamilyState::Active,
        created_at,
        last_used_at: created_at,
        expires_at: created_at + 10_000,
    }
}

fn rtoken(hash: &str, family_id: &str, generation: i64) -> RefreshToken {
    RefreshToken {
        token_hash: TokenHash::new(hash),
        family_id: FamilyId::new(family_id),
        generation,
        created_at: 100 + generation,
        used_at: None,
        access_token_jti: Jti::new(format!("at-{hash}")),
        access_token_expires_at: 1_000,
    }
}

fn rtoken_at(hash: &str, family_id: &str, generation: i64, created_at: i64) -> RefreshToken {
    RefreshToken {
        created_at,
        ..rtoken(hash, family_id, generation)
    }
}

/// The generation-0 token `<id>-0` of a family, issued when it was last used.
fn first_token(f: &RefreshFamily) -> RefreshToken {
    rtoken_at(&format!("{}-0", f.id), f.id.as_str(), 0, f.last_used_at)
}

fn revoked(key: &str, revoked_at: i64, expires_at: i64) -> RevokedToken {
    RevokedToken {
        key: key.into(),
        expires_at,
        revoked_at,
        reason: RevokeReason::RevokedByClient,
    }
}

fn delivery(id: &str, created_at: i64, next_attempt_at: i64) -> LogoutDelivery {
    LogoutDelivery {
        id: id.into(),
        client_id: cid("c1"),
        uri: "https://app.example.com/bcl".into(),
        logout_token: format!("eyJ.{id}.sig"),
        created_at,
        attempts: 0,
        next_attempt_at,
        delivered_at: None,
        last_error: None,
    }
}

/// Creates family `id` with its generation-0 token `<id>-0`.
async fn start(s: &SeaStore, f: &RefreshFamily) {
    assert!(
        s.create_family(f, &first_token(f)).await.unwrap(),
        "family {} created (its session is live)",
        f.id
    );
}

/// Every token of a family, by generation (read directly: no port lists
/// them). A token's `used_at` is its successor's creation time.
async fn family_tokens(s: &SeaStore, family_id: &str) -> Vec<RefreshToken> {
    let rows = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .order_by_asc(refresh_tokens::Column::Generation)
        .all(&s.db)
        .await
        .unwrap();
    let used: Vec<Option<i64>> = rows
        .iter()
        .map(|m| {
            rows.iter()
                .find(|n| n.generation == m.generation + 1)
                .map(|n| n.created_at)
        })
        .collect();
    rows.into_iter()
        .zip(used)
        .map(|(m, u)| m.into_domain(u).unwrap())
        .collect()
}

fn keys(ks: &[&str]) -> Vec<String> {
    ks.iter().map(|k| (*k).to_owned()).collect()
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn code_records_its_family() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_code(&code("h1", "c1", "u1", 1_000)).await.unwrap();
        s.insert_code(&code("h2", "c1", "u1", 1_000)).await.unwrap();

        let with_family = IssuedFromCode {
            access_token_jti: Jti::new("j2"),
            access_token_expires_at: 900,
            family_id: Some(FamilyId::new("f2")),
        };
        let CodeRedemption::Redeemed(c) = s
            .redeem_code(&TokenHash::new("h2"), &presenter(), 200, &with_family)
            .await
            .unwrap()
        else {
            panic!("{}", b.name)
        };
        assert_eq!(
            c.issued()
                .and_then(|i| i.family_id.as_ref().map(FamilyId::as_str)),
            Some("f2"),
            "{}",
            b.name
        );
        // A replay sees the family the first redemption recorded.
        let other = IssuedFromCode {
            family_id: Some(FamilyId::new("f-late")),
            ..with_family.clone()
        };
        let CodeRedemption::AlreadyUsed(c) = s
            .redeem_code(&TokenHash::new("h2"), &presenter(), 201, &other)
            .await
            .unwrap()
        else {
            panic!("{}", b.name)
        };
        assert_eq!(
            c.issued()
                .and_then(|i| i.family_id.as_ref().map(FamilyId::as_str)),
            Some("f2"),
            "{}",
            b.name
        );

        // A redemption without a family records none.
        let none = IssuedFromCode {
            family_id: None,
            ..with_family
        };
        let CodeRedemption::Redeemed(c) = s
            .redeem_code(&TokenHash::new("h1"), &presenter(), 200, &none)
            .await
            .unwrap()
        else {
            panic!("{}", b.name)
        };
        assert_eq!(
            c.issued().and_then(|i| i.family_id.clone()),
            None,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn revocation_keys_any_and_since() {
    for b in backends().await {
        let s = &b.store;
        let now = 1_000;
        assert!(!s.any_revoked(&[]).await.unwrap(), "{}", b.name);
        s.revoke_token(&revoked("t:j1", 100, now + 50))
            .await
            .unwrap();
        // The second record of a key is ignored, not an error.
        s.revoke_token(&RevokedToken {
            reason: RevokeReason::PasswordChanged,
            revoked_at: 900,
            ..revoked("t:j1", 100, now + 50)
        })
        .await
        .unwrap();
        s.revoke_token(&revoked("f:fam", 300, now + 10))
            .await
            .unwrap();
        s.revoke_token(&revoked("s:sid", 200, now)).await.unwrap(); // expired at now
        s.revoke_token(&revoked("s:old", 50, now + 10))
            .await
            .unwrap(); // before since

        assert!(s.any_revoked(&keys(&["t:j1"])).await.unwrap(), "{}", b.name);
        assert!(
            s.any_revoked(&keys(&["t:nope", "f:nope", "f:fam"]))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.any_revoked(&keys(&["t:nope", "f:nope", "s:nope"]))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        // Kinds are part of the key: a family id is not a jti.
        assert!(
            !s.any_revoked(&keys(&["t:fam"])).await.unwrap(),
            "{}",
            b.name
        );
        // An expired record still answers until swept.
        assert!(
            s.any_revoked(&keys(&["s:sid"])).await.unwrap(),
            "{}",
            b.name
        );

        let since = s.revocations_since(100, now).await.unwrap();
        assert_eq!(
            since,
            vec![
                revoked("t:j1", 100, now + 50),
                revoked("f:fam", 300, now + 10)
            ],
            "{}: oldest first, the first record kept, expired and older left out",
            b.name
        );
        assert_eq!(
            s.revocations_since(301, now).await.unwrap(),
            vec![],
            "{}",
            b.name
        );
        assert_eq!(
            s.revocations_since(0, 0).await.unwrap().len(),
            4,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn families_round_trip() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_user(&user("u2", "bob")).await.unwrap();
        s.insert_session(&session("s9", "u2", 100)).await.unwrap();
        let f1 = family("f1", "u1", "s1", 100);
        let f2 = RefreshFamily {
            scope: Scope::empty(),
            claims: RequestedClaims::default(),
            ..family("f2", "u1", "s1", 200)
        };
        let f3 = family("f3", "u2", "s9", 300);
        for f in [&f1, &f2, &f3] {
            start(s, f).await;
        }

        assert_eq!(
            s.find_family(&FamilyId::new("f1")).await.unwrap(),
            Some(f1.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_family(&FamilyId::new("nope")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.find_refresh_token(&TokenHash::new("f2-0")).await.unwrap(),
            Some((first_token(&f2), f2.clone())),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_refresh_token(&TokenHash::new("nope")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.find_family_token(&FamilyId::new("f1"), 0).await.unwrap(),
            Some(first_token(&f1)),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_family_token(&FamilyId::new("f1"), 1).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.list_user_families(&UserId::new("u1")).await.unwrap(),
            vec![f2.clone(), f1.clone()],
            "{}: newest first, only the user's",
            b.name
        );

        // Family and first token are created together or not at all: a
        // token hash that is taken leaves no family behind.
        let dup = s
            .create_family(&family("f4", "u1", "s1", 400), &rtoken("f1-0", "f4", 0))
            .await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{}: {dup:?}",
            b.name
        );
        assert_eq!(
            s.find_family(&FamilyId::new("f4")).await.unwrap(),
            None,
            "{}",
            b.name
        );

        // Deleting the user takes families and tokens along.
        assert!(
            s.delete_user(&UserId::new("u2")).await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_family(&FamilyId::new("f3")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert_eq!(
            s.find_refresh_token(&TokenHash::new("f3-0")).await.unwrap(),
            None,
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn rotation_chain_and_refusals() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        start(s, &family("f1", "u1", "s1", 100)).await;

        assert!(
            s.rotate_refresh(
                &FamilyId::new("f1"),
                0,
                &TokenHash::new("f1-0"),
                &rtoken_at("f1-1", "f1", 1, 110)
            )
            .await
            .unwrap(),
            "{}",
            b.name
        );
        assert!(
            s.rotate_refresh(
                &FamilyId::new("f1"),
                1,
                &TokenHash::new("f1-1"),
                &rtoken_at("f1-2", "f1", 2, 120)
            )
            .await
            .unwrap(),
            "{}",
            b.name
        );
        let (t2, f) = s
            .find_refresh_token(&TokenHash::new("f1-2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((f.generation, f.last_used_at), (2, 120), "{}", b.name);
        assert_eq!(t2.used_at, None, "{}", b.name);
        let used: Vec<Option<i64>> = family_tokens(s, "f1")
            .await
            .iter()
            .map(|t| t.used_at)
            .collect();
        assert_eq!(used, [Some(110), Some(120), None], "{}", b.name);

        let before = (
            s.find_family(&FamilyId::new("f1")).await.unwrap(),
            family_tokens(s, "f1").await,
        );
        let refused = [
            // A stale generation, with the current token.
            ("f1", 1, "f1-2", rtoken("x1", "f1", 2)),
            // The right generation, with a used token.
            ("f1", 2, "f1-1", rtoken("x2", "f1", 3)),
            // Another family's token.
            ("f1", 2, "g-0", rtoken("x3", "f1", 3)),
            // An unknown family.
            ("nope", 2, "f1-2", rtoken("x4", "nope", 3)),
        ];
        start(s, &family("g", "u1", "s1", 100)).await;
        for (fam, seen, consumed, next) in &refused {
            assert!(
                !s.rotate_refresh(
                    &FamilyId::new(*fam),
                    *seen,
                    &TokenHash::new(*consumed),
                    next
                )
                .await
                .unwrap(),
                "{}: rotate({fam}, {seen}, {consumed}) must be refused",
                b.name
            );
        }
        let after = (
            s.find_family(&FamilyId::new("f1")).await.unwrap(),
            family_tokens(s, "f1").await,
        );
        assert_eq!(
            before, after,
            "{}: a refused rotation changes nothing",
            b.name
        );
        assert_eq!(
            s.find_refresh_token(&TokenHash::new("x2")).await.unwrap(),
            None,
            "{}",
            b.name
        );

        // A `next` that is not the following generation is a caller bug.
        assert!(matches!(
            s.rotate_refresh(
                &FamilyId::new("f1"),
                2,
                &TokenHash::new("f1-2"),
                &rtoken("x5", "f1", 5)
            )
            .await,
            Err(StoreError::Other(_))
        ));

        // A revoked family no longer rotates, even with its current token.
        let t = Teardown {
            now: 140,
            reason: RevokeReason::RevokedByClient,
            families: vec![FamilyId::new("f1")],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        s.apply_teardown(&t, 600).await.unwrap();
        assert!(
            !s.rotate_refresh(
                &FamilyId::new("f1"),
                2,
                &TokenHash::new("f1-2"),
                &rtoken("f1-3", "f1", 3)
            )
            .await
            .unwrap(),
            "{}",
            b.name
        );
        assert_eq!(family_tokens(s, "f1").await.len(), 3, "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_rotations_have_exactly_one_winner() {
    const N: usize = 20;
    for b in backends().await {
        seed(&b.store).await;
        start(&b.store, &family("f1", "u1", "s1", 100)).await;

        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = b.store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let next = rtoken(&format!("next-{i}"), "f1", 1);
                    barrier.wait().await;
                    store
                        .rotate_refresh(&FamilyId::new("f1"), 0, &TokenHash::new("f1-0"), &next)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if t.await.unwrap().unwrap() {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{}: winners {winners:?}", b.name);
        let tokens = family_tokens(&b.store, "f1").await;
        assert_eq!(tokens.len(), 2, "{}", b.name);
        assert_eq!(
            tokens[1].token_hash,
            TokenHash::new(format!("next-{}", winners[0])),
            "{}",
            b.name
        );
        assert_eq!(
            b.store
                .find_family(&FamilyId::new("f1"))
                .await
                .unwrap()
                .unwrap()
                .generation,
            1,
            "{}",
            b.name
        );
    }
}

/// A revocation racing many refreshes of the same family: once the
/// teardown has answered, no refresh may succeed, and the family's chain of
/// tokens stays a chain (one winner per generation, no gaps, at most one
/// unused token). Round 0 releases everything at the same instant; later
/// rounds hold the teardown back a little so it lands mid-chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn rotation_racing_teardown_leaves_no_live_token() {
    for b in backends().await {
        seed(&b.store).await;
        let mut chains = Vec::new();
        for (round, delay_ms) in [0u64, 0, 5, 20, 50].into_iter().enumerate() {
            let id = format!("f{round}");
            start(&b.store, &family(&id, "u1", "s1", 100)).await;
            let n = race_rotations_with_teardown(&b.store, &id, delay_ms, b.name).await;
            chains.push(n);
        }
        eprintln!(
            "{}: rotations before the teardown, per round: {chains:?}",
            b.name
        );
    }
}

/// A family is created only while its session is live: after a logout,
/// nothing; racing a logout, every family that exists afterwards is
/// revoked. Released at the same instant, then again with the logout held
/// back a little so that it lands among the inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn family_creation_racing_a_logout_leaves_no_live_family() {
    const CREATORS: usize = 30;
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_session(&session("ended", "u1", 100))
            .await
            .unwrap();
        s.end_session(&SessionId::new("ended"), 110).await.unwrap();
        let late = family("late", "u1", "ended", 120);
        assert!(
            !s.create_family(&late, &first_token(&late)).await.unwrap(),
            "{}: no family for an ended session",
            b.name
        );
        assert_eq!(
            s.find_family(&FamilyId::new("late")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert!(
            family_tokens(s, "late").await.is_empty(),
            "{}: nor its first token",
            b.name
        );

        for (round, delay_ms) in [0u64, 0, 2, 5, 10].into_iter().enumerate() {
            let sid = format!("race{round}");
            s.insert_session(&session(&sid, "u1", 100)).await.unwrap();
            let barrier = Arc::new(tokio::sync::Barrier::new(CREATORS + 1));
            let creators: Vec<_> = (0..CREATORS)
                .map(|i| {
                    let (store, barrier, sid) = (s.clone(), barrier.clone(), sid.clone());
                    tokio::spawn(async move {
                        let f = family(&format!("{sid}-f{i}"), "u1", &sid, 150);
                        barrier.wait().await;
                        store.create_family(&f, &first_token(&f)).await.unwrap()
                    })
                })
                .collect();
            let logout = {
                let (store, barrier, sid) = (s.clone(), barrier.clone(), sid.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    if delay_ms > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    }
                    let t = Teardown {
                        now: 200,
                        reason: RevokeReason::Logout,
                        end_sessions: vec![SessionId::new(sid.clone())],
                        families_of_sessions: vec![SessionId::new(sid)],
                        ..Teardown::new(0, RevokeReason::Logout)
                    };
                    store.apply_teardown(&t, 600).await.unwrap()
                })
            };
            let torn = logout.await.unwrap();
            let mut created = 0;
            for c in creators {
                created += usize::from(c.await.unwrap());
            }
            let families: Vec<RefreshFamily> = s
                .list_user_families(&UserId::new("u1"))
                .await
                .unwrap()
                .into_iter()
                .filter(|f| f.session_id.as_str() == sid)
                .collect();
            assert_eq!(families.len(), created, "{}: round {round}", b.name);
            for f in &families {
                assert!(
                    f.is_revoked(),
                    "{}: round {round}: family {} outlived its session's logout",
                    b.name,
                    f.id
                );
            }
            let mut revoked = torn.revoked_families.clone();
            revoked.sort();
            let mut ids: Vec<FamilyId> = families.iter().map(|f| f.id.clone()).collect();
            ids.sort();
            assert_eq!(revoked, ids, "{}: round {round}", b.name);
            eprintln!(
                "{}: round {round}: {created} of {CREATORS} families created before the logout",
                b.name
            );
        }
    }
}

/// Runs one race on family `id`; returns how many rotations won.
async fn race_rotations_with_teardown(s: &SeaStore, id: &str, delay_ms: u64, name: &str) -> i64 {
    const ROTATORS: usize = 30;
    let barrier = Arc::new(tokio::sync::Barrier::new(ROTATORS + 1));
    let torn_down = Arc::new(AtomicBool::new(false));
    let rotators: Vec<_> = (0..ROTATORS)
        .map(|i| {
            let (store, barrier, torn_down, id) = (
                s.clone(),
                barrier.clone(),
                torn_down.clone(),
                FamilyId::new(id),
            );
            tokio::spawn(async move {
                let mut won = Vec::new();
                // Read before the barrier, so that the first thing every task
                // does once released is the rotation itself.
                let mut seen = 0;
                let mut current = TokenHash::new(format!("{id}-0"));
                barrier.wait().await;
                // Bounded: the teardown ends every loop when it commits.
                for attempt in 0..10_000 {
                    let next = rtoken(
                        &format!("{id}-{}-{i}-{attempt}", seen + 1),
                        id.as_str(),
                        seen + 1,
                    );
                    let after_teardown = torn_down.load(Ordering::SeqCst);
                    let ok = store
                        .rotate_refresh(&id, seen, &current, &next)
                        .await
                        .unwrap();
                    if ok {
                        assert!(!after_teardown, "a refresh won after the revoke answered");
                        won.push(next.generation);
                    }
                    let fam = store.find_family(&id).await.unwrap().unwrap();
                    if fam.is_revoked() {
                        break;
                    }
                    seen = fam.generation;
                    current = store
                        .find_family_token(&id, seen)
                        .await
                        .unwrap()
                        .expect("the family's newest token exists")
                        .token_hash;
                }
                won
            })
        })
        .collect();
    let teardown = {
        let (store, barrier, torn_down, id) = (
            s.clone(),
            barrier.clone(),
            torn_down.clone(),
            FamilyId::new(id),
        );
        tokio::spawn(async move {
            barrier.wait().await;
            if delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            }
            let t = Teardown {
                now: 200,
                reason: RevokeReason::RevokedByClient,
                families: vec![id],
                ..Teardown::new(0, RevokeReason::Logout)
            };
            let res = store.apply_teardown(&t, 600).await;
            torn_down.store(true, Ordering::SeqCst);
            res
        })
    };

    let res = teardown.await.unwrap().unwrap();
    assert_eq!(res.revoked_families, [FamilyId::new(id)], "{name}");
    let mut won = Vec::new();
    for r in rotators {
        won.extend(r.await.unwrap());
    }
    won.sort_unstable();

    let fam = s.find_family(&FamilyId::new(id)).await.unwrap().unwrap();
    assert!(fam.is_revoked(), "{name}");
    let n = fam.generation;
    assert_eq!(
        won,
        (1..=n).collect::<Vec<_>>(),
        "{name}: exactly one winner per generation"
    );
    let tokens = family_tokens(s, id).await;
    let generations: Vec<i64> = tokens.iter().map(|t| t.generation).collect();
    assert_eq!(generations, (0..=n).collect::<Vec<_>>(), "{name}: no gaps");
    let unused: Vec<i64> = tokens
        .iter()
        .filter(|t| t.used_at.is_none())
        .map(|t| t.generation)
        .collect();
    assert_eq!(unused, [n], "{name}: only the newest token is unused");
    assert!(
        s.any_revoked(&keys(&[&format!("f:{id}")])).await.unwrap(),
        "{name}"
    );
    let newest = &tokens.last().unwrap().token_hash;
    assert!(
        !s.rotate_refresh(
            &FamilyId::new(id),
            n,
            newest,
            &rtoken(&format!("{id}-late"), id, n + 1)
        )
        .await
        .unwrap(),
        "{name}"
    );
    n
}

#[tokio::test]
async fn teardown_ends_sessions_revokes_families_and_queues_deliveries() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await; // c1, u1, s1
        s.insert_user(&user("u2", "bob")).await.unwrap();
        s.insert_session(&session("s2", "u1", 110)).await.unwrap();
        s.insert_session(&session("s3", "u2", 120)).await.unwrap();
        s.insert_session(&session("s4", "u1", 130)).await.unwrap();
        s.end_session(&SessionId::new("s4"), 140).await.unwrap();
        start(s, &family("fa", "u1", "s1", 100)).await;
        start(s, &family("fb", "u1", "s2", 100)).await;
        start(s, &family("fc", "u2", "s3", 100)).await;
        start(s, &family("fd", "u2", "s3", 100)).await;
        start(s, &family("fe", "u1", "s1", 100)).await;
        // Already revoked: neither revoked again nor reported.
        let t0 = Teardown {
            now: 150,
            reason: RevokeReason::SessionEndedByUser,
            families: vec![FamilyId::new("fe")],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        assert_eq!(
            s.apply_teardown(&t0, 600).await.unwrap().revoked_families,
            [FamilyId::new("fe")],
            "{}",
            b.name
        );

        // Logout of s1 (and s4, already ended), plus one of u2's families
        // by id, and an extra access-token revocation.
        let t = Teardown {
            now: 200,
            reason: RevokeReason::Logout,
            end_sessions: vec![SessionId::new("s1"), SessionId::new("s4")],
            families_of_sessions: vec![SessionId::new("s1")],
            families_of_user: None,
            families: vec![FamilyId::new("fd")],
            revocations: vec![revoked("t:jti-1", 200, 900)],
            deliveries: vec![delivery("d1", 200, 200), delivery("d2", 200, 200)],
        };
        let res = s.apply_teardown(&t, 600).await.unwrap();
        assert_eq!(
            res,
            TeardownResult {
                ended_sessions: vec![SessionId::new("s1")],
                revoked_families: vec![FamilyId::new("fa"), FamilyId::new("fd")],
            },
            "{}",
            b.name
        );
        assert_eq!(
            s.find_session(&SessionId::new("s1"))
                .await
                .unwrap()
                .unwrap()
                .ended_at,
            Some(200),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_session(&SessionId::new("s4"))
                .await
                .unwrap()
                .unwrap()
                .ended_at,
            Some(140),
            "{}: an ended session keeps its end",
            b.name
        );
        let fa = s.find_family(&FamilyId::new("fa")).await.unwrap().unwrap();
        assert_eq!(
            (
                fa.is_revoked(),
                fa.revoked_at(),
                fa.revoked_reason().map(|r| r.as_str())
            ),
            (true, Some(200), Some("logout")),
            "{}",
            b.name
        );
        let fe = s.find_family(&FamilyId::new("fe")).await.unwrap().unwrap();
        assert_eq!(
            (fe.revoked_at(), fe.revoked_reason().map(|r| r.as_str())),
            (Some(150), Some("session ended by its user")),
            "{}",
            b.name
        );
        for untouched in ["fb", "fc"] {
            assert!(
                !s.find_family(&FamilyId::new(untouched))
                    .await
                    .unwrap()
                    .unwrap()
                    .is_revoked(),
                "{}: {untouched}",
                b.name
            );
        }
        for k in ["s:s1", "f:fa", "f:fd", "t:jti-1"] {
            assert!(s.any_revoked(&keys(&[k])).await.unwrap(), "{}: {k}", b.name);
        }
        assert!(!s
            .any_revoked(&keys(&["s:s4", "f:fb", "f:fc"]))
            .await
            .unwrap());
        let recorded = s.revocations_since(200, 200).await.unwrap();
        let s1 = recorded.iter().find(|r| r.key == "s:s1").unwrap();
        assert_eq!(
            (s1.revoked_at, s1.expires_at, s1.reason.as_str()),
            (200, 800, "logout"),
            "{}",
            b.name
        );
        let queued: Vec<String> = s
            .due_deliveries(200, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(queued, ["d1", "d2"], "{}", b.name);

        // Password change of u1: every remaining family of u1, not u2's.
        let t = Teardown {
            now: 300,
            reason: RevokeReason::PasswordChanged,
            families_of_user: Some(UserId::new("u1")),
            ..Teardown::new(0, RevokeReason::Logout)
        };
        let res = s.apply_teardown(&t, 600).await.unwrap();
        assert_eq!(res.revoked_families, [FamilyId::new("fb")], "{}", b.name);
        assert!(res.ended_sessions.is_empty(), "{}", b.name);
        assert!(
            !s.find_family(&FamilyId::new("fc"))
                .await
                .unwrap()
                .unwrap()
                .is_revoked(),
            "{}: another user's family",
            b.name
        );

        // An empty teardown is a no-op, not an error.
        let empty = s
            .apply_teardown(
                &Teardown {
                    now: 400,
                    ..Teardown::new(0, RevokeReason::Logout)
                },
                600,
            )
            .await
            .unwrap();
        assert_eq!(empty, TeardownResult::default(), "{}", b.name);
    }
}

#[tokio::test]
async fn failed_teardown_changes_nothing() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_session(&session("s2", "u1", 110)).await.unwrap();
        start(s, &family("f2", "u1", "s2", 100)).await;
        let first = Teardown {
            now: 150,
            reason: RevokeReason::SessionEndedByOperator,
            deliveries: vec![delivery("d1", 150, 150)],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        s.apply_teardown(&first, 600).await.unwrap();

        // The last statement (the delivery insert) fails: a duplicate id.
        let t = Teardown {
            now: 200,
            reason: RevokeReason::Logout,
            end_sessions: vec![SessionId::new("s2")],
            families_of_sessions: vec![SessionId::new("s2")],
            revocations: vec![revoked("t:j", 200, 900)],
            deliveries: vec![delivery("d2", 200, 200), delivery("d1", 200, 200)],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        let err = s.apply_teardown(&t, 600).await;
        assert!(
            matches!(err, Err(StoreError::Conflict(_))),
            "{}: {err:?}",
            b.name
        );

        assert!(
            s.find_session(&SessionId::new("s2"))
                .await
                .unwrap()
                .unwrap()
                .is_active(),
            "{}",
            b.name
        );
        assert!(
            !s.find_family(&FamilyId::new("f2"))
                .await
                .unwrap()
                .unwrap()
                .is_revoked(),
            "{}",
            b.name
        );
        assert!(
            !s.any_revoked(&keys(&["s:s2", "f:f2", "t:j"]))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        let ids: Vec<String> = s
            .list_deliveries(10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["d1"], "{}", b.name);
        assert!(
            s.rotate_refresh(
                &FamilyId::new("f2"),
                0,
                &TokenHash::new("f2-0"),
                &rtoken("f2-1", "f2", 1)
            )
            .await
            .unwrap(),
            "{}: the family still works",
            b.name
        );
    }
}

#[tokio::test]
async fn session_clients_are_recorded_once() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        s.insert_client(&client("c0", 5)).await.unwrap();
        s.insert_client(&client("c2", 20)).await.unwrap();
        assert_eq!(
            s.session_clients(&SessionId::new("s1")).await.unwrap(),
            vec![],
            "{}",
            b.name
        );
        s.record_session_client(&SessionId::new("s1"), &cid("c2"), 100)
            .await
            .unwrap();
        s.record_session_client(&SessionId::new("s1"), &cid("c1"), 110)
            .await
            .unwrap();
        s.record_session_client(&SessionId::new("s1"), &cid("c2"), 120)
            .await
            .unwrap();
        s.record_session_client(&SessionId::new("s1"), &cid("c0"), 110)
            .await
            .unwrap();
        assert_eq!(
            s.session_clients(&SessionId::new("s1")).await.unwrap(),
            vec![cid("c2"), cid("c0"), cid("c1")],
            "{}: by first appearance, recorded once",
            b.name
        );
        assert_eq!(
            s.session_clients(&SessionId::new("s2")).await.unwrap(),
            vec![],
            "{}",
            b.name
        );
        // Deleting a client removes it from the sessions' lists.
        s.delete_client(&cid("c2")).await.unwrap();
        assert_eq!(
            s.session_clients(&SessionId::new("s1")).await.unwrap(),
            vec![cid("c0"), cid("c1")],
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn outbox_due_and_mark_flow() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let t = Teardown {
            now: 20,
            reason: RevokeReason::Logout,
            deliveries: vec![
                delivery("d1", 10, 10),
                delivery("d2", 20, 50),
                delivery("d3", 5, 100),
            ],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        s.apply_teardown(&t, 600).await.unwrap();
        let due = |now: i64, limit: u64| async move {
            s.due_deliveries(now, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };

        assert_eq!(due(9, 10).await, Vec::<String>::new(), "{}", b.name);
        assert_eq!(due(60, 10).await, ["d1", "d2"], "{}", b.name);
        assert_eq!(
            due(100, 10).await,
            ["d3", "d1", "d2"],
            "{}: oldest first",
            b.name
        );
        assert_eq!(due(100, 1).await, ["d3"], "{}", b.name);
        assert_eq!(
            s.list_deliveries(10).await.unwrap()[0],
            delivery("d2", 20, 50),
            "{}: round trip",
            b.name
        );

        s.mark_delivered("d1", 61).await.unwrap();
        assert_eq!(due(60, 10).await, ["d2"], "{}", b.name);
        let long_error = "é".repeat(600);
        s.mark_failed("d2", 1, Some(200), &long_error)
            .await
            .unwrap();
        assert_eq!(due(100, 10).await, ["d3"], "{}", b.name);
        assert_eq!(due(200, 10).await, ["d3", "d2"], "{}", b.name);
        // Gives up on d3; a late failure report does not reopen d1.
        s.mark_failed("d3", 5, None, "410 Gone").await.unwrap();
        s.mark_failed("d1", 1, Some(70), "timeout").await.unwrap();
        assert_eq!(due(i64::MAX - 1, 10).await, ["d2"], "{}", b.name);

        let all = s.list_deliveries(10).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["d2", "d1", "d3"], "{}: newest first", b.name);
        let [d2, d1, d3] = &all[..] else {
            unreachable!()
        };
        assert_eq!(
            (d1.delivered_at, d1.attempts, d1.last_error.as_deref()),
            (Some(61), 0, None),
            "{}",
            b.name
        );
        assert_eq!((d2.attempts, d2.next_attempt_at), (1, 200), "{}", b.name);
        assert_eq!(
            d2.last_error.as_deref(),
            Some("é".repeat(500).as_str()),
            "{}: truncated to 500 characters",
            b.name
        );
        assert_eq!(
            (d3.attempts, d3.next_attempt_at, d3.delivered_at),
            (5, GIVEN_UP, None),
            "{}",
            b.name
        );
        assert_eq!(s.list_deliveries(1).await.unwrap().len(), 1, "{}", b.name);
    }
}

#[tokio::test]
async fn sweep_families_revokes_expired_and_purges_old() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let (now, idle, purge_before) = (10_000, 1_000, 5_000);
        let mk = |id: &str, last_used_at: i64, expires_at: i64| RefreshFamily {
            last_used_at,
            expires_at,
            ..family(id, "u1", "s1", 100)
        };
        start(s, &mk("live", now - 10, now + 1)).await;
        start(s, &mk("idle-edge", now - idle, now + 1)).await; // exactly at the limit: kept
        start(s, &mk("idle", now - idle - 1, now + 1)).await;
        start(s, &mk("ended", now - 10, now)).await;
        start(s, &mk("long-gone", 100, purge_before - 1)).await;
        start(s, &mk("revoked-old", now - 10, now + 1)).await;
        start(s, &mk("revoked-new", now - 10, now + 1)).await;
        for (id, at) in [
            ("revoked-old", purge_before - 1),
            ("revoked-new", purge_before),
        ] {
            let t = Teardown {
                now: at,
                reason: RevokeReason::Logout,
                families: vec![FamilyId::new(id)],
                ..Teardown::new(0, RevokeReason::Logout)
            };
            s.apply_teardown(&t, 600).await.unwrap();
        }

        // Revoked: idle, ended, long-gone (3); purged: long-gone,
        // revoked-old (2).
        assert_eq!(
            sweep_all(
                s,
                &[Sweep::RefreshFamilies {
                    now,
                    idle_timeout: idle,
                    purge_before
                }]
            )
            .await,
            5,
            "{}",
            b.name
        );
        for gone in ["long-gone", "revoked-old"] {
            assert_eq!(
                s.find_family(&FamilyId::new(gone)).await.unwrap(),
                None,
                "{}: {gone}",
                b.name
            );
            assert_eq!(
                s.find_refresh_token(&TokenHash::new(format!("{gone}-0")))
                    .await
                    .unwrap(),
                None,
                "{}: tokens go with the family",
                b.name
            );
        }
        for expired in ["idle", "ended"] {
            let f = s
                .find_family(&FamilyId::new(expired))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (
                    f.is_revoked(),
                    f.revoked_at(),
                    f.revoked_reason().map(|r| r.as_str())
                ),
                (true, Some(now), Some("expired")),
                "{}: {expired}",
                b.name
            );
        }
        for kept in ["live", "idle-edge"] {
            assert!(
                !s.find_family(&FamilyId::new(kept))
                    .await
                    .unwrap()
                    .unwrap()
                    .is_revoked(),
                "{}: {kept}",
                b.name
            );
        }
        assert_eq!(
            s.find_family(&FamilyId::new("revoked-new"))
                .await
                .unwrap()
                .unwrap()
                .revoked_reason(),
            Some(RevokeReason::Logout),
            "{}",
            b.name
        );
        assert_eq!(
            sweep_all(
                s,
                &[Sweep::RefreshFamilies {
                    now,
                    idle_timeout: idle,
                    purge_before
                }]
            )
            .await,
            0,
            "{}: nothing left",
            b.name
        );
    }
}

/// Revocation and purge share one batch's bound, revocation first; a
/// family is revoked before it is purged, whatever the batch size.
#[tokio::test]
async fn a_family_batch_stops_at_its_limit() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let (now, idle) = (10_000, 1_000);
        let mk = |id: &str, expires_at: i64| RefreshFamily {
            last_used_at: now - 10,
            expires_at,
            ..family(id, "u1", "s1", 100)
        };
        for i in 0..3 {
            start(s, &mk(&format!("ended-{i}"), now - i)).await;
        }
        start(s, &mk("live", now + 1_000)).await;
        let at = |now: i64, purge_before: i64| Sweep::RefreshFamilies {
            now,
            idle_timeout: idle,
            purge_before,
        };
        // Nothing is old enough to purge yet: three revocations, two a batch.
        assert_eq!(
            s.sweep_batch(&at(now, 0), 2).await.unwrap(),
            2,
            "{}",
            b.name
        );
        let revoked = || async move {
            let mut n = 0;
            for i in 0..3 {
                let f = s.find_family(&FamilyId::new(format!("ended-{i}"))).await;
                n += f.unwrap().unwrap().is_revoked() as usize;
            }
            n
        };
        assert_eq!(revoked().await, 2, "{}", b.name);
        assert_eq!(
            s.sweep_batch(&at(now, 0), 2).await.unwrap(),
            1,
            "{}",
            b.name
        );
        assert_eq!(revoked().await, 3, "{}", b.name);
        // Later, past their retention: purged two a batch, the live one kept.
        let later = now + 10;
        assert_eq!(
            s.sweep_batch(&at(later, now + 1), 2).await.unwrap(),
            2,
            "{}",
            b.name
        );
        assert_eq!(
            s.sweep_batch(&at(later, now + 1), 2).await.unwrap(),
            1,
            "{}",
            b.name
        );
        assert_eq!(
            s.sweep_batch(&at(later, now + 1), 2).await.unwrap(),
            0,
            "{}",
            b.name
        );
        for i in 0..3 {
            assert_eq!(
                s.find_family(&FamilyId::new(format!("ended-{i}")))
                    .await
                    .unwrap(),
                None,
                "{}",
                b.name
            );
        }
        let live = s
            .find_family(&FamilyId::new("live"))
            .await
            .unwrap()
            .unwrap();
        assert!(!live.is_revoked(), "{}", b.name);
    }
}

/// Delivered and given-up deliveries go once older than the retention;
/// pending ones stay however old, and so do recent settled ones.
#[tokio::test]
async fn the_outbox_sweep_keeps_pending_and_recent_deliveries() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let t = Teardown {
            now: 10,
            reason: RevokeReason::Logout,
            deliveries: vec![
                delivery("delivered-old", 10, 10),
                delivery("delivered-new", 10, 10),
                delivery("given-up-old", 10, 10),
                delivery("given-up-new", 200, 200),
                delivery("pending-old", 10, 20),
                delivery("retrying-old", 10, 10),
            ],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        s.apply_teardown(&t, 600).await.unwrap();
        s.mark_delivered("delivered-old", 50).await.unwrap();
        s.mark_delivered("delivered-new", 150).await.unwrap();
        s.mark_failed("given-up-old", 5, None, "410 Gone")
            .await
            .unwrap();
        s.mark_failed("given-up-new", 5, None, "410 Gone")
            .await
            .unwrap();
        s.mark_failed("retrying-old", 3, Some(5_000), "timeout")
            .await
            .unwrap();
        let sweep = Sweep::Outbox {
            settled_before: 100,
        };
        assert_eq!(s.sweep_batch(&sweep, 1).await.unwrap(), 1, "{}", b.name);
        assert_eq!(s.sweep_batch(&sweep, 5).await.unwrap(), 1, "{}", b.name);
        assert_eq!(s.sweep_batch(&sweep, 5).await.unwrap(), 0, "{}", b.name);
        let mut left: Vec<String> = s
            .list_deliveries(10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "delivered-new",
                "given-up-new",
                "pending-old",
                "retrying-old"
            ],
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn a_delivery_is_claimed_by_one_worker_only() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let t = Teardown {
            now: 20,
            reason: RevokeReason::Logout,
            deliveries: vec![delivery("d1", 10, 10)],
            ..Teardown::new(0, RevokeReason::Logout)
        };
        s.apply_teardown(&t, 600).await.unwrap();
        let seen = s.due_deliveries(20, 10).await.unwrap()[0].next_attempt_at;
        assert!(
            s.claim_delivery("d1", seen, 50).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.claim_delivery("d1", seen, 50).await.unwrap(),
            "{}: a second worker with the same view loses",
            b.name
        );
        assert!(
            s.due_deliveries(49, 10).await.unwrap().is_empty(),
            "{}: leased",
            b.name
        );
        assert_eq!(
            s.due_deliveries(50, 10).await.unwrap().len(),
            1,
            "{}: the lease ran out",
            b.name
        );
        s.mark_delivered("d1", 30).await.unwrap();
        assert!(
            !s.claim_delivery("d1", 50, 90).await.unwrap(),
            "{}: delivered",
            b.name
        );
    }
}

/// Rolling back the rotation-by-insert migration writes the family's
/// generation and last use, and each token's use, back from the chain; the
/// migration then drops them again and the chain reads the same.
#[tokio::test]
async fn rotation_columns_roll_back_from_the_chain() {
    use latchkey_migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};

    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        // Without claims: the columns of later migrations go with them.
        let f1 = RefreshFamily {
            claims: RequestedClaims::default(),
            ..family("f1", "u1", "s1", 100)
        };
        start(s, &f1).await;
        for (g, at) in [(1, 110), (2, 125)] {
            let next = rtoken_at(&format!("f1-{g}"), "f1", g, at);
            let prev = format!("f1-{}", g - 1);
            assert!(s
                .rotate_refresh(&FamilyId::new("f1"), g - 1, &TokenHash::new(prev), &next)
                .await
                .unwrap());
        }
        let before = (
            s.find_family(&FamilyId::new("f1")).await.unwrap(),
            family_tokens(s, "f1").await,
        );

        // Back to before rotation-by-insert, whatever came after it.
        let since = Migrator::migrations()
            .iter()
            .rev()
            .position(|m| m.name() == "m20261201_000005_rotation_by_insert")
            .expect("the migration exists") as u32;
        Migrator::down(s.db.ungated(), Some(since + 1))
            .await
            .unwrap();
        let backend = s.db.get_database_backend();
        let row =
            s.db.query_one(Statement::from_string(
                backend,
                "SELECT generation, last_used_at FROM refresh_families WHERE id = 'f1'",
            ))
            .await
            .unwrap()
            .unwrap();
        let family_cols: (i64, i64) = (
            row.try_get("", "generation").unwrap(),
            row.try_get("", "last_used_at").unwrap(),
        );
        assert_eq!(family_cols, (2, 125), "{}", b.name);
        let rows =
            s.db.query_all(Statement::from_string(
                backend,
                "SELECT used_at FROM refresh_tokens WHERE family_id = 'f1' ORDER BY generation",
            ))
            .await
            .unwrap();
        let used: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.try_get("", "used_at").unwrap())
            .collect();
        assert_eq!(used, [Some(110), Some(125), None], "{}", b.name);

        s.migrate().await.unwrap();
        let after = (
            s.find_family(&FamilyId::new("f1")).await.unwrap(),
            family_tokens(s, "f1").await,
        );
        assert_eq!(before, after, "{}", b.name);
    }
}

/// A session opens only while its user still has the password hash the
/// sign-in verified. Released at the same instant as a password change
/// whose teardown then ends the user's sessions: afterwards no session of
/// the user is active, whichever order the database chose.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sign_ins_racing_a_password_change_leave_no_live_session() {
    const SIGN_INS: usize = 30;
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let old = user("u1", "alice").password_hash;
        let fresh = |id: String| BrowserSession {
            id: SessionId::new(id.clone()),
            token_hash: TokenHash::new(format!("hash-{id}")),
            ..session(&id, "u1", 150)
        };
        assert!(!s
            .open_session_if_current(&fresh("wrong".into()), "not-the-hash")
            .await
            .unwrap());
        for (round, delay_ms) in [0u64, 0, 2, 5].into_iter().enumerate() {
            let barrier = Arc::new(tokio::sync::Barrier::new(SIGN_INS + 1));
            let sign_ins: Vec<_> = (0..SIGN_INS)
                .map(|i| {
                    let (store, barrier, old) = (s.clone(), barrier.clone(), old.clone());
                    let sess = fresh(format!("r{round}-{i}"));
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.open_session_if_current(&sess, &old).await.unwrap()
                    })
                })
                .collect();
            let change = {
                let (store, barrier) = (s.clone(), barrier.clone());
                let new_hash = format!("new-hash-{round}");
                tokio::spawn(async move {
                    barrier.wait().await;
                    if delay_ms > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    }
                    assert!(store
                        .set_password(&UserId::new("u1"), &new_hash, 200)
                        .await
                        .unwrap());
                    let live: Vec<SessionId> = store
                        .list_active_sessions(&UserId::new("u1"))
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|s| s.id)
                        .collect();
                    let t = Teardown {
                        now: 200,
                        reason: RevokeReason::PasswordChanged,
                        end_sessions: live.clone(),
                        families_of_sessions: live,
                        ..Teardown::new(0, RevokeReason::Logout)
                    };
                    store.apply_teardown(&t, 600).await.unwrap();
                })
            };
            change.await.unwrap();
            let mut opened = 0;
            for t in sign_ins {
                opened += usize::from(t.await.unwrap());
            }
            let live = s.list_active_sessions(&UserId::new("u1")).await.unwrap();
            assert!(
                live.is_empty(),
                "{}: round {round}: sessions outlived the password change: {:?}",
                b.name,
                live.iter().map(|s| &s.id).collect::<Vec<_>>()
            );
            eprintln!(
                "{}: round {round}: {opened} of {SIGN_INS} sessions opened before the change",
                b.name
            );
            // The next round races the change from this round's hash.
            s.set_password(&UserId::new("u1"), &old, 201).await.unwrap();
        }
    }
}
