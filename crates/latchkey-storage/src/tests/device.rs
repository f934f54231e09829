//! Device requests (RFC 8628) on both backends: codes are unique, the
//! answer and the redemption are each won by exactly one of many
//! concurrent callers, a late answer or redemption changes nothing, and
//! expired rows are swept.

use std::sync::Arc;

use latchkey_domain::*;
use latchkey_protocol::{ClientId, Scope};

use super::backends;

fn request(id: &str, expires_at: i64) -> DeviceAuthorization {
    DeviceAuthorization {
        id: id.into(),
        device_code_hash: TokenHash::of(&format!("device code {id}")),
        user_code_hash: format!("user code {id}"),
        client_id: ClientId::parse("tv").unwrap(),
        scope: Scope::parse("openid profile").unwrap(),
        interval: 5,
        last_polled_at: None,
        created_at: 1_000,
        expires_at,
        state: DeviceState::Pending,
    }
}

fn approval(at: i64) -> DeviceApproval {
    DeviceApproval {
        user_id: UserId::new("alice"),
        session_id: SessionId::new("s1"),
        auth_time: 900,
        methods: Methods::PASSWORD,
        acr: "urn:latchkey:acr:pwd".into(),
        at,
    }
}

#[tokio::test]
async fn codes_are_unique_and_found_by_their_hashes() {
    for b in backends().await {
        let s = &b.store;
        let d = request("d1", 1_600);
        s.insert_device_authorization(&d).await.unwrap();
        assert_eq!(
            s.find_device_by_code(&d.device_code_hash).await.unwrap(),
            Some(d.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            s.find_device_by_user_code(&d.user_code_hash).await.unwrap(),
            Some(d.clone())
        );
        assert_eq!(s.find_device("d1").await.unwrap(), Some(d.clone()));
        // Another request with the same user code is a conflict.
        let mut same_user_code = request("d2", 1_600);
        same_user_code.user_code_hash = d.user_code_hash.clone();
        assert!(matches!(
            s.insert_device_authorization(&same_user_code).await,
            Err(StoreError::Conflict(_))
        ));
        s.record_device_poll("d1", 1_010, 10).await.unwrap();
        let polled = s.find_device("d1").await.unwrap().unwrap();
        assert_eq!((polled.last_polled_at, polled.interval), (Some(1_010), 10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_answer_and_one_redemption_win() {
    const N: usize = 20;
    for b in backends().await {
        let s = b.store.clone();
        s.insert_device_authorization(&request("d1", 1_600))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let answers: Vec<_> = (0..N)
            .map(|i| {
                let (s, barrier) = (s.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let approve = (i % 2 == 0).then(|| approval(1_100));
                    s.decide_device("d1", approve.as_ref(), 1_100).await
                })
            })
            .collect();
        let mut won = 0;
        for a in answers {
            won += usize::from(a.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "{}", b.name);
        let decided = s.find_device("d1").await.unwrap().unwrap();
        assert_ne!(decided.state, DeviceState::Pending);

        // An approved request, redeemed by many at once.
        s.insert_device_authorization(&request("d2", 1_600))
            .await
            .unwrap();
        assert!(s
            .decide_device("d2", Some(&approval(1_100)), 1_100)
            .await
            .unwrap());
        assert_eq!(
            s.find_device("d2").await.unwrap().unwrap().state,
            DeviceState::Approved(approval(1_100))
        );
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let redemptions: Vec<_> = (0..N)
            .map(|_| {
                let (s, barrier) = (s.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    s.redeem_device("d2", 1_200).await
                })
            })
            .collect();
        let mut won = 0;
        for r in redemptions {
            won += usize::from(r.await.unwrap().unwrap());
        }
        assert_eq!(won, 1, "{}", b.name);
        assert_eq!(
            s.find_device("d2").await.unwrap().unwrap().state,
            DeviceState::Redeemed {
                at: 1_200,
                approval: approval(1_100)
            }
        );
    }
}

#[tokio::test]
async fn late_answers_change_nothing_and_expired_rows_go() {
    for b in backends().await {
        let s = &b.store;
        s.insert_device_authorization(&request("d1", 1_600))
            .await
            .unwrap();
        // A pending request cannot be redeemed; an expired one cannot be
        // answered.
        assert!(!s.redeem_device("d1", 1_100).await.unwrap(), "{}", b.name);
        assert!(!s
            .decide_device("d1", Some(&approval(1_600)), 1_600)
            .await
            .unwrap());
        s.insert_device_authorization(&request("d2", 1_600))
            .await
            .unwrap();
        assert!(s.decide_device("d2", None, 1_100).await.unwrap());
        assert_eq!(
            s.find_device("d2").await.unwrap().unwrap().state,
            DeviceState::Denied { at: 1_100 }
        );
        // A denied request is never redeemed.
        assert!(!s.redeem_device("d2", 1_200).await.unwrap());
        s.insert_device_authorization(&request("d3", 2_000))
            .await
            .unwrap();
        assert_eq!(
            super::sweep_all(s, &[Sweep::DeviceRequests { now: 1_600 }]).await,
            2
        );
        assert!(s.find_device("d1").await.unwrap().is_none());
        assert!(s.find_device("d3").await.unwrap().is_some());
    }
}
