//! The key-encryption key (KEK): a 32-byte secret in a file next to the
//! server, under which every signing key is stored encrypted in the database,
//! and from which independent subkeys (CSRF, client-secret pepper) are derived.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key-encryption key file {} does not exist", .path.display())]
    NotFound { path: PathBuf },
    #[error("key-encryption key file {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("key-encryption key file {}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "decryption failed: the key-encryption key does not match the one the keys were \
         encrypted with, or the stored ciphertext is corrupt"
    )]
    Decrypt,
}

/// The key-encryption key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Kek {
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

impl Kek {
    pub fn from_bytes(key: [u8; KEY_LEN]) -> Kek {
        Kek { key }
    }

    /// Loads the KEK, refusing to invent one: for commands where a fresh key
    /// would silently orphan every stored signing key.
    pub fn load(path: &Path) -> Result<Kek, KekError> {
        read_file(path)
    }

    /// Loads the KEK, creating the file (mode 0600) with a random key if it
    /// does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Kek, KekError> {
        match read_file(path) {
            Err(KekError::NotFound { .. }) => {}
            other => return other,
        }
        let mut key = [0u8; KEY_LEN];
        openssl::rand::rand_bytes(&mut key).map_err(|e| io_error(path, io::Error::other(e)))?;
        match create_file(path, &key) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new key-encryption key file");
                Ok(Kek { key })
            }
            // Another process created it first; theirs is the one to use.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_file(path),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// AES-256-GCM with a fresh random nonce; returns `nonce || ciphertext || tag`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        let mut tag = [0u8; TAG_LEN];
        // OpenSSL fails here only if its RNG or AES-GCM is broken, which no
        // caller could recover from.
        openssl::rand::rand_bytes(&mut nonce).expect("OpenSSL RNG failed");
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .expect("AES-256-GCM encryption failed");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&tag);
        out
    }

    /// Reverses [`Kek::encrypt`]; fails if the KEK, the `aad` or any byte differs.
    pub fn decrypt(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, KekError> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(KekError::Decrypt);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            aad,
            ciphertext,
            tag,
        )
        .map_err(|_| KekError::Decrypt)
    }

    /// An independent 32-byte subkey for `purpose`:
    /// HMAC-SHA256(kek, "latchkey/" + purpose). Leaking a subkey reveals
    /// neither the KEK nor any other subkey.
    pub fn derive(&self, purpose: &str) -> [u8; KEY_LEN] {
        let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let pkey = PKey::hmac(&self.key)?;
            let mut signer = Signer::new(MessageDigest::sha256(), &pkey)?;
            signer.update(b"latchkey/")?;
            signer.update(purpose.as_bytes())?;
            signer.sign_to_vec()
        };
        let mac = run().expect("HMAC-SHA256 failed");
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&mac);
        out
    }
}

fn io_error(path: &Path, source: io::Error) -> KekError {
    KekError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_file(path: &Path) -> Result<Kek, KekError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(KekError::NotFound {
                path: path.to_owned(),
            })
        }
        Err(e) => return Err(io_error(path, e)),
    };
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "key-encryption key file is accessible to group or others (mode {mode:o}); chmod 600 it"
            );
        }
    }
    let invalid = |reason: String| KekError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let bytes = STANDARD.decode(text.trim_ascii()).map_err(|e| {
        invalid(format!(
            "expected 32 bytes of base64, found invalid base64 ({e})"
        ))
    })?;
    let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
        invalid(format!(
            "expected 32 bytes of base64, found {} bytes",
            bytes.len()
        ))
    })?;
    Ok(Kek { key })
}

/// Writes the key to a private temporary file, then hard-links it into
/// place: the link fails with `AlreadyExists` if another process won, and
/// nobody can ever read a half-written key file.
fn create_file(path: &Path, key: &[u8; KEY_LEN]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;

    let mut suffix = [0u8; 8];
    openssl::rand::rand_bytes(&mut suffix).map_err(io::Error::other)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));

    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(format!("{}\n", STANDARD.encode(key)).as_bytes())?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    };
    let result = write();
    let _ = fs::remove_file(&tmp);
    result?;
    // Make the new directory entry durable: losing the KEK after a crash
    // would orphan every key encrypted under it.
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/kek");
        let kek = Kek::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n') && text.lines().count() == 1);

        assert_eq!(Kek::load_or_create(&path).unwrap().key, kek.key);
        assert_eq!(Kek::load(&path).unwrap().key, kek.key);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn load_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let err = Kek::load(&path).unwrap_err();
        assert!(matches!(err, KekError::NotFound { .. }));
        assert!(err.to_string().contains(&path.display().to_string()));
        assert!(!path.exists());
    }

    #[test]
    fn wrong_length_names_the_file_and_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        fs::write(&path, format!("{}\n", STANDARD.encode([7u8; 12]))).unwrap();
        let msg = Kek::load_or_create(&path).unwrap_err().to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            msg.contains("expected 32 bytes of base64, found 12 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn non_base64_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        fs::write(&path, "not base64 at all!\n").unwrap();
        let err = Kek::load(&path).unwrap_err();
        assert!(matches!(err, KekError::Invalid { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("base64"),
            "{msg}"
        );
    }

    #[test]
    fn round_trip_and_aad_binding() {
        let kek = Kek::from_bytes([1; 32]);
        let blob = kek.encrypt(b"secret key", b"kid-1");
        assert_eq!(blob.len(), NONCE_LEN + 10 + TAG_LEN);
        assert_eq!(kek.decrypt(&blob, b"kid-1").unwrap(), b"secret key");
        assert!(matches!(
            kek.decrypt(&blob, b"kid-2"),
            Err(KekError::Decrypt)
        ));
        // Nonces are fresh, so the same input never encrypts the same way twice.
        assert_ne!(kek.encrypt(b"secret key", b"kid-1"), blob);

        let mut tampered = blob.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(kek.decrypt(&tampered, b"kid-1").is_err());
        assert!(kek.decrypt(&blob[..20], b"kid-1").is_err());
    }

    #[test]
    fn a_different_kek_cannot_decrypt() {
        let blob = Kek::from_bytes([1; 32]).encrypt(b"secret key", b"kid");
        let err = Kek::from_bytes([2; 32]).decrypt(&blob, b"kid").unwrap_err();
        assert!(err.to_string().contains("does not match"));
    }

    #[test]
    fn derived_subkeys_are_independent_and_stable() {
        let kek = Kek::from_bytes([3; 32]);
        assert_eq!(kek.derive("csrf"), kek.derive("csrf"));
        assert_ne!(kek.derive("csrf"), kek.derive("client-secret-pepper"));
        assert_ne!(kek.derive("csrf"), Kek::from_bytes([4; 32]).derive("csrf"));
        assert_ne!(kek.derive("csrf"), [3; 32]);
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let shown = format!("{:?}", Kek::from_bytes([0xAB; 32]));
        assert!(!shown.contains("171") && !shown.contains("ab") && !shown.contains("AB"));
    }
}
