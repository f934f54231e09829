//! The database's attempt counter on both backends: each of many hits at
//! once on one key sees its own count, runs restart after the idle window,
//! and idle rows are swept.

use std::sync::Arc;

use latchkey_domain::{AttemptCounter, Hit};

use super::backends;

const IDLE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_hits_on_one_key_each_see_their_own_count() {
    const N: i64 = 40;
    for b in backends().await {
        let keys = vec!["p:x".to_owned(), "i:y".to_owned()];
        let barrier = Arc::new(tokio::sync::Barrier::new(N as usize));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let (store, barrier, keys) = (b.store.clone(), barrier.clone(), keys.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.hit(&keys, 1_000, IDLE).await
                })
            })
            .collect();
        let mut counts = Vec::new();
        for t in tasks {
            let hits = t.await.unwrap().unwrap();
            assert_eq!(hits.len(), 2, "{}", b.name);
            for hit in &hits {
                assert_eq!(
                    hit.previous_ms.is_some(),
                    hit.count > 1,
                    "{}: {hit:?}",
                    b.name
                );
            }
            counts.push(hits[0].count);
        }
        counts.sort();
        assert_eq!(counts, (1..=N).collect::<Vec<_>>(), "{}", b.name);
    }
}

#[tokio::test]
async fn runs_restart_are_taken_back_cleared_and_swept() {
    for b in backends().await {
        let s = &b.store;
        let k = |n: &str| vec![n.to_owned()];
        for _ in 0..3 {
            s.hit(&k("a"), 1_000, IDLE).await.unwrap();
        }
        // Answers come in the order asked, whatever the rows' order.
        let hits = s
            .hit(&[k("b"), k("a")].concat(), 2_000, IDLE)
            .await
            .unwrap();
        let expected = [
            Hit {
                count: 1,
                previous_ms: None,
            },
            Hit {
                count: 4,
                previous_ms: Some(1_000),
            },
        ];
        assert_eq!(hits, expected, "{}", b.name);
        s.forgive("a").await.unwrap();
        let hit = s.hit(&k("a"), 3_000, IDLE).await.unwrap()[0];
        assert_eq!((hit.count, hit.previous_ms), (4, Some(2_000)), "{}", b.name);
        // Idle for the window: a new run.
        let hit = s.hit(&k("a"), 63_000, IDLE).await.unwrap()[0];
        assert_eq!((hit.count, hit.previous_ms), (1, None), "{}", b.name);
        s.clear(&k("a")).await.unwrap();
        s.forgive("a").await.unwrap();
        s.forgive("b").await.unwrap();
        s.forgive("b").await.unwrap();
        let hit = s.hit(&k("b"), 2_500, IDLE).await.unwrap()[0];
        assert_eq!(hit.count, 1, "{}: never below zero", b.name);
        assert_eq!(s.sweep(62_000, IDLE, 100).await.unwrap(), 0, "{}", b.name);
        assert_eq!(s.sweep(62_500, IDLE, 100).await.unwrap(), 1, "{}", b.name);
        let hit = s.hit(&k("b"), 62_501, IDLE).await.unwrap()[0];
        assert_eq!((hit.count, hit.previous_ms), (1, None), "{}", b.name);
    }
}
