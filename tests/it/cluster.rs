//! Several `latchkey serve` processes behind one issuer, sharing one
//! Postgres and one Redis: nothing is sticky, and every instance agrees.
//! These tests need Postgres: they are skipped (loudly) without it, and
//! fail in CI (`CI=true`) when it is missing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The test Postgres, or None (with a note) when it is not reachable
/// outside CI.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_secs(1),
    )
    .is_ok()
    {
        return RedisServer::available().then_some(url);
    }
    if std::env::var("CI").ok().as_deref() == Some("true") {
        panic!("Postgres is required in CI for the cluster tests ({url})");
    }
    eprintln!("note: Postgres not reachable; cluster test skipped");
    None
}

/// One `latchkey serve` process, killed (by PID) when dropped.
pub struct Instance {
    pub base: String,
    pub child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Cluster {
    pub issuer: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub _redis: RedisServer,
}

impl Cluster {
    pub async fn new(pg: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let redis = RedisServer::start().await;
        let schema = format!(
            "cl_{}",
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
        )
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>();
        let issuer = "http://cluster.test".to_owned();
        let env = vec![
            ("LATCHKEY_ISSUER".into(), issuer.clone()),
            ("LATCHKEY_DATABASE_URL".into(), pg.to_owned()),
            ("LATCHKEY_DATABASE__SCHEMA".into(), schema),
            ("LATCHKEY_REDIS_URL".into(), redis.url.clone()),
            (
                "LATCHKEY_REDIS_PREFIX".into(),
                format!("{}:", dir.path().display()),
            ),
            (
                "LATCHKEY_KEK_FILE".into(),
                dir.path().join("kek").display().to_string(),
            ),
            ("LATCHKEY_WORKERS".into(), "1".into()),
        ];
        Cluster {
            issuer,
            dir,
            env,
            _redis: redis,
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        c.current_dir(self.dir.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs a CLI command against the cluster's database; returns stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = stdin.unwrap_or("").to_owned();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub async fn start(&self) -> Instance {
        let mut serve = self.command();
        serve.arg("serve");
        let serving = crate::support::Serving::spawn(serve, None);
        let (_, port) = serving.listening();
        let child = serving.child;
        let base = format!("http://127.0.0.1:{port}");
        let instance = Instance { base, child };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = api().get(format!("{}/readyz", instance.base)).send().await {
                if r.status() == 200 {
                    return instance;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("instance on port {port} did not become ready");
    }
}

/// An instance as the shared helpers see it.
fn view(i: &Instance, issuer: &str) -> Remote {
    Remote {
        base: i.base.clone(),
        issuer: issuer.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_everything_and_agree() {
    let Some(pg) = postgres_url() else { return };
    let cluster = Cluster::new(&pg).await;
    // The first instance migrates and makes the first key; the others join.
    let a = cluster.start().await;
    let b = cluster.start().await;
    let (va, vb) = (view(&a, &cluster.issuer), view(&b, &cluster.issuer));

    cluster.cli(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let client: serde_json::Value = serde_json::from_str(&cluster.cli(
        &[
            "client",
            "add",
            "--name",
            "Portal",
            "--redirect-uri",
            REDIRECT,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid offline_access",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let rs: serde_json::Value = serde_json::from_str(&cluster.cli(
        &[
            "client",
            "add",
            "--name",
            "RS",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api",
            "--introspect",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let web = TestClient::remote(&client);
    let rs = TestClient::remote(&rs);

    // Both publish the same keys.
    let jwks_a = api()
        .get(va.url("/jwks"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks_b = api()
        .get(vb.url("/jwks"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b);

    // Sign in at A, redeem the code at B.
    let (verifier, challenge) = pkce();
    let b1 = browser();
    let back = sign_in(
        &va,
        &b1,
        &authorize_url(
            &va,
            web.id(),
            &challenge,
            &[("scope", "openid offline_access")],
        ),
        "alice",
    )
    .await;
    let code = param(&back, "code").expect("code from A");
    let resp = redeem(&vb, &web, &code, &verifier).await;
    assert_eq!(resp.status(), 200, "B redeems A's code");
    let t: serde_json::Value = resp.json().await.unwrap();
    let access = t["access_token"].as_str().unwrap().to_owned();

    // Revoked at A, refused at B within the bound.
    assert_eq!(
        crate::tokens::introspect(&vb, &rs, &access).await["active"],
        true
    );
    let resp = api()
        .post(va.url("/revoke"))
        .basic_auth(web.id(), web.secret.as_deref())
        .form(&[
            ("token", access.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = Instant::now();
    let mut took = None;
    while started.elapsed() < Duration::from_secs(5) {
        if crate::tokens::introspect(&vb, &rs, &access).await["active"] == false {
            took = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = took.expect("B refuses the token revoked at A");
    eprintln!("cluster: revocation at A refused at B after {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");

    // Rotated at A, replayed at B: the family dies everywhere.
    let r0 = t["refresh_token"].as_str().unwrap();
    let resp = crate::tokens::refresh(&va, &web, r0).await;
    assert_eq!(resp.status(), 200);
    let r1: serde_json::Value = resp.json().await.unwrap();
    assert_oauth_error(
        crate::tokens::refresh(&vb, &web, r0).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        crate::tokens::refresh(&va, &web, r1["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;

    // A second sign-in; logout at B ends the session at A too.
    let (verifier, challenge) = pkce();
    let b2 = browser();
    let back = sign_in(
        &va,
        &b2,
        &authorize_url(
            &va,
            web.id(),
            &challenge,
            &[("scope", "openid offline_access")],
        ),
        "alice",
    )
    .await;
    let t2: serde_json::Value = redeem(&va, &web, &param(&back, "code").unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let mut url = url::Url::parse(&vb.url("/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", t2["id_token"].as_str().unwrap());
    // Cookies ignore ports: the browser's session cookie from A goes to B,
    // as it would through the one address of a proxy.
    let resp = b2.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 200, "signed out at B");
    let started = Instant::now();
    loop {
        let status = api()
            .get(va.url("/userinfo"))
            .bearer_auth(t2["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "A still accepts the logged-out session's token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_oauth_error(
        crate::tokens::refresh(&va, &web, t2["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_committed_rotation() {
    let Some(pg) = postgres_url() else { return };
    let mut cluster = Cluster::new(&pg).await;
    // With recovery on, a rotation whose response died with the process can
    // be taken up again with the token the client holds: every family must
    // stay usable.
    cluster
        .env
        .push(("LATCHKEY_REFRESH__RECOVERY_WINDOW".into(), "60".into()));
    let mut a = cluster.start().await;
    let b = cluster.start().await;
    let (va, vb) = (view(&a, &cluster.issuer), view(&b, &cluster.issuer));
    cluster.cli(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let client: serde_json::Value = serde_json::from_str(&cluster.cli(
        &[
            "client",
            "add",
            "--name",
            "Portal",
            "--redirect-uri",
            REDIRECT,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid offline_access",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let web = std::sync::Arc::new(TestClient::remote(&client));

    // Four families, each refreshed in a loop at A.
    let mut latest = Vec::new();
    for _ in 0..4 {
        let (verifier, challenge) = pkce();
        let back = sign_in(
            &va,
            &browser(),
            &authorize_url(
                &va,
                web.id(),
                &challenge,
                &[("scope", "openid offline_access")],
            ),
            "alice",
        )
        .await;
        let t: serde_json::Value = redeem(&va, &web, &param(&back, "code").unwrap(), &verifier)
            .await
            .json()
            .await
            .unwrap();
        latest.push(std::sync::Arc::new(std::sync::Mutex::new(
            t["refresh_token"].as_str().unwrap().to_owned(),
        )));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loops = Vec::new();
    for slot in &latest {
        let (slot, stop, web, url) = (slot.clone(), stop.clone(), web.clone(), va.url("/token"));
        loops.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && done < 10_000 {
                let current = slot.lock().unwrap().clone();
                let resp = api()
                    .post(&url)
                    .basic_auth(web.id(), web.secret.as_deref())
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", current.as_str()),
                    ])
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 200 => {
                        let Ok(v) = r.json::<serde_json::Value>().await else {
                            break;
                        };
                        *slot.lock().unwrap() = v["refresh_token"].as_str().unwrap().to_owned();
                        done += 1;
                    }
                    _ => break,
                }
            }
            done
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // kill -9 of the instance under load, by its PID.
    Command::new("kill")
        .args(["-9", &a.child.id().to_string()])
        .status()
        .unwrap();
    let _ = a.child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for l in loops {
        total += l.await.unwrap();
    }
    assert!(total > 0, "the load ran");
    eprintln!("cluster: {total} rotations at A before kill -9");

    // A restarts; both instances agree, and every family goes on at B.
    a = cluster.start().await;
    let va = view(&a, &cluster.issuer);
    for slot in &latest {
        let token = slot.lock().unwrap().clone();
        let at_a = crate::tokens::introspect(&va, &web, &token).await["active"].clone();
        let at_b = crate::tokens::introspect(&vb, &web, &token).await["active"].clone();
        assert_eq!(at_a, at_b, "instances disagree on a family");
        let resp = crate::tokens::refresh(&vb, &web, &token).await;
        assert_eq!(
            resp.status(),
            200,
            "a family was lost: {}",
            resp.text().await.unwrap()
        );
    }
}

/// A DPoP proof is used once across instances, whether they share Redis or
/// only the database; and a nonce one instance handed out is good at the
/// other (they make nonces with the same key-encryption key).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dpop_proof_is_used_once_across_instances() {
    let Some(pg) = postgres_url() else { return };
    for shared in ["redis", "database"] {
        let mut cluster = Cluster::new(&pg).await;
        if shared == "database" {
            cluster
                .env
                .retain(|(k, _)| !k.starts_with("LATCHKEY_REDIS"));
        }
        let a = cluster.start().await;
        let b = cluster.start().await;
        let machine: serde_json::Value = serde_json::from_str(&cluster.cli(
            &[
                "client",
                "add",
                "--name",
                "Batch",
                "--grant-type",
                "client_credentials",
                "--scope",
                "api",
                "--json",
            ],
            None,
        ))
        .unwrap();
        let machine = std::sync::Arc::new(TestClient::remote(&machine));
        let key = crate::proofs::EcKeyPair::new("k");
        let htu = format!("{}/token", cluster.issuer);
        #[allow(clippy::disallowed_methods)]
        let now = || chrono::Utc::now().timestamp();
        let post = |base: String, proof: String, machine: std::sync::Arc<TestClient>| async move {
            api()
                .post(format!("{base}/token"))
                .basic_auth(machine.id(), machine.secret.as_deref())
                .header("DPoP", proof)
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        };
        let first = post(
            a.base.clone(),
            key.proof("POST", &htu, now(), None),
            machine.clone(),
        )
        .await;
        let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
        assert_oauth_error(first, 400, "use_dpop_nonce").await;
        // A's nonce at B; then the same proof at A is a replay.
        let proof = key.proof("POST", &htu, now(), Some(&nonce));
        let resp = post(b.base.clone(), proof.clone(), machine.clone()).await;
        assert_eq!(
            resp.status(),
            200,
            "{shared}: {}",
            resp.text().await.unwrap()
        );
        let resp = post(a.base.clone(), proof, machine.clone()).await;
        assert_oauth_error(resp, 400, "invalid_dpop_proof").await;

        // One proof sent to both at the same instant, many times: one wins.
        const N: usize = 8;
        let proof = key.proof("POST", &htu, now(), Some(&nonce));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2 * N));
        let tasks: Vec<_> = (0..2 * N)
            .map(|i| {
                let base = if i % 2 == 0 {
                    a.base.clone()
                } else {
                    b.base.clone()
                };
                let (proof, machine, barrier) = (proof.clone(), machine.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    post(base, proof, machine).await.status().as_u16()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += (t.await.unwrap() == 200) as usize;
        }
        assert_eq!(ok, 1, "{shared}: one of the simultaneous replays wins");
    }
}
