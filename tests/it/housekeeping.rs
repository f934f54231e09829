//! The sweep, kind by kind: each kind removes only what has expired, one
//! bounded batch at a time, and every rule still holds once the rows it
//! rested on are gone.

use std::time::Duration;

use latchkey_domain::SweepKind;

use crate::support::*;
use crate::tokens::introspect;

/// A redeemed code outlives its own expiry while the access token issued
/// from it lives, so that a replay still revokes that token; swept after
/// that, a replay is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swept_code_stays_spent_and_a_replay_is_still_refused() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let client = app.web_client().await;
    let rs = app.resource_server().await;
    let (verifier, challenge) = pkce();
    let used = code_for(&app, &browser(), &client, &challenge, "alice").await;
    let resp = redeem(&app, &client, &used, &verifier).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (unused_verifier, unused_challenge) = pkce();
    let unused = code_for(&app, &browser(), &client, &unused_challenge, "alice").await;

    let sweeper = app.core.housekeeping();
    assert_eq!(
        sweeper.sweep_kind(SweepKind::Codes, 100).await.unwrap(),
        0,
        "no code has expired yet"
    );
    // Both codes expired (60 s); the redeemed one's access token (300 s)
    // lives on, so only the unused code goes.
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(sweeper.sweep_kind(SweepKind::Codes, 100).await.unwrap(), 1);
    let resp = redeem(&app, &client, &unused, &unused_verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    assert_eq!(introspect(&app, &rs, &access).await["active"], true);
    let resp = redeem(&app, &client, &used, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    assert_eq!(
        introspect(&app, &rs, &access).await["active"],
        false,
        "the replay revoked the token issued from the code"
    );

    // Once that token has expired too, the redeemed code goes, and its
    // replay is refused all the same.
    app.clock.advance(Duration::from_secs(300));
    assert_eq!(sweeper.sweep_kind(SweepKind::Codes, 100).await.unwrap(), 1);
    assert_eq!(sweeper.sweep_kind(SweepKind::Codes, 100).await.unwrap(), 0);
    let resp = redeem(&app, &client, &used, &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

/// A batch removes at most its limit; the other kinds are left alone, and
/// a request whose record was swept cannot be completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_is_bounded_and_each_kind_reports_its_own_rows() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let client = app.web_client().await;
    // Three authorization requests left at the sign-in page.
    let b = browser();
    let mut pages = Vec::new();
    for _ in 0..3 {
        let (_, challenge) = pkce();
        let url = authorize_url(&app, client.id(), &challenge, &[]);
        pages.push(login_page(&app, &b, &url).await);
    }
    let sweeper = app.core.housekeeping();
    assert_eq!(
        sweeper
            .sweep_kind(SweepKind::PendingRequests, 2)
            .await
            .unwrap(),
        0,
        "requests still in time stay"
    );

    app.clock.advance(Duration::from_secs(600));
    for kind in SweepKind::ALL {
        if kind != SweepKind::PendingRequests {
            assert_eq!(sweeper.sweep_kind(kind, 2).await.unwrap(), 0, "{kind}");
        }
    }
    for expected in [2, 1, 0] {
        assert_eq!(
            sweeper
                .sweep_kind(SweepKind::PendingRequests, 2)
                .await
                .unwrap(),
            expected
        );
    }
    let resp = pages[0].sign_in(&app, &b, "alice", PASSWORD).await;
    assert_eq!(resp.status(), 400, "a swept request cannot be completed");
    let text = resp.text().await.unwrap();
    assert!(text.contains("has expired"), "{text}");

    let report = sweeper.sweep_report().await.unwrap();
    let kinds: Vec<SweepKind> = report.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, SweepKind::ALL, "every kind, once, in order");
    assert!(report.iter().all(|o| o.rows == 0), "{report:?}");
}
