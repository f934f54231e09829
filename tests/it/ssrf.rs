//! No request into Latchkey's own network on a registrant's say-so (SSRF):
//! the URLs Latchkey fetches or posts to (`jwks_uri`,
//! `backchannel_logout_uri`) are refused at registration unless they are
//! https on public addresses, are checked again at every connection, and
//! forged assertions cannot make Latchkey fetch a `jwks_uri` more than once
//! a minute. Clients an operator made may point inside.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_core::admin::NewClient;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::registration::{
    admin_token, assertion_grant, initial_token, machine_metadata, now, register, register_raw,
    spawn_with_api_scope, test_client, ClientKey, JwksServer,
};
use crate::support::*;

/// Addresses and names inside: each names or is an internal address.
const INSIDE: [&str; 26] = [
    "http://127.0.0.1:8080/any",
    "https://127.0.0.1:8443/any",
    "https://127.1.2.3/any",
    "https://2130706433/any",
    "https://0x7f.1/any",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.7/x",
    "https://172.16.0.1/x",
    "https://192.168.1.1/x",
    "https://100.64.0.1/x",
    "https://198.18.0.1/x",
    "https://0.1.2.3/x",
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",
    "https://255.255.255.255/x",
    "https://192.0.2.1/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:a9fe:a9fe]/x",
    "https://[64:ff9b::a9fe:a9fe]/x",
    "https://[64:ff9b:1::a9fe:a9fe]/x",
    "https://[fec0::1]/x",
    "https://[fd00::1]/x",
    "https://[fe80::1]/x",
    "https://localhost/x",
    "https://foo.localhost:8443/x",
];

fn web_with_backchannel(uri: &str) -> Value {
    json!({
        "client_name": "Logout receiver",
        "redirect_uris": [REDIRECT],
        "scope": "openid profile",
        "backchannel_logout_uri": uri,
    })
}

fn machine_with_jwks_uri(uri: &str) -> Value {
    let mut m = machine_metadata();
    m["token_endpoint_auth_method"] = json!("private_key_jwt");
    m["jwks_uri"] = json!(uri);
    m
}

#[tokio::test]
async fn registration_refuses_urls_that_lead_inside() {
    let app = spawn_with_api_scope(|_| {}).await;
    let token = initial_token(&app, 1).await;
    let mut inside: Vec<&str> = INSIDE.to_vec();
    inside.push("https://metadata/computeMetadata/v1/");
    for uri in inside {
        for body in [web_with_backchannel(uri), machine_with_jwks_uri(uri)] {
            let resp = register_raw(&app, Some(&token), &body).await;
            let err = assert_oauth_error(resp, 400, "invalid_client_metadata").await;
            let why = err["error_description"].as_str().unwrap();
            assert!(
                why.contains("jwks_uri") || why.contains("backchannel_logout_uri"),
                "{uri}: {why}"
            );
        }
    }
    // Nor through an update (RFC 7592).
    let info = register(
        &app,
        &token,
        web_with_backchannel("https://rp.example.com/bcl"),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let mut body = web_with_backchannel("https://169.254.169.254/latest/meta-data");
    body["client_id"] = json!(id);
    let resp = api()
        .put(app.url(&format!("/register/{id}")))
        .bearer_auth(info["registration_access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;

    // An operator may point a client inside, through the admin API.
    let admin = admin_token(&app).await;
    for body in [
        web_with_backchannel("http://127.0.0.1:8080/any"),
        machine_with_jwks_uri("https://169.254.169.254/latest/meta-data"),
    ] {
        let resp = api()
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
}

#[tokio::test]
async fn the_operator_may_allow_internal_urls_for_every_client() {
    let app = spawn_with_api_scope(|c| c.registration.allow_internal_uris = true).await;
    let token = initial_token(&app, 2 * INSIDE.len() as i64).await;
    for uri in INSIDE {
        register(&app, &token, web_with_backchannel(uri)).await;
        if uri.starts_with("https:") {
            register(&app, &token, machine_with_jwks_uri(uri)).await;
        }
    }
}

/// A plain TCP listener on loopback that answers every request `200 OK`
/// and keeps the first line of what each connection sent (a TLS hello is
/// kept as it comes).
async fn tcp_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]);
                log.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_owned());
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, seen)
}

