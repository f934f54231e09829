//! Pushed authorization requests, DPoP-bound codes and values used once,
//! on both backends: each is single-use under concurrent callers.

use std::sync::Arc;

use latchkey_domain::{
    AuthorizationRepository, CodePresenter, CodeRedemption, Jkt, PushedRequest, TokenHash, UsedOnce,
};

use super::{backends, cid, code, expired_at, issued, presenter, seed, sweep_all};

fn pushed(hash: &str, expires_at: i64) -> PushedRequest {
    PushedRequest {
        request_hash: TokenHash::new(hash),
        client_id: cid("c1"),
        query: "client_id=c1&response_type=code&state=s".into(),
        created_at: 100,
        expires_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_pushed_request_is_taken_once() {
    const N: usize = 20;
    for b in backends().await {
        seed(&b.store).await;
        b.store.insert_pushed(&pushed("p1", 160)).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let (store, barrier) = (b.store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.take_pushed(&TokenHash::new("p1")).await
                })
            })
            .collect();
        let mut taken = Vec::new();
        for t in tasks {
            if let Some(p) = t.await.unwrap().unwrap() {
                taken.push(p);
            }
        }
        assert_eq!(taken, vec![pushed("p1", 160)], "{}", b.name);
        assert_eq!(
            b.store.take_pushed(&TokenHash::new("p1")).await.unwrap(),
            None,
            "{}",
            b.name
        );
        // Expired pushes are swept; live ones stay.
        b.store.insert_pushed(&pushed("old", 150)).await.unwrap();
        b.store.insert_pushed(&pushed("live", 500)).await.unwrap();
        sweep_all(&b.store, &expired_at(200)).await;
        assert!(b
            .store
            .take_pushed(&TokenHash::new("old"))
            .await
            .unwrap()
            .is_none());
        assert!(b
            .store
            .take_pushed(&TokenHash::new("live"))
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn a_dpop_bound_code_goes_only_to_its_key_and_a_wrong_key_consumes_nothing() {
    let key = Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs").unwrap();
    let other = Jkt::parse("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I").unwrap();
    for b in backends().await {
        seed(&b.store).await;
        let mut bound = code("h1", "c1", "u1", 1_000);
        bound.dpop_jkt = Some(key.clone());
        b.store.insert_code(&bound).await.unwrap();
        let read_back = b
            .store
            .redeem_code(
                &TokenHash::new("h1"),
                &CodePresenter {
                    dpop_jkt: Some(&other),
                    ..presenter()
                },
                200,
                &issued("j0"),
            )
            .await
            .unwrap();
        assert!(
            matches!(read_back, CodeRedemption::WrongPresenter),
            "{}: {read_back:?}",
            b.name
        );
        let without = b
            .store
            .redeem_code(&TokenHash::new("h1"), &presenter(), 200, &issued("j1"))
            .await
            .unwrap();
        assert!(
            matches!(without, CodeRedemption::WrongPresenter),
            "{}",
            b.name
        );
        let right = b
            .store
            .redeem_code(
                &TokenHash::new("h1"),
                &CodePresenter {
                    dpop_jkt: Some(&key),
                    ..presenter()
                },
                200,
                &issued("j2"),
            )
            .await
            .unwrap();
        let CodeRedemption::Redeemed(c) = right else {
            panic!("{}: {right:?}", b.name)
        };
        assert_eq!(c.dpop_jkt, Some(key.clone()), "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_value_is_used_once_until_it_expires() {
    const N: usize = 20;
    for b in backends().await {
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let (store, barrier) = (b.store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.first_use("dpop:k1", 300, 100).await
                })
            })
            .collect();
        let mut firsts = 0;
        for t in tasks {
            firsts += t.await.unwrap().unwrap() as usize;
        }
        assert_eq!(firsts, 1, "{}", b.name);
        assert!(!b.store.first_use("dpop:k1", 300, 299).await.unwrap());
        // Past its time the key is free again (the caller refuses such an
        // old proof for its age anyway).
        assert!(
            b.store.first_use("dpop:k1", 700, 300).await.unwrap(),
            "{}",
            b.name
        );
        assert!(b.store.first_use("dpop:k2", 350, 300).await.unwrap());
        assert_eq!(b.store.sweep_used(400, 100).await.unwrap(), 1, "{}", b.name);
        assert!(!b.store.first_use("dpop:k1", 700, 400).await.unwrap());
    }
}
