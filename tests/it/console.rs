//! The `admin` role, given and taken from the command line.

use crate::cli::{latchkey, run_with_stdin, stderr_line};

fn user_json(dir: &std::path::Path, username: &str) -> serde_json::Value {
    let out = latchkey(dir)
        .args(["user", "show", username, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_admin_role_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();

    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "root", "--role", "admin", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("role admin"));
    assert_eq!(user_json(dir.path(), "root")["role"], "admin");

    // Without --role: an ordinary user.
    let mut cmd = latchkey(dir.path());
    cmd.args(["user", "add", "alice", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(user_json(dir.path(), "alice")["role"], "user");

    // A role Latchkey does not know: refused before anything is written.
    let mut cmd = latchkey(dir.path());
    cmd.args([
        "user",
        "add",
        "mallory",
        "--role",
        "root",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    let out = latchkey(dir.path())
        .args(["user", "show", "mallory"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // Given and taken away; the claims stay.
    let out = latchkey(dir.path())
        .args(["user", "update", "alice", "--role", "admin", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["role"], "admin", "{shown}");
    let out = latchkey(dir.path())
        .args(["user", "update", "root", "--role", "user", "--name", "Root"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = user_json(dir.path(), "root");
    assert_eq!(root["role"], "user", "{root}");
    assert_eq!(root["name"], "Root", "{root}");

    let out = latchkey(dir.path())
        .args(["user", "update", "alice", "--role", "superuser"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(user_json(dir.path(), "alice")["role"], "admin");

    let out = latchkey(dir.path())
        .args(["user", "update", "nobody", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not found"));

    // `user list` marks the admins.
    let out = latchkey(dir.path())
        .args(["user", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines()
            .any(|l| l.contains("alice") && l.contains("(admin)")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains("root") && !l.contains("(admin)")),
        "{list}"
    );
}