/// Registers `metadata` at a server on `dir` that allows internal URLs,
/// in a runtime of its own that ends with the call: that server's logout
/// sender and caches do not outlive it. The client stays in the database,
/// as one registered while the setting was on.
fn register_while_internal_urls_were_allowed(
    dir: Arc<TempDir>,
    metadata: Vec<Value>,
) -> Vec<Value> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let infos = rt.block_on(async move {
            let app = TestApp::spawn_in(dir, |c| {
                c.registration.allowed_scopes =
                    plus_scope(&c.registration.allowed_scopes, "api:read");
                c.registration.allow_internal_uris = true;
            })
            .await;
            let token = initial_token(&app, metadata.len() as i64).await;
            let mut infos = Vec::new();
            for m in metadata {
                infos.push(register(&app, &token, m).await);
            }
            infos
        });
        drop(rt);
        infos
    })
    .join()
    .unwrap()
}

/// Clients registered (`metadata`) while internal URLs were allowed, and
/// the server that now serves them without that setting, trusting
/// `server`'s certificate for their `jwks_uri`.
async fn registered_before(server: &JwksServer, metadata: Vec<Value>) -> (TestApp, Vec<Value>) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let infos = register_while_internal_urls_were_allowed(dir.clone(), metadata);
    let ca = server.ca_file.clone();
    let app = TestApp::spawn_in(dir, |c| {
        c.registration.allowed_scopes = plus_scope(&c.registration.allowed_scopes, "api:read");
        c.registration.jwks_ca_file = Some(ca);
    })
    .await;
    (app, infos)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_channel_logout_is_never_sent_inside_for_a_registered_client() {
    let (port, seen) = tcp_receiver().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // Registered while the operator allowed internal URLs; the setting is
    // off now, so nothing is sent there. One literal, one name that
    // resolves to loopback.
    let registered = register_while_internal_urls_were_allowed(
        dir.clone(),
        vec![
            web_with_backchannel(&format!("https://127.0.0.1:{port}/literal")),
            web_with_backchannel(&format!("https://localhost:{port}/name")),
            web_with_backchannel(&format!("http://127.0.0.1:{port}/plain")),
        ],
    );
    let app = TestApp::spawn_in(dir, |_| {}).await;
    app.add_user("alice").await;
    // An operator's client reaches its receiver inside: the control.
    let operator = app
        .add_client(NewClient {
            name: "Operator's app".into(),
            redirect_uris: vec![REDIRECT.into()],
            backchannel_logout_uri: Some(format!("http://127.0.0.1:{port}/operator")),
            ..NewClient::default()
        })
        .await;
    let mut clients = vec![operator];
    for info in &registered {
        clients.push(test_client(&app, info).await);
    }
    let b = browser();
    for c in &clients {
        let (_, challenge) = pkce();
        code_for(&app, &b, c, &challenge, "alice").await;
    }
    let resp = FormPage::read(&app, &b, "/logout")
        .await
        .confirm_logout(&app, &b)
        .await;
    assert!(resp.status().is_redirection() || resp.status().is_success());

    // Every delivery settles: the operator's delivered, the others given
    // up at once as refused, without a retry.
    let mut settled = Vec::new();
    for _ in 0..100 {
        settled = app.store.list_deliveries(10).await.unwrap();
        if settled.len() == clients.len()
            && settled
                .iter()
                .all(|d| d.delivered_at.is_some() || d.last_error.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(settled.len(), clients.len(), "{settled:?}");
    for d in &settled {
        if d.client_id == clients[0].client.id {
            assert!(d.delivered_at.is_some(), "{d:?}");
        } else {
            assert!(d.delivered_at.is_none(), "{d:?}");
            let error = d.last_error.as_deref().unwrap_or("");
            assert!(error.contains("refused"), "{d:?}");
            assert_eq!(d.attempts, 1, "not retried: {d:?}");
            assert_eq!(d.next_attempt_at, i64::MAX, "given up: {d:?}");
        }
    }
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["POST /operator HTTP/1.1".to_owned()],
        "only the operator's receiver was reached"
    );
}

/// Signs assertions for one client, valid for a minute from now.
fn signer<'k>(app: &TestApp, id: &str, key: &'k ClientKey) -> impl Fn(&str) -> String + 'k {
    let (id, issuer, now) = (id.to_owned(), app.issuer.clone(), now(app));
    move |jti: &str| {
        key.sign(&json!({
            "iss": id, "sub": id, "aud": issuer, "jti": jti, "iat": now, "exp": now + 60,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_uri_that_leads_inside_is_never_fetched_for_a_registered_client() {
    let key = ClientKey::new("k-inside");
    let server = JwksServer::start(json!({ "keys": [key.jwk()] }).to_string());
    let uri = format!("https://localhost:{}/jwks", server.port);
    let (app, mut infos) = registered_before(&server, vec![machine_with_jwks_uri(&uri)]).await;
    let info = infos.remove(0);
    let id = info["client_id"].as_str().unwrap();
    let assertion = signer(&app, id, &key);
    assert_oauth_error(
        assertion_grant(&app, Some(id), &assertion("j1")).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(server.connections.load(SeqCst), 0, "no connection was made");
}

/// An operator's edit of something else (a name, through the CLI's and
/// the console's use case) vouches for nothing: a registrant's `jwks_uri`
/// that leads inside is still never fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_rename_does_not_vouch_for_a_registrants_urls() {
    let key = ClientKey::new("k-renamed");
    let server = JwksServer::start(json!({ "keys": [key.jwk()] }).to_string());
    let uri = format!("https://localhost:{}/jwks", server.port);
    let (app, mut infos) = registered_before(&server, vec![machine_with_jwks_uri(&uri)]).await;
    let info = infos.remove(0);
    let id = info["client_id"].as_str().unwrap();
    app.core
        .admin(Actor::CommandLine)
        .clients()
        .update(
            id,
            &latchkey_core::admin::ClientChanges {
                name: Some("Renamed by the operator".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let record = app
        .store
        .find_registration(&latchkey_protocol::ClientId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!record.by_operator, "a rename vouches for nothing");
    let assertion = signer(&app, id, &key);
    assert_oauth_error(
        assertion_grant(&app, Some(id), &assertion("j1")).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(server.connections.load(SeqCst), 0, "no connection was made");
}

/// The admin API's metadata replacement vouches only when it keeps none of
/// the registrant's own URLs: writing back what was read with a new name
/// leaves the client a registrant's, and a kept inside URL is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_writing_back_a_registrants_urls_does_not_vouch_for_them() {
    let server = JwksServer::start(json!({ "keys": [] }).to_string());
    let inside = format!("https://localhost:{}/jwks", server.port);
    let (app, info) = registered_before(
        &server,
        vec![
            machine_with_jwks_uri(&inside),
            machine_with_jwks_uri("https://keys.example.com/jwks"),
        ],
    )
    .await;
    let admin = admin_token(&app).await;
    let write_back = |id: String, uri: &str| {
        let mut body = machine_with_jwks_uri(uri);
        body["client_name"] = json!("Renamed by the operator");
        let (app, admin) = (&app, admin.clone());
        async move {
            api()
                .put(app.url(&format!("/admin/clients/{id}")))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let vouched = |id: String| {
        let app = &app;
        async move {
            app.store
                .find_registration(&latchkey_protocol::ClientId::parse(&id).unwrap())
                .await
                .unwrap()
                .unwrap()
                .by_operator
        }
    };
    // The registrant's inside URL, written back: refused, nothing vouched.
    let id = info[0]["client_id"].as_str().unwrap().to_owned();
    let resp = write_back(id.clone(), &inside).await;
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    assert!(!vouched(id).await);
    // A public one, written back: accepted, and still the registrant's.
    let id = info[1]["client_id"].as_str().unwrap().to_owned();
    let resp = write_back(id.clone(), "https://keys.example.com/jwks").await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert!(!vouched(id.clone()).await);
    // The operator's own URL in its place: vouched.
    let resp = write_back(id.clone(), &inside).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert!(vouched(id).await);
    assert_eq!(server.connections.load(SeqCst), 0);
}

/// An operator's `private_key_jwt` client whose `jwks_uri` is `server`,
/// on a server that trusts its CA; returns the server and the client id.
async fn operators_jwks_client(server: &JwksServer) -> (TestApp, String) {
    let ca = server.ca_file.clone();
    let app = spawn_with_api_scope(|c| c.registration.jwks_ca_file = Some(ca)).await;
    let uri = format!("https://localhost:{}/jwks", server.port);
    let resp = api()
        .post(app.url("/admin/clients"))
        .bearer_auth(admin_token(&app).await)
        .json(&machine_with_jwks_uri(&uri))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    let id = info["client_id"].as_str().unwrap().to_owned();
    (app, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_assertions_fetch_a_jwks_uri_at_most_once_a_minute() {
    let key = ClientKey::new("k-good");
    let forger = ClientKey::new("k-good");
    let good = JwksServer::start(json!({ "keys": [key.jwk()] }).to_string());
    let down = JwksServer::answering("503 Service Unavailable", String::new());
    for server in [&good, &down] {
        // An operator's client: its jwks_uri on localhost is fetched.
        let (app, id) = operators_jwks_client(server).await;
        let forged = signer(&app, &id, &forger);
        let burst = (0..10).map(|i| {
            let (app, id, assertion) = (&app, &id, forged(&format!("burst-{i}")));
            async move { assertion_grant(app, Some(id), &assertion).await.status() }
        });
        let statuses = futures_util::future::join_all(burst).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        assert_eq!(server.hits.load(SeqCst), 1, "one fetch for the burst");
        app.clock.advance(Duration::from_secs(59));
        let resp = assertion_grant(&app, Some(&id), &forged("later")).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(server.hits.load(SeqCst), 1, "within the minute");
        app.clock.advance(Duration::from_secs(1));
        let resp = assertion_grant(&app, Some(&id), &forged("next-minute")).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(server.hits.load(SeqCst), 2, "a minute later, one more");
        if std::ptr::eq(server, &good) {
            // The genuine key works, from the cache.
            let genuine = signer(&app, &id, &key);
            let resp = assertion_grant(&app, Some(&id), &genuine("genuine")).await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
            assert_eq!(server.hits.load(SeqCst), 2);
        }
    }
}

/// An operator's update vouches for the client's URLs at that moment; the
/// registrant, who still holds its registration access token, cannot use
/// that to point the client inside afterwards: its own update is checked
/// and reached under a registrant's rules, and ends the vouching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrants_update_never_keeps_an_operators_vouching() {
    let key = ClientKey::new("k-vouched");
    let server = JwksServer::start(json!({ "keys": [key.jwk()] }).to_string());
    let ca = server.ca_file.clone();
    let app = spawn_with_api_scope(|c| c.registration.jwks_ca_file = Some(ca)).await;
    let info = register(
        &app,
        &initial_token(&app, 1).await,
        machine_with_jwks_uri("https://keys.example.com/jwks"),
    )
    .await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The operator points the client's keys inside, on purpose.
    let inside = format!("https://localhost:{}/jwks", server.port);
    let resp = api()
        .put(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(admin_token(&app).await)
        .json(&machine_with_jwks_uri(&inside))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let assertion = signer(&app, &id, &key);
    assert_eq!(
        assertion_grant(&app, Some(&id), &assertion("v1"))
            .await
            .status(),
        200,
        "the operator's URL is reached"
    );
    let reached = server.connections.load(SeqCst);
    assert!(reached >= 1);

    // The registrant tries to move it elsewhere inside, or to keep the
    // operator's own URL under its name: both refused.
    let put = |body: Value| {
        let (app, id, rat) = (&app, &id, &rat);
        async move {
            let mut body = body;
            body["client_id"] = json!(id);
            api()
                .put(app.url(&format!("/register/{id}")))
                .bearer_auth(rat)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    for uri in [
        format!("https://localhost:{}/other", server.port),
        format!("https://127.0.0.1:{}/jwks", server.port),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        inside.clone(),
    ] {
        let resp = put(machine_with_jwks_uri(&uri)).await;
        assert_oauth_error(resp, 400, "invalid_client_metadata").await;
    }
    let resp = put(web_with_backchannel("http://127.0.0.1:8080/any")).await;
    assert_oauth_error(resp, 400, "invalid_client_metadata").await;

    // An update the registrant may make ends the operator's vouching.
    let mut inline = machine_metadata();
    inline["token_endpoint_auth_method"] = json!("private_key_jwt");
    inline["jwks"] = json!({ "keys": [key.jwk()] });
    let resp = put(inline).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let client_id = latchkey_protocol::ClientId::parse(&id).unwrap();
    let registration = app
        .store
        .find_registration(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!registration.by_operator, "{registration:?}");
    assert_eq!(registration.jwks_uri, None);
    assert_eq!(
        assertion_grant(&app, Some(&id), &assertion("v2"))
            .await
            .status(),
        200
    );
    assert_eq!(
        server.connections.load(SeqCst),
        reached,
        "not fetched again"
    );
}
