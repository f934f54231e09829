//! The protocol's vocabularies (grant types, client authentication methods,
//! response types and modes, token type hints, algorithms, prompt values,
//! client requirements, revocation reasons, audit events) are enums in one
//! place. These checks read the server's sources so that a string constant
//! or a lossy parse cannot creep back in beside them.

use std::path::{Path, PathBuf};

const VOCABULARIES: [&str; 10] = [
    "GrantType",
    "ClientAuthMethod",
    "ResponseType",
    "ResponseMode",
    "TokenTypeHint",
    "SigningAlg",
    "Prompt",
    "Requirement",
    "RevokeReason",
    "AuditEvent",
];

/// Names that must be written only in `latchkey-protocol/src/vocabulary.rs`
/// (outside tests).
const NAMES: [&str; 15] = [
    "\"authorization_code\"",
    "\"urn:ietf:params:oauth:grant-type:device_code\"",
    "\"client_credentials\"",
    "\"client_secret_basic\"",
    "\"client_secret_post\"",
    "\"private_key_jwt\"",
    "\"RS256\"",
    "\"PS256\"",
    "\"ES256\"",
    "\"EdDSA\"",
    "\"select_account\"",
    "\"refresh_token_reuse\"",
    "\"client_assertion_replay\"",
    "\"required\"",
    "\"optional\"",
];

/// Every server source file (the benchmark is a client and is left out),
/// without its `#[cfg(test)]` tail.
fn server_sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| !p.to_string_lossy().contains("latchkey-bench"))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("tests.rs")
                && !path.ends_with("properties.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                // The unit tests: `#[cfg(test)]`, perhaps more attributes,
                // then `mod tests`.
                let tail = text.match_indices("#[cfg(test)]\n").find(|(i, _)| {
                    text[*i..]
                        .lines()
                        .skip(1)
                        .find(|l| !l.starts_with("#["))
                        .is_some_and(|l| l.starts_with("mod tests"))
                });
                let code = match tail {
                    Some((i, _)) => text[..i].to_owned(),
                    None => text,
                };
                out.push((path, code));
            }
        }
    }
    assert!(out.len() > 50, "found only {} source files", out.len());
    out
}

#[test]
fn parsed_vocabulary_is_never_defaulted_or_filtered() {
    let mut offences = Vec::new();
    for (path, code) in server_sources() {
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let parses = VOCABULARIES
                .iter()
                .any(|v| line.contains(&format!("{v}::parse")));
            if !parses {
                continue;
            }
            // The parse and whatever the same expression does with it.
            let expr = lines[i..(i + 4).min(lines.len())].join(" ");
            let expr = expr.split(';').next().unwrap_or_default();
            for bad in [".unwrap_or(", ".unwrap_or_default(", ".unwrap_or_else("] {
                if expr.contains(bad) {
                    offences.push(format!("{}:{}: {bad}", path.display(), i + 1));
                }
            }
            if line.contains("filter_map(") {
                offences.push(format!("{}:{}: filter_map", path.display(), i + 1));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "a parsed protocol value falls back or is dropped silently:\n{}",
        offences.join("\n")
    );
}

#[test]
fn vocabulary_names_are_written_once() {
    let mut offences = Vec::new();
    for (path, code) in server_sources() {
        if path.ends_with("vocabulary.rs") || path.ends_with("events.rs") {
            continue;
        }
        for (i, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for name in NAMES {
                if line.contains(name) {
                    offences.push(format!("{}:{}: {name}", path.display(), i + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "vocabulary names written outside their enums:\n{}",
        offences.join("\n")
    );
}
