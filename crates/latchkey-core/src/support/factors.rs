//! What second factors are made of: authenticator-app secrets (RFC 6238),
//! sealed at rest under a key derived from the key-encryption key, their
//! codes and enrolment QR code, and recovery codes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use latchkey_domain::{LoginChallenge, Methods, PasskeyRecord, Random, SessionId, Store, UserId};
use latchkey_protocol::authn::{Level, Method, Standing};
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use qrcode::render::svg;
use qrcode::QrCode;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::CoreError;
use crate::secrets::token_hash;

/// The length of an authenticator-app secret: 160 bits (RFC 4226 §4).
const SECRET_LEN: usize = 20;
/// Seconds per time step (RFC 6238 default, what every app assumes).
pub const TOTP_STEP: i64 = 30;
const DIGITS: usize = 6;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// How many recovery codes a user gets at a time.
pub const RECOVERY_CODES: usize = 10;
/// Recovery codes are written in this alphabet (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters in a recovery code: 16 of 31 is 79 bits.
const RECOVERY_LEN: usize = 16;

/// Seals and opens authenticator-app secrets (AES-256-GCM, the user id as
/// associated data: a sealed secret moved to another user does not open).
#[derive(Clone)]
pub struct FactorSecrets {
    key: [u8; 32],
}

impl FactorSecrets {
    pub fn new(key: [u8; 32]) -> FactorSecrets {
        FactorSecrets { key }
    }

    pub fn seal(&self, secret: &TotpSecret, user: &UserId, random: &dyn Random) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            user.as_str().as_bytes(),
            &secret.0,
            &mut tag,
        )
        .expect("AES-256-GCM with a 32-byte key and 12-byte nonce cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        blob.extend_from_slice(&tag);
        STANDARD.encode(blob)
    }

    pub fn open(&self, sealed: &str, user: &UserId) -> Result<TotpSecret, CoreError> {
        let corrupt = || CoreError::Internal("an authenticator-app secret does not open".into());
        let blob = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt());
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let secret = decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            user.as_str().as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| corrupt())?;
        Ok(TotpSecret(secret))
    }
}

/// An authenticator app's shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate(random: &dyn Random) -> TotpSecret {
        let mut b = vec![0u8; SECRET_LEN];
        random.fill(&mut b);
        TotpSecret(b)
    }

    fn totp(&self) -> TOTP {
        // skew 0: Latchkey picks the steps it accepts itself.
        TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, TOTP_STEP as u64, self.0.clone())
    }

    /// The secret as people type it into an app (base32, no padding).
    pub fn base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        self.totp().generate((step.max(0) * TOTP_STEP) as u64)
    }

    /// The time step, among the current one and one either side (clock
    /// drift), whose code `code` is; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now: i64) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.div_euclid(TOTP_STEP);
        // Every candidate is computed, so the time taken says nothing
        // about which one matched.
        let mut found = None;
        for step in [current - 1, current, current + 1] {
            let ok: bool = self
                .code_at_step(step)
                .as_bytes()
                .ct_eq(code.as_bytes())
                .into();
            if ok && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI apps read from the QR code.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let mut url = url::Url::parse("otpauth://totp/").expect("a valid base URL");
        url.set_path(&format!("/{issuer}:{account}"));
        url.query_pairs_mut()
            .append_pair("secret", &self.base32())
            .append_pair("issuer", issuer)
            .append_pair("algorithm", "SHA1")
            .append_pair("digits", &DIGITS.to_string())
            .append_pair("period", &TOTP_STEP.to_string());
        url.into()
    }
}

/// `data` as an SVG QR code, for a page to show inline.
pub fn qr_svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    }
}

/// A new recovery code: 16 letters and digits (79 bits) in four groups.
pub fn recovery_code(random: &dyn Random) -> String {
    let n = RECOVERY_ALPHABET.len();
    let mut chars = Vec::with_capacity(RECOVERY_LEN);
    while chars.len() < RECOVERY_LEN {
        let mut b = [0u8; 32];
        random.fill(&mut b);
        // Bytes past the last whole multiple of the alphabet are dropped,
        // so every character is equally likely.
        chars.extend(
            b.iter()
                .filter(|x| (**x as usize) < 256 - 256 % n)
                .map(|x| RECOVERY_ALPHABET[*x as usize % n] as char),
        );
    }
    chars.truncate(RECOVERY_LEN);
    grouped(&chars)
}

fn grouped(chars: &[char]) -> String {
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A recovery code as typed (any case, spaces or dashes anywhere) in the
/// form it is hashed in; `None` when it cannot be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let letters: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if letters.len() != RECOVERY_LEN || !letters.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return None;
    }
    let chars: Vec<char> = letters.chars().collect();
    Some(grouped(&chars))
}

/// What a user has enrolled.
#[derive(Debug, Clone, Default)]
pub struct Enrolled {
    pub totp: bool,
    pub recovery_codes: u64,
    pub passkeys: Vec<PasskeyRecord>,
}

impl Enrolled {
    pub async fn of(store: &dyn Store, user: &UserId) -> Result<Enrolled, CoreError> {
        Ok(Enrolled {
            totp: store.find_totp(user).await?.is_some(),
            recovery_codes: store.unused_recovery_codes(user).await?,
            passkeys: store.list_passkeys(user).await?,
        })
    }

    /// The highest level the user can reach.
    pub fn reachable(&self) -> Level {
        if !self.passkeys.is_empty() {
            Level::PhishingResistant
        } else if self.totp || self.recovery_codes > 0 {
            Level::MultiFactor
        } else {
            Level::Password
        }
    }

    /// Whether the user has a factor besides the password: then every
    /// sign-in proves one.
    pub fn has_second_factor(&self) -> bool {
        self.reachable() > Level::Password
    }

