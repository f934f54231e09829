//! The command-line contract, run against the real `latchkey` binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) fn latchkey(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.current_dir(dir)
        .env_remove("LATCHKEY_ISSUER")
        .env_remove("LATCHKEY_BIND")
        .env_remove("LATCHKEY_DATABASE_URL");
    c
}

pub(crate) fn run_with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stderr_line(out: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(s.lines().count(), 1, "one line of reason: {s:?}");
    s
}

#[test]
fn users_and_clients_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();

    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("data/latchkey.db").exists(),
        "SQLite file under ./data"
    );
    assert!(dir.path().join("keys/kek").exists(), "KEK under ./keys");

    // The same user again: non-zero, one line.
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "another long password\n");
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("already exists"));

    // A password too short is refused.
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "bob", "--password-stdin"]);
    let out = run_with_stdin(cmd, "short\n");
    assert!(!out.status.success());
    stderr_line(&out);

    let out = latchkey(dir.path())
        .args(["user", "list", "--json"])
        .output()
        .unwrap();
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["username"], "alice");
    assert!(users[0].get("password_hash").is_none());

    let out = latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "Web",
            "--redirect-uri",
            "http://127.0.0.1:3000/cb",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--scope",
            "openid profile",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    assert!(
        client["client_secret"].as_str().unwrap().len() >= 43,
        "256-bit secret"
    );
    assert_eq!(client["redirect_uris"].as_array().unwrap().len(), 2);

    // The secret is shown once: never in listings.
    let out = latchkey(dir.path())
        .args(["client", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["client_id"], id.as_str());
    assert!(list[0].get("client_secret").is_none());
    let out = latchkey(dir.path())
        .args(["client", "show", &id, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(client["client_secret"].as_str().unwrap())
    );

    // An insecure redirect URI is refused with a reason.
    let out = latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://app.example.com/cb",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("https"));

    let out = latchkey(dir.path())
        .args(["client", "delete", &id])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = latchkey(dir.path())
        .args(["client", "show", &id])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not found"));

    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "passwd", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a new long password\n");
    assert!(out.status.success());
    let out = latchkey(dir.path())
        .args(["user", "delete", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn a_wrong_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path())
        .env("LATCHKEY_BIND", "nonsense")
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("LATCHKEY_BIND"));
    let out = latchkey(dir.path())
        .args(["--config", "missing.toml", "user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("missing.toml"));
    // A KEK file that is not a key: a clear error naming it, no new key.
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/kek"), "not a key\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("keys/kek"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = latchkey(dir.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("keys/kek"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_needs_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let mut serve = latchkey(dir.path());
    serve.arg("serve");
    let server =
        crate::support::Serving::spawn(serve, Some(std::fs::File::create(&log_path).unwrap()));
    let (issuer, _) = server.listening();
    let mut child = server.child;
    let pid = child.id();
    let client = reqwest::Client::new();
    let mut discovered = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
        {
            discovered = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stop the server we started, by its PID, before asserting.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let status = child.wait().unwrap();
    let discovered = discovered.expect("the server answered discovery");
    assert!(
        status.success(),
        "SIGTERM is a graceful shutdown, exit status 0: {status:?}"
    );
    assert_eq!(discovered["issuer"], issuer.as_str());
    // The log's copier ends with the server's standard error.
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains(&issuer), "start-up prints the issuer: {log}");
    assert!(log.contains("user add"), "and how to add a user");
}

/// Generated ids are base64url and may begin with `-`: every command that
/// takes one as its argument reads it as that argument, not as an option.
#[test]
fn ids_that_begin_with_a_hyphen_are_arguments() {
    let dir = tempfile::tempdir().unwrap();
    for (args, reason) in [
        (
            &["client", "show", "-7abc", "--json"][..],
            "client not found",
        ),
        (&["client", "delete", "-7abc"][..], "client not found"),
        (
            &["client", "rotate-secret", "-7abc"][..],
            "client not found",
        ),
        (&["user", "disable", "-bob"][..], "user not found"),
        (&["user", "enable", "-bob"][..], "user not found"),
        (&["user", "delete", "-bob"][..], "user not found"),
        (&["keys", "revoke", "-kid"][..], "key not found"),
        (
            &["registration-token", "delete", "-x"][..],
            "registration token not found",
        ),
        (
            &["admin-token", "delete", "-x"][..],
            "admin token not found",
        ),
    ] {
        let out = latchkey(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr_line(&out), format!("latchkey: {reason}"), "{args:?}");
    }
}

/// `user mfa reset` and `client add|update --require-mfa`.
#[test]
fn second_factor_settings_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    assert!(run_with_stdin(cmd, "a long enough password\n")
        .status
        .success());

    let out = latchkey(dir.path())
        .args(["user", "mfa", "reset", "alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 0 second factor(s) of alice"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = latchkey(dir.path())
        .args(["user", "mfa", "reset", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not found"));

    let out = latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "Payroll",
            "--redirect-uri",
            "https://payroll.example/cb",
            "--require-mfa",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(client["require_mfa"], true);
    let id = client["client_id"].as_str().unwrap();
    let out = latchkey(dir.path())
        .args(["client", "update", id, "--require-mfa", "false", "--json"])
        .output()
        .unwrap();
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(client["require_mfa"], false);
}

/// `client add|update` with `--require-par`, `--dpop-bound` and
/// `--resource`, and a malformed resource refused.
#[test]
fn pushed_bound_and_resource_settings_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let client = json(
        latchkey(dir.path())
            .args([
                "client",
                "add",
                "--name",
                "Batch",
                "--grant-type",
                "client_credentials",
                "--scope",
                "api:read",
                "--dpop-bound",
                "--resource",
                "https://api.example.com",
                "--resource",
                "urn:example:reports",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(client["dpop_bound_access_tokens"], true);
    assert_eq!(client["require_pushed_authorization_requests"], false);
    assert_eq!(
        client["resources"],
        serde_json::json!(["https://api.example.com", "urn:example:reports"])
    );
    let id = client["client_id"].as_str().unwrap();
    let client = json(
        latchkey(dir.path())
            .args([
                "client",
                "update",
                id,
                "--require-par",
                "true",
                "--dpop-bound",
                "false",
                "--resource",
                "https://files.example.com",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(client["require_pushed_authorization_requests"], true);
    assert_eq!(client["dpop_bound_access_tokens"], false);
    assert_eq!(
        client["resources"],
        serde_json::json!(["https://files.example.com"])
    );
    let client = json(
        latchkey(dir.path())
            .args(["client", "update", id, "--no-resources", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(client["resources"], serde_json::json!([]));
    let out = latchkey(dir.path())
        .args(["client", "update", id, "--resource", "not a uri"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("resource"),
        "{}",
        stderr_line(&out)
    );

    // CORS origins: set, replaced, removed; a URL with a path refused.
    let client = json(
        latchkey(dir.path())
            .args([
                "client",
                "update",
                id,
                "--cors-origin",
                "https://app.example.com",
                "--cors-origin",
                "http://localhost:3000",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(
        client["allowed_cors_origins"],
        serde_json::json!(["https://app.example.com", "http://localhost:3000"])
    );
    let client = json(
        latchkey(dir.path())
            .args(["client", "update", id, "--no-cors-origins", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(client["allowed_cors_origins"], serde_json::json!([]));
    let out = latchkey(dir.path())
        .args([
            "client",
            "add",
            "--name",
            "SPA",
            "--grant-type",
            "client_credentials",
            "--cors-origin",
            "https://app.example.com/callback",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("CORS origin"),
        "{}",
        stderr_line(&out)
    );
}

/// `latchkey backup` while the server runs and writes, then `latchkey
/// restore` into a new directory: the copy is complete, private, and a
/// server starts from it. What must not happen is refused: writing over a
/// file, replacing a database without `--force`, restoring what is not a
/// Latchkey database.
#[test]
fn backup_while_serving_and_restore_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    assert!(run_with_stdin(cmd, "a long enough password\n")
        .status
        .success());
    let mut serve = latchkey(dir.path());
    serve.arg("serve");
    let server = crate::support::Serving::spawn(serve, None);
    server.listening();
    let mut server = server.child;
    // A write while serving, then the copy.
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "bob", "--password-stdin"]);
    assert!(run_with_stdin(cmd, "another long password\n")
        .status
        .success());
    let backup = dir.path().join("latchkey-backup.db");
    let out = latchkey(dir.path())
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("key-encryption key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup is private: {mode:o}");
    }
    let again = latchkey(dir.path())
        .args(["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        stderr_line(&again).contains("exists"),
        "{}",
        stderr_line(&again)
    );

    // Elsewhere, with the key-encryption key beside it.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("keys")).unwrap();
    std::fs::copy(dir.path().join("keys/kek"), other.path().join("keys/kek")).unwrap();
    let junk = other.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = latchkey(other.path())
        .args(["restore", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a file that is not a Latchkey database"
    );
    let out = latchkey(other.path())
        .args(["restore", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let users = latchkey(other.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&users.stdout);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );
    // A database is there now: replacing it needs --force.
    let out = latchkey(other.path())
        .args(["restore", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_line(&out).contains("--force"),
        "{}",
        stderr_line(&out)
    );
    let out = latchkey(other.path())
        .args(["restore", backup.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With JSON logs, the lines a request writes carry its request id (the
/// one its answer names).
#[test]
fn json_log_lines_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut serve = latchkey(dir.path());
    serve
        .env("LATCHKEY_LOG_FORMAT", "json")
        .env("LATCHKEY_LOG", "info")
        .arg("serve");
    let server = crate::support::Serving::spawn(serve, Some(log));
    let (_, port) = server.listening();
    let mut server = server.child;
    // A refused token request logs its reason.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = "grant_type=client_credentials&client_id=nobody&client_secret=x";
    write!(
        stream,
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    let id = answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-request-id:")
                .then(|| l[13..].trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no X-Request-Id in {answer}"));
    std::thread::sleep(Duration::from_millis(300));
    let _ = server.kill();
    let _ = server.wait();
    let logs = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        lines.iter().any(|l| l.contains("token request refused")),
        "no log line of the request names {id}:\n{logs}"
    );
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON log lines");
        assert!(v.get("spans").is_some() || v.get("span").is_some(), "{l}");
    }
}

/// A stand-in OpenTelemetry collector: answers every OTLP/HTTP export
/// with 200 and hands over what it received.
fn collector() -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            if tx.send(body).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// With `otlp_endpoint` set, a request's span reaches the collector as
/// the child of the caller's `traceparent`, named after its route and
/// carrying the client, grant type and outcome, and never the secret.
#[test]
fn spans_are_exported_as_children_of_the_callers_trace() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;

    let (collector_port, exports) = collector();
    let dir = tempfile::tempdir().unwrap();
    let mut serve = latchkey(dir.path());
    serve
        .env(
            "LATCHKEY_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .arg("serve");
    let server = crate::support::Serving::spawn(serve, None);
    let (_, port) = server.listening();
    let mut server = server.child;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let secret = "s3cr3t-that-must-never-leave";
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = format!("grant_type=client_credentials&client_id=nobody&client_secret={secret}");
    write!(
        stream,
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\ntraceparent: 00-{trace_id}-{parent_id}-01\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let mut found = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while found.is_none() && std::time::Instant::now() < deadline {
        let Ok(raw) = exports.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the client secret was exported"
        );
        let export = ExportTraceServiceRequest::decode(raw.as_slice()).expect("OTLP protobuf");
        found = export
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .find(|s| hex(&s.trace_id) == trace_id && hex(&s.parent_span_id) == parent_id);
    }
    let _ = server.kill();
    let _ = server.wait();
    let span = found.expect("the request's span reached the collector, in the caller's trace");
    assert_eq!(span.name, "POST /token");
    let attr = |key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref()?.value.clone())
    };
    let text = |key: &str| match attr(key) {
        Some(Value::StringValue(s)) => s,
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(text("client_id"), "nobody");
    assert_eq!(text("grant_type"), "client_credentials");
    assert_eq!(text("outcome"), "refused");
    assert_eq!(text("endpoint"), "/token");
    assert!(!text("request_id").is_empty());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `latchkey audit` reads what the command line did, attributed to `cli`,
/// with the same filters as the console and the admin API.
#[test]
fn the_audit_log_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    assert!(run_with_stdin(cmd, "a long enough password\n")
        .status
        .success());
    let out = latchkey(dir.path())
        .args(["admin-token", "create", "--name", "ci", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());

    let audit = |args: &[&str]| {
        let out = latchkey(dir.path())
            .arg("audit")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let all = audit(&["--json"]);
    let mut kinds: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // Within one second the order is the records' ids'.
    kinds.sort_unstable();
    assert_eq!(kinds, ["admin_token_created", "user_created"], "{all}");
    assert!(all.as_array().unwrap().iter().all(|e| e["actor"] == "cli"));
    let alice = audit(&["--user", "alice", "--since", "1h", "--json"]);
    assert_eq!(alice.as_array().unwrap().len(), 1, "{alice}");
    assert_eq!(alice[0]["kind"], "user_created");
    assert_eq!(
        audit(&["--actor", "console:alice", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        audit(&["--since", "@4102444800", "--json"]),
        serde_json::json!([])
    );
    let text = latchkey(dir.path())
        .args(["audit", "--kind", "user_created"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("\tuser_created\tcli\t"), "{text}");

    for wrong in [
        &["--user", "nobody"][..],
        &["--kind", "nonsense"],
        &["--since", "yesterday"],
        &["--since", "@soon"],
        &["--since", "1h", "--until", "2h"],
    ] {
        let out = latchkey(dir.path())
            .arg("audit")
            .args(wrong)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{wrong:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{wrong:?}"
        );
    }
}
