//! Faults: the database going away under a running server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::*;

/// A TCP proxy to Postgres that the test can cut and restore: cutting
/// drops every open connection and refuses new ones.
struct Proxy {
    port: u16,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: &'static str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = watch::channel(true);
        let state = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut rx = state.subscribe();
                if !*rx.borrow() {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_503_and_service_resumes_by_itself() {
    let Some(pg) = crate::cluster::postgres_url() else {
        return;
    };
    let proxy = Arc::new(Proxy::start("127.0.0.1:5432").await);
    let mut url = url::Url::parse(&pg).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    let url = url.to_string();
    let app = TestApp::spawn_with(|c| {
        c.storage.database_url = url.clone();
        c.database.schema = Some(format!("fault_{}", std::process::id()));
        c.database.connect_timeout_secs = 1;
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    app.add_user("alice").await;
    let m = app.machine_client().await;
    let c = app
        .add_client(latchkey_core::admin::NewClient {
            name: "Refreshing".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: vec![
                latchkey_domain::GrantType::AuthorizationCode,
                latchkey_domain::GrantType::RefreshToken,
            ],
            scope: Some("openid offline_access".into()),
            ..Default::default()
        })
        .await;
    let (verifier, challenge) = pkce();
    let back = sign_in(
        &app,
        &browser(),
        &authorize_url(
            &app,
            c.id(),
            &challenge,
            &[("scope", "openid offline_access")],
        ),
        "alice",
    )
    .await;
    let t: serde_json::Value = redeem(&app, &c, &param(&back, "code").unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let r0 = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        api().get(app.url("/readyz")).send().await.unwrap().status(),
        200
    );

    proxy.set_up(false);

    let resp = crate::tokens::refresh(&app, &c, &r0).await;
    assert_oauth_error(resp, 503, "temporarily_unavailable").await;
    let resp = api()
        .post(app.url("/token"))
        .basic_auth(m.id(), m.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 503, "temporarily_unavailable").await;
    let ready = api().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], false);

    proxy.set_up(true);

    // No restart: the pool reconnects on its own.
    let started = Instant::now();
    loop {
        if api().get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "service did not resume"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing was consumed while the database was away.
    let resp = crate::tokens::refresh(&app, &c, &r0).await;
    assert_eq!(resp.status(), 200, "the refresh token survived the outage");
}