    /// The user's side of a sign-in to a client that does (or does not)
    /// require a second factor.
    pub fn standing(&self, settings: &crate::Settings, client_requires_mfa: bool) -> Standing {
        Standing {
            reachable: self.reachable(),
            mfa_required: settings.auth.require_mfa
                || client_requires_mfa
                || self.has_second_factor(),
        }
    }
}

/// Checks a one-time code (authenticator app, else recovery code) for a
/// user and uses it up: the method it proved, or `None`. A code of the
/// app is accepted once (its time step, not again); a recovery code once
/// ever.
pub async fn use_code(
    store: &dyn Store,
    secrets: &FactorSecrets,
    user: &UserId,
    code: &str,
    now: i64,
) -> Result<Option<Method>, CoreError> {
    if let Some(totp) = store.find_totp(user).await? {
        let secret = secrets.open(&totp.secret, user)?;
        if let Some(step) = secret.matching_step(code, now) {
            return Ok(store
                .use_totp_step(user, step)
                .await?
                .then_some(Method::Totp));
        }
    }
    if let Some(code) = normalize_recovery_code(code) {
        let hash = token_hash(&code);
        if store.use_recovery_code(user, hash.as_str(), now).await? {
            return Ok(Some(Method::RecoveryCode));
        }
    }
    Ok(None)
}

/// New recovery codes for a user, replacing any they had; returned to
/// show once (only their hashes are stored).
pub async fn replace_recovery_codes(
    store: &dyn Store,
    random: &dyn Random,
    user: &UserId,
    now: i64,
) -> Result<Vec<String>, CoreError> {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code(random)).collect();
    let hashes: Vec<String> = codes.iter().map(|c| token_hash(c).into_string()).collect();
    store.replace_recovery_codes(user, &hashes, now).await?;
    Ok(codes)
}

/// How long a sign-in may wait between its factors (seconds).
pub const CHALLENGE_TTL: i64 = 300;
/// Tries (codes, passkey answers) one challenge takes: the last one
/// failing drops it, and the password must be given again. Counted before
/// each check, so tries sent at once are no way past it; the login limiter
/// counts every try too.
pub const CHALLENGE_TRIES: i64 = 5;

/// A sign-in that must prove more, to be stored.
pub struct ChallengeStart<'a> {
    pub user: &'a UserId,
    pub browser_hash: String,
    pub pending_id: Option<String>,
    pub session_id: Option<SessionId>,
    pub methods: Methods,
    pub password_hash: Option<String>,
}

/// Stores a new challenge; returns its id.
pub async fn open_challenge(
    store: &dyn Store,
    random: &dyn Random,
    now: i64,
    start: ChallengeStart<'_>,
) -> Result<String, CoreError> {
    let challenge = LoginChallenge {
        id: random.id(),
        user_id: Some(start.user.clone()),
        browser_hash: start.browser_hash,
        pending_id: start.pending_id,
        session_id: start.session_id,
        methods: start.methods,
        password_hash: start.password_hash,
        ceremony: None,
        failures: 0,
        created_at: now,
        expires_at: now + CHALLENGE_TTL,
    };
    store.insert_challenge(&challenge).await?;
    Ok(challenge.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_domain::OsRandom;

    #[test]
    fn rfc_6238_sha1_test_vector() {
        // RFC 6238 Appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the
        // six-digit code is its last six digits.
        let s = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(s.code_at_step(59 / TOTP_STEP), "287082");
        assert_eq!(s.code_at_step(1_111_111_109 / TOTP_STEP), "081804");
        assert_eq!(s.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn codes_match_one_step_either_side_only() {
        let s = TotpSecret::generate(&OsRandom);
        let now = 1_800_000_000;
        let step = now / TOTP_STEP;
        for d in [-1, 0, 1] {
            assert_eq!(
                s.matching_step(&s.code_at_step(step + d), now),
                Some(step + d)
            );
        }
        for d in [-3, 2, 3] {
            let code = s.code_at_step(step + d);
            if (-1..=1).all(|n| s.code_at_step(step + n) != code) {
                assert_eq!(s.matching_step(&code, now), None);
            }
        }
        assert_eq!(s.matching_step("12345", now), None);
        assert_eq!(s.matching_step("abcdef", now), None);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user() {
        let f = FactorSecrets::new([7; 32]);
        let s = TotpSecret::generate(&OsRandom);
        let alice = UserId::new("alice");
        let sealed = f.seal(&s, &alice, &OsRandom);
        assert_eq!(f.open(&sealed, &alice).unwrap(), s);
        assert!(f.open(&sealed, &UserId::new("bob")).is_err());
        assert!(FactorSecrets::new([8; 32]).open(&sealed, &alice).is_err());
        assert!(f.open("not base64!", &alice).is_err());
    }

    #[test]
    fn recovery_codes_normalize() {
        let c = recovery_code(&OsRandom);
        assert_eq!(c.len(), 19);
        assert_eq!(normalize_recovery_code(&c).as_deref(), Some(c.as_str()));
        let typed = c.to_uppercase().replace('-', " ");
        assert_eq!(normalize_recovery_code(&typed).as_deref(), Some(c.as_str()));
        assert_eq!(normalize_recovery_code("short"), None);
        assert_eq!(normalize_recovery_code("0000-0000-0000-0000"), None);
    }

    #[test]
    fn the_uri_names_the_account_and_issuer() {
        let s = TotpSecret(b"12345678901234567890".to_vec());
        let uri = s.uri("Latchkey", "alice");
        assert!(
            uri.starts_with("otpauth://totp/Latchkey:alice?secret=GEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(qr_svg(&uri).starts_with("<?xml") || qr_svg(&uri).contains("<svg"));
    }
}
