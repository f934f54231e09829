//! The revocation cache: the in-memory mirror on its own, Redis pub/sub
//! between instances, and Redis going away while serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_core::admin::NewClient;

use crate::support::*;
use crate::tokens::introspect;

async fn login(app: &TestApp, c: &TestClient) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let back = sign_in(
        app,
        &browser(),
        &authorize_url(app, c.id(), &challenge, &[]),
        "alice",
    )
    .await;
    let resp = redeem(app, c, &param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn revoke(app: &TestApp, c: &TestClient, token: &str) {
    let resp = api()
        .post(app.url("/revoke"))
        .basic_auth(c.id(), c.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_at_one_instance_reaches_another_through_redis() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // The database sync is slowed to an hour so that only Redis pub/sub can
    // tell B in time.
    let tweak = |c: &mut latchkey_config::Config| {
        c.server.issuer = "http://cluster.test".parse().unwrap();
        c.storage.redis_url = Some(redis.url.clone());
        c.storage.redis_prefix = "t1:".into();
        c.revocations.sync_interval_ms = 3_600_000;
        c.revocations.max_staleness_secs = 3600;
    };
    let a = TestApp::spawn_in(dir.clone(), tweak).await;
    let b = TestApp::spawn_in(dir.clone(), tweak).await;
    a.add_user("alice").await;
    let web = a.web_client().await;
    let rs = a.resource_server().await;
    let t = login(&a, &web).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(introspect(&b, &rs, access).await["active"], true);

    revoke(&a, &web, access).await;
    let started = Instant::now();
    let mut refused_after = None;
    while started.elapsed() < Duration::from_secs(3) {
        if introspect(&b, &rs, access).await["active"] == false {
            refused_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = refused_after.expect("instance B refuses the token revoked at A");
    eprintln!("revocation reached the other instance in {took:?}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_stay_refused_when_redis_stops() {
    if !RedisServer::available() {
        return;
    }
    let mut redis = RedisServer::start().await;
    let url = redis.url.clone();
    let app = TestApp::spawn_with(|c| {
        c.storage.redis_url = Some(url);
        c.storage.redis_prefix = "t2:".into();
    })
    .await;
    app.add_user("alice").await;
    let web = app.web_client().await;
    let rs = app.resource_server().await;
    let first = login(&app, &web).await;
    let second = login(&app, &web).await;
    revoke(&app, &web, first["access_token"].as_str().unwrap()).await;

    redis.stop();

    // Still refused; the live tokens still work; requests keep being answered.
    assert_eq!(
        introspect(&app, &rs, first["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        introspect(&app, &rs, second["access_token"].as_str().unwrap()).await["active"],
        true
    );
    // A revocation while Redis is down is still honoured (database first).
    revoke(&app, &web, second["access_token"].as_str().unwrap()).await;
    assert_eq!(
        introspect(&app, &rs, second["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Even once the mirror is stale, the answer comes from the database,
    // never "not revoked".
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(
        introspect(&app, &rs, first["access_token"].as_str().unwrap()).await["active"],
        false
    );
    let resp = api()
        .get(app.url("/userinfo"))
        .bearer_auth(second["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_mirror_and_the_database_agree() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let web = app
        .add_client(NewClient {
            name: "Web".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..NewClient::default()
        })
        .await;
    let rs = app.resource_server().await;
    let t = login(&app, &web).await;
    let access = t["access_token"].as_str().unwrap();
    revoke(&app, &web, access).await;
    assert_eq!(
        introspect(&app, &rs, access).await["active"],
        false,
        "from the mirror"
    );
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(
        introspect(&app, &rs, access).await["active"],
        false,
        "from the database once the mirror is stale"
    );
}
