//! The housekeeping sweep's bound: a batch changes at most `limit` rows,
//! leaves the rest for the next batch, and never touches a row its rule
//! does not select, on single-column and composite primary keys alike.

use latchkey_domain::*;
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{backends, cid, pending, seed};
use crate::entities::registration::client_assertions;
use crate::entities::{login_attempts, used_once};
use crate::SeaStore;

/// Batches of `limit` until one comes back short: each batch's count.
async fn batches(s: &SeaStore, sweep: &Sweep, limit: u64) -> Vec<u64> {
    let mut counts = Vec::new();
    loop {
        let n = s.sweep_batch(sweep, limit).await.unwrap();
        counts.push(n);
        if n < limit {
            return counts;
        }
    }
}

#[tokio::test]
async fn a_revocation_batch_stops_at_its_limit_and_spares_live_records() {
    for b in backends().await {
        let s = &b.store;
        let now = 1_000;
        for i in 0..5 {
            let t = RevokedToken {
                key: format!("old-{i}"),
                expires_at: now - i,
                revoked_at: 1,
                reason: RevokeReason::RevokedByClient,
            };
            s.revoke_token(&t).await.unwrap();
        }
        for i in 0..3 {
            let t = RevokedToken {
                key: format!("live-{i}"),
                expires_at: now + 1 + i,
                revoked_at: 1,
                reason: RevokeReason::RevokedByClient,
            };
            s.revoke_token(&t).await.unwrap();
        }
        let sweep = Sweep::Revocations { now };
        assert_eq!(s.sweep_batch(&sweep, 0).await.unwrap(), 0, "{}", b.name);
        assert_eq!(s.sweep_batch(&sweep, 2).await.unwrap(), 2, "{}", b.name);
        let left = (0..5).map(|i| format!("old-{i}")).collect::<Vec<_>>();
        let mut still = 0;
        for key in &left {
            still += s.any_revoked(std::slice::from_ref(key)).await.unwrap() as usize;
        }
        assert_eq!(still, 3, "{}: the rest waits for the next batch", b.name);
        assert_eq!(batches(s, &sweep, 2).await, [2, 1], "{}", b.name);
        for key in &left {
            assert!(
                !s.any_revoked(std::slice::from_ref(key)).await.unwrap(),
                "{}: {key}",
                b.name
            );
        }
        for i in 0..3 {
            assert!(
                s.any_revoked(&[format!("live-{i}")]).await.unwrap(),
                "{}: live-{i} untouched",
                b.name
            );
        }
    }
}

#[tokio::test]
async fn a_pending_request_batch_stops_at_its_limit() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let now = 500;
        for i in 0..3 {
            s.insert_pending(&pending(&format!("old-{i}"), "c1", now))
                .await
                .unwrap();
        }
        s.insert_pending(&pending("live", "c1", now + 1))
            .await
            .unwrap();
        let sweep = Sweep::PendingRequests { now };
        assert_eq!(batches(s, &sweep, 2).await, [2, 1], "{}", b.name);
        for i in 0..3 {
            assert_eq!(
                s.find_pending(&format!("old-{i}")).await.unwrap(),
                None,
                "{}",
                b.name
            );
        }
        assert!(
            s.find_pending("live").await.unwrap().is_some(),
            "{}",
            b.name
        );
    }
}

/// `client_assertions` has a two-column key: the batch picks rows by the
/// pair.
#[tokio::test]
async fn an_assertion_jti_batch_works_on_a_composite_key() {
    for b in backends().await {
        let s = &b.store;
        seed(s).await;
        let now = 700;
        // The same jti under two clients is two records.
        s.insert_client(&super::client("c2", 10)).await.unwrap();
        for client in ["c1", "c2"] {
            for i in 0..2 {
                assert!(s
                    .record_assertion_jti(&cid(client), &format!("j{i}"), now)
                    .await
                    .unwrap());
            }
            assert!(s
                .record_assertion_jti(&cid(client), "live", now + 1)
                .await
                .unwrap());
        }
        let sweep = Sweep::AssertionJtis { now };
        assert_eq!(s.sweep_batch(&sweep, 3).await.unwrap(), 3, "{}", b.name);
        let left = client_assertions::Entity::find()
            .count(&s.db)
            .await
            .unwrap();
        assert_eq!(left, 3, "{}: one expired and two live left", b.name);
        assert_eq!(batches(s, &sweep, 3).await, [1], "{}", b.name);
        for client in ["c1", "c2"] {
            assert!(
                !s.record_assertion_jti(&cid(client), "live", now + 1)
                    .await
                    .unwrap(),
                "{}: the live record of {client} still refuses a replay",
                b.name
            );
            assert!(
                s.record_assertion_jti(&cid(client), "j0", now + 1)
                    .await
                    .unwrap(),
                "{}: the expired record of {client} is gone",
                b.name
            );
        }
    }
}

#[tokio::test]
async fn used_once_and_attempt_sweeps_are_bounded() {
    for b in backends().await {
        let s = &b.store;
        let now = 300;
        for i in 0..5 {
            assert!(s.first_use(&format!("old-{i}"), now, 0).await.unwrap());
        }
        assert!(s.first_use("live", now + 1, 0).await.unwrap());
        assert_eq!(s.sweep_used(now, 2).await.unwrap(), 2, "{}", b.name);
        assert_eq!(
            used_once::Entity::find().count(&s.db).await.unwrap(),
            4,
            "{}",
            b.name
        );
        assert_eq!(s.sweep_used(now, 10).await.unwrap(), 3, "{}", b.name);
        assert!(
            !s.first_use("live", now + 1, now).await.unwrap(),
            "{}: the live value still counts as used",
            b.name
        );

        let idle = 60_000;
        let keys: Vec<String> = (0..4).map(|i| format!("quiet-{i}")).collect();
        s.hit(&keys, 1_000, idle).await.unwrap();
        s.hit(&["busy".to_owned()], 2_000, idle).await.unwrap();
        let at = 1_000 + idle;
        assert_eq!(s.sweep(at, idle, 3).await.unwrap(), 3, "{}", b.name);
        assert_eq!(s.sweep(at, idle, 3).await.unwrap(), 1, "{}", b.name);
        assert_eq!(s.sweep(at, idle, 3).await.unwrap(), 0, "{}", b.name);
        assert_eq!(
            login_attempts::Entity::find().count(&s.db).await.unwrap(),
            1,
            "{}: the busy run stays",
            b.name
        );
    }
}
