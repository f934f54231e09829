//! Passkeys (WebAuthn) over `webauthn-rs`: registration of a discoverable
//! credential, passwordless sign-in with it, and its use as a second factor
//! after a password.
//!
//! Every ceremony is two requests. The `start_*` call returns the options
//! JSON for the browser (rendered into a `data-passkey-options` attribute
//! and run by `/assets/passkeys.js`) and a state string that the caller
//! keeps *server-side* (in the database, keyed by the browser's session)
//! until the `finish_*` call; the state must never travel through the
//! browser, or a recorded answer could be replayed against it. A state is
//! single-use: the caller takes it out of storage (delete, rows affected
//! == 1) before calling `finish_*`, whatever the outcome, because the
//! second-factor state carries the credentials (and their counters) as
//! they were at the start, so the same answer would verify again. Stored
//! credentials are opaque strings (`webauthn-rs`'s serialised `Passkey`)
//! indexed by their base64url credential id.
//!
//! User verification is required in every ceremony, so a passkey is a
//! complete sign-in on its own (something you have plus a PIN or
//! biometric), and registration asks for a resident (discoverable) key so
//! that sign-in needs no username.
//!
//! # Browser check
//!
//! Chromium's virtual authenticator (DevTools protocol) runs both
//! ceremonies through `passkeys.js` and this adapter, with the page served
//! on `http://localhost:PORT` and the issuer set to that origin:
//!
//! ```text
//! WebAuthn.enable                 { enableUI: false }
//! WebAuthn.addVirtualAuthenticator { options: {
//!     protocol: "ctap2", ctap2Version: "ctap2_1", transport: "internal",
//!     hasResidentKey: true, hasUserVerification: true,
//!     isUserVerified: true, automaticPresenceSimulation: true } }
//! WebAuthn.getCredentials          { authenticatorId }   // isResidentCredential: true
//! ```
//!
//! (playwright-core: `context.newCDPSession(page)`, then `cdp.send(..)`;
//! Debian's Chromium 156, headless, `--no-sandbox`.) Registration, then
//! passwordless sign-in, then a second-factor check each pass; registering
//! the same authenticator again is refused by the browser
//! (`InvalidStateError`, from `excludeCredentials`).
//! With those options the registration answer carries `credProps.rk: true`,
//! the credential is not backup-eligible (`hwk`), and the passwordless
//! answer carries the user handle that [`Passkeys::identify`] reads.
//! Options `defaultBackupEligibility: true, defaultBackupState: true` make
//! it a synced passkey (`swk`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Credential, CredentialID,
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnBuilder, WebauthnError,
};

/// Why a passkey ceremony failed. The messages are safe to show on a page
/// or in an OAuth error description; the cause (for the log) is the
/// `source`.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The issuer cannot be a WebAuthn relying party (start-up only).
    #[error("passkeys are not available for this issuer: {0}")]
    Unavailable(String),
    /// The browser's answer is not a WebAuthn credential in the expected
    /// JSON shape.
    #[error("the passkey answer is not valid")]
    Malformed(#[source] serde_json::Error),
    /// The stored ceremony state is unreadable or belongs to another
    /// ceremony.
    #[error("the passkey request is no longer valid, try again")]
    State,
    /// The answer names no user, or a user that is not a Latchkey user
    /// handle.
    #[error("this passkey does not name an account")]
    NoUserHandle,
    /// The answer was made with a credential this account does not have.
    #[error("this passkey is not registered for the account")]
    UnknownCredential,
    /// Signature, challenge, origin, user verification or counter check
    /// failed.
    #[error("the passkey could not be verified")]
    Rejected(#[source] WebauthnError),
    /// A stored credential cannot be read back (a storage fault, not the
    /// user's).
    #[error("a stored passkey is unreadable")]
    Stored(#[source] serde_json::Error),
    /// Building the options failed (random challenge, serialisation).
    #[error("the passkey request could not be prepared")]
    Internal(#[source] WebauthnError),
}

/// A passkey that has just been registered: store `credential` under
/// `credential_id` for the user whose handle is `user_handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// The credential id, base64url without padding (unique across users:
    /// the caller must refuse one already registered).
    pub credential_id: String,
    /// The serialised credential to store (public key, counter, flags).
    pub credential: String,
    /// The WebAuthn user handle: the user id when it is a UUID, else a
    /// UUID derived from it (see [`user_handle`]).
    pub user_handle: String,
    /// The key may be copied off the device (a synced passkey): report
    /// amr `swk` rather than `hwk`.
    pub backup_eligible: bool,
    /// The browser reported a discoverable (resident) key. Unsigned: a
    /// hint for the page, not a security property.
    pub discoverable: Option<bool>,
}

/// A successful sign-in with a stored passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The credential used, base64url without padding.
    pub credential_id: String,
    /// The credential to store back (its counter or backup state moved),
    /// or `None` when nothing changed.
    pub updated: Option<String>,
    /// The authenticator verified the user (PIN, biometric). Always true
    /// here since every ceremony requires it; kept for the `amr`.
    pub user_verified: bool,
    /// The key may be copied off the device: amr `swk` rather than `hwk`.
    pub backup_eligible: bool,
}

/// What a passwordless answer names before it is verified: load this
/// user's stored credentials, then call [`Passkeys::finish_passwordless`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// The WebAuthn user handle (a UUID string), as stored in
    /// [`NewPasskey::user_handle`].
    pub user_handle: String,
    /// The credential id, base64url without padding.
    pub credential_id: String,
}

/// The WebAuthn user handle of a Latchkey user id: the id itself when it is
/// a UUID (as ids made by Latchkey are), else a UUID taken from its
/// SHA-256, so one user always has one handle.
pub fn user_handle(user_id: &str) -> Uuid {
    match Uuid::parse_str(user_id) {
        Ok(u) => u,
        Err(_) => {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(user_id.as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_custom_bytes(bytes).into_uuid()
        }
    }
}

/// The ceremony a stored state belongs to, so that a state kept for one
/// kind of ceremony is never accepted by another.
#[derive(Serialize, Deserialize)]
#[serde(tag = "ceremony", content = "state", rename_all = "snake_case")]
enum CeremonyState {
    Registration {
        user_handle: Uuid,
        state: PasskeyRegistration,
    },
    Passwordless(DiscoverableAuthentication),
    SecondFactor(PasskeyAuthentication),
}

impl CeremonyState {
    fn encode(&self) -> Result<String, PasskeyError> {
        serde_json::to_string(self).map_err(|_| PasskeyError::State)
    }

    fn decode(s: &str) -> Result<CeremonyState, PasskeyError> {
        serde_json::from_str(s).map_err(|_| PasskeyError::State)
    }
}

/// Latchkey as a WebAuthn relying party: the RP id is the issuer's host,
/// the only accepted origin is the issuer's origin.
pub struct Passkeys {
    webauthn: Webauthn,
    rp_id: String,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("rp_id", &self.rp_id)
            .finish_non_exhaustive()
    }
}

impl Passkeys {
    /// The relying party for `issuer`, shown to the user as `rp_name`.
    ///
    /// Browsers offer WebAuthn only in a secure context and only for a
    /// domain name: an `https` issuer with a domain, or `http://localhost`
    /// (a secure context in Chromium). An IP address such as `127.0.0.1` can
    /// never be an RP id, whatever the scheme.
    pub fn new(issuer: &str, rp_name: &str) -> Result<Passkeys, PasskeyError> {
        let url = Url::parse(issuer)
            .map_err(|e| PasskeyError::Unavailable(format!("the issuer is not a URL ({e})")))?;
        let Some(host) = url.domain().map(str::to_owned) else {
            return Err(PasskeyError::Unavailable(format!(
                "the issuer's host must be a domain name, not {:?} (use http://localhost for local testing)",
                url.host_str().unwrap_or("")
            )));
        };
        let local = host == "localhost" || host.ends_with(".localhost");
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            s => {
                return Err(PasskeyError::Unavailable(format!(
                    "the issuer must use https (or http://localhost), not {s}"
                )))
            }
        }
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|e| PasskeyError::Unavailable(format!("the issuer has no origin ({e})")))?;
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .and_then(|b| b.rp_name(rp_name).build())
            .map_err(|e| PasskeyError::Unavailable(e.to_string()))?;
        Ok(Passkeys {
            webauthn,
            rp_id: host,
        })
    }

    /// The RP id (the issuer's host).
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// Begins registering a passkey for `user_id`; `exclude` lists the
    /// credential ids (base64url) the user already has, so the same
    /// authenticator is not registered twice. Returns the options JSON for
    /// the browser and the state to keep server-side.
    pub fn start_registration(
        &self,
        user_id: &str,
        username: &str,
        display_name: &str,
        exclude: &[String],
    ) -> Result<(String, String), PasskeyError> {
        let exclude: Vec<CredentialID> = exclude
            .iter()
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .map(CredentialID::from)
            .collect();
        let handle = user_handle(user_id);
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(
                handle,
                username,
                display_name,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(PasskeyError::Internal)?;
        let options = require_resident_key(&ccr)?;
        let state = CeremonyState::Registration {
            user_handle: handle,
            state,
        };
        Ok((options, state.encode()?))
    }

    /// Completes a registration with the browser's answer (the JSON that
    /// `passkeys.js` puts in the `credential` field).
    pub fn finish_registration(
        &self,
        state: &str,
        response: &str,
    ) -> Result<NewPasskey, PasskeyError> {
        let CeremonyState::Registration { user_handle, state } = CeremonyState::decode(state)?
        else {
            return Err(PasskeyError::State);
        };
        let reg: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(PasskeyError::Malformed)?;
        let discoverable = reg.extensions.cred_props.as_ref().and_then(|p| p.rk);
        let passkey = self
            .webauthn
            .finish_passkey_registration(&reg, &state)
            .map_err(PasskeyError::Rejected)?;
        let credential = serde_json::to_string(&passkey).map_err(PasskeyError::Stored)?;
        // Read-only use of the credential internals: whether the key may
        // leave the device.
        let backup_eligible = Credential::from(passkey.clone()).backup_eligible;
        Ok(NewPasskey {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            credential,
            user_handle: user_handle.to_string(),
            backup_eligible,
            discoverable,
        })
    }

    /// Begins a passwordless sign-in: the browser lets the user pick any
    /// discoverable passkey for this RP. Returns the options JSON and the
    /// state to keep server-side.
    pub fn start_passwordless(&self) -> Result<(String, String), PasskeyError> {
        let (mut rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(PasskeyError::Internal)?;
        // `webauthn-rs` asks for conditional mediation (the username field's
        // autofill). The page starts the ceremony from a button instead,
        // where the browser's own passkey picker is the expected UI.
        rcr.mediation = None;
        Ok((
            options_json(&rcr)?,
            CeremonyState::Passwordless(state).encode()?,
        ))
    }

    /// Reads which user and credential a passwordless answer names, before
    /// it is verified, so the caller can load that user's credentials.
    pub fn identify(&self, response: &str) -> Result<Identified, PasskeyError> {
        let cred: PublicKeyCredential =
            serde_json::from_str(response).map_err(PasskeyError::Malformed)?;
        let (uuid, cred_id) = self
            .webauthn
            .identify_discoverable_authentication(&cred)
            .map_err(|_| PasskeyError::NoUserHandle)?;
        Ok(Identified {
            user_handle: uuid.to_string(),
            credential_id: URL_SAFE_NO_PAD.encode(cred_id),
        })
    }

    /// Completes a passwordless sign-in against the credentials stored for
    /// the user that [`Passkeys::identify`] named.
    pub fn finish_passwordless(
        &self,
        state: &str,
        response: &str,
        stored: &[String],
    ) -> Result<Verified, PasskeyError> {
        let CeremonyState::Passwordless(state) = CeremonyState::decode(state)? else {
            return Err(PasskeyError::State);
        };
        let cred: PublicKeyCredential =
            serde_json::from_str(response).map_err(PasskeyError::Malformed)?;
        same_origin_only(&cred)?;
        let passkeys = parse_stored(stored)?;
        if !passkeys
            .iter()
            .any(|p| p.cred_id().as_slice() == cred.get_credential_id())
        {
            return Err(PasskeyError::UnknownCredential);
        }
        let keys: Vec<DiscoverableKey> = passkeys.iter().map(DiscoverableKey::from).collect();
        let result = self
            .webauthn
            .finish_discoverable_authentication(&cred, state, &keys)
            .map_err(PasskeyError::Rejected)?;
        verified(passkeys, &result)
    }

    /// Begins a second-factor check after a password: the browser may use
    /// only the user's own stored credentials.
    pub fn start_second_factor(&self, stored: &[String]) -> Result<(String, String), PasskeyError> {
        let passkeys = parse_stored(stored)?;
        if passkeys.is_empty() {
            return Err(PasskeyError::UnknownCredential);
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(PasskeyError::Internal)?;
        Ok((
            options_json(&rcr)?,
            CeremonyState::SecondFactor(state).encode()?,
        ))
    }

    /// Completes a second-factor check. The signature and counter are
    /// checked against the credentials captured in `state`; `stored` (the
    /// user's current credentials) only yields the updated one to store.
    pub fn finish_second_factor(
        &self,
        state: &str,
        response: &str,
        stored: &[String],
    ) -> Result<Verified, PasskeyError> {
        let CeremonyState::SecondFactor(state) = CeremonyState::decode(state)? else {
            return Err(PasskeyError::State);
        };
        let cred: PublicKeyCredential =
            serde_json::from_str(response).map_err(PasskeyError::Malformed)?;
        same_origin_only(&cred)?;
        let passkeys = parse_stored(stored)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&cred, &state)
            .map_err(PasskeyError::Rejected)?;
        verified(passkeys, &result)
    }
}

/// Refuses an assertion the browser made inside a frame of another origin
/// (`crossOrigin: true` in the signed client data). `webauthn-rs` checks
/// this when a passkey is registered but not when it signs in; Latchkey's
/// pages cannot be framed, so a genuine sign-in never has it.
fn same_origin_only(cred: &PublicKeyCredential) -> Result<(), PasskeyError> {
    #[derive(serde::Deserialize)]
    struct ClientData {
        #[serde(rename = "crossOrigin", default)]
        cross_origin: Option<bool>,
    }
    let data: ClientData = serde_json::from_slice(cred.response.client_data_json.as_ref())
        .map_err(PasskeyError::Malformed)?;
    if data.cross_origin == Some(true) {
        return Err(PasskeyError::Rejected(WebauthnError::CredentialCrossOrigin));
    }
    Ok(())
}

/// Asks the browser for a discoverable credential. `webauthn-rs` 0.5 sends
/// `residentKey: "discouraged"` for passkeys (its resident-key flow needs an
/// attestation CA list, which would refuse most authenticators). Only the
/// options sent to the browser change: the server-side state, and with it
/// every check made when the answer comes back (challenge, origin, RP id,
/// user verification, signature), is exactly the library's passkey flow;
/// the library never checks residency (it cannot: the authenticator does
/// not sign it). So this narrows which authenticators answer and loosens
/// nothing.
/// (The JSON is edited rather than the typed options because those are
/// built inside `webauthn-rs`; the value is `webauthn-rs-proto`'s own.)
fn require_resident_key(ccr: &CreationChallengeResponse) -> Result<String, PasskeyError> {
    let mut v = serde_json::to_value(ccr).map_err(|_| PasskeyError::State)?;
    let Some(sel) = v
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|s| s.as_object_mut())
    else {
        return Err(PasskeyError::State);
    };
    let required = serde_json::to_value(webauthn_rs_proto::ResidentKeyRequirement::Required)
        .map_err(|_| PasskeyError::State)?;
    sel.insert("residentKey".into(), required);
    sel.insert("requireResidentKey".into(), true.into());
    Ok(v.to_string())
}

fn options_json(rcr: &RequestChallengeResponse) -> Result<String, PasskeyError> {
    serde_json::to_string(rcr).map_err(|_| PasskeyError::State)
}

fn parse_stored(stored: &[String]) -> Result<Vec<Passkey>, PasskeyError> {
    stored
        .iter()
        .map(|s| serde_json::from_str::<Passkey>(s).map_err(PasskeyError::Stored))
        .collect()
}

fn verified(
    mut passkeys: Vec<Passkey>,
    result: &AuthenticationResult,
) -> Result<Verified, PasskeyError> {
    let passkey = passkeys
        .iter_mut()
        .find(|p| p.cred_id() == result.cred_id())
        .ok_or(PasskeyError::UnknownCredential)?;
    let updated = match passkey.update_credential(result) {
        Some(true) => Some(serde_json::to_string(passkey).map_err(PasskeyError::Stored)?),
        _ => None,
    };
    Ok(Verified {
        credential_id: URL_SAFE_NO_PAD.encode(result.cred_id()),
        updated,
        user_verified: result.user_verified(),
        backup_eligible: result.backup_eligible(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn rp() -> Passkeys {
        Passkeys::new("https://login.example.com/tenant", "Latchkey").expect("https issuer")
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("options are JSON")
    }

    const USER: &str = "7f6d1c1e-4a8b-4c3d-9e2f-0123456789ab";

    #[test]
    fn the_rp_is_the_issuer_host_and_origin() {
        assert_eq!(rp().rp_id(), "login.example.com");
        let local = Passkeys::new("http://localhost:8080", "Latchkey").expect("localhost");
        assert_eq!(local.rp_id(), "localhost");
    }

    #[test]
    fn issuers_that_cannot_be_an_rp_are_refused() {
        for issuer in [
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
            "http://login.example.com",
            "https://10.0.0.1",
            "not a url",
        ] {
            let err = Passkeys::new(issuer, "Latchkey").expect_err(issuer);
            assert!(
                matches!(err, PasskeyError::Unavailable(_)),
                "{issuer}: {err}"
            );
            assert!(err.to_string().starts_with("passkeys are not available"));
        }
    }

    #[test]
    fn registration_requires_a_verified_resident_key() {
        let (options, state) = rp()
            .start_registration(USER, "alice", "Alice", &[])
            .expect("start");
        let o = json(&options);
        let pk = &o["publicKey"];
        assert_eq!(pk["rp"]["id"], "login.example.com");
        assert_eq!(pk["rp"]["name"], "Latchkey");
        assert_eq!(pk["user"]["name"], "alice");
        assert_eq!(pk["user"]["displayName"], "Alice");
        // The user handle is the user id's 16 bytes, base64url.
        let id = URL_SAFE_NO_PAD
            .decode(pk["user"]["id"].as_str().expect("user.id"))
            .expect("base64url");
        assert_eq!(Uuid::from_slice(&id).expect("uuid").to_string(), USER);
        let challenge = pk["challenge"].as_str().expect("challenge");
        assert!(URL_SAFE_NO_PAD.decode(challenge).expect("base64url").len() >= 16);
        let sel = &pk["authenticatorSelection"];
        assert_eq!(sel["userVerification"], "required");
        assert_eq!(sel["residentKey"], "required");
        assert_eq!(sel["requireResidentKey"], true);
        assert_eq!(pk["extensions"]["credProps"], true);
        assert!(pk.get("excludeCredentials").is_none_or(|v| v.is_null()));
        // The state names its ceremony and round-trips through a String.
        assert_eq!(json(&state)["ceremony"], "registration");
        assert!(matches!(
            CeremonyState::decode(&state),
            Ok(CeremonyState::Registration { user_handle, .. }) if user_handle.to_string() == USER
        ));
    }

    #[test]
    fn registration_excludes_the_users_credentials() {
        let existing = URL_SAFE_NO_PAD.encode([1u8, 2, 3, 4]);
        let (options, _) = rp()
            .start_registration(USER, "alice", "Alice", std::slice::from_ref(&existing))
            .expect("start");
        let o = json(&options);
        assert_eq!(o["publicKey"]["excludeCredentials"][0]["id"], existing);
        assert_eq!(
            o["publicKey"]["excludeCredentials"][0]["type"],
            "public-key"
        );
    }

    #[test]
    fn non_uuid_user_ids_get_a_stable_handle() {
        assert_eq!(user_handle(USER).to_string(), USER);
        assert_eq!(user_handle("alice"), user_handle("alice"));
        assert_ne!(user_handle("alice"), user_handle("bob"));
    }

    #[test]
    fn passwordless_asks_any_discoverable_key_with_verification() {
        let (options, state) = rp().start_passwordless().expect("start");
        let o = json(&options);
        let pk = &o["publicKey"];
        assert_eq!(pk["rpId"], "login.example.com");
        assert_eq!(pk["userVerification"], "required");
        assert!(pk["challenge"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(pk["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()));
        assert!(o.get("mediation").is_none_or(|m| m.is_null()));
        assert_eq!(json(&state)["ceremony"], "passwordless");
        assert!(matches!(
            CeremonyState::decode(&state),
            Ok(CeremonyState::Passwordless(_))
        ));
    }

    #[test]
    fn second_factor_needs_a_stored_key() {
        assert!(matches!(
            rp().start_second_factor(&[]),
            Err(PasskeyError::UnknownCredential)
        ));
        assert!(matches!(
            rp().start_second_factor(&["{not a passkey".to_owned()]),
            Err(PasskeyError::Stored(_))
        ));
    }

    /// An answer whose signed client data says it was made in a frame of
    /// another origin is refused before anything else is looked at; the
    /// same answer without the flag goes on to the credential check.
    #[test]
    fn an_answer_made_in_a_cross_origin_frame_is_refused() {
        let p = rp();
        let (_, pwl) = p.start_passwordless().expect("start");
        let b = |x: &[u8]| URL_SAFE_NO_PAD.encode(x);
        let answer = |cross: &str| {
            let client_data = format!(
                r#"{{"type":"webauthn.get","challenge":"c","origin":"https://login.example.com"{cross}}}"#
            );
            serde_json::json!({
                "id": b(b"cred"), "rawId": b(b"cred"), "type": "public-key",
                "response": {
                    "authenticatorData": b(&[0u8; 37]),
                    "clientDataJSON": b(client_data.as_bytes()),
                    "signature": b(b"sig"), "userHandle": b(USER.as_bytes())
                },
                "extensions": {}
            })
            .to_string()
        };
        for framed in [
            r#","crossOrigin":true"#,
            r#","crossOrigin":true,"topOrigin":"https://evil.example""#,
        ] {
            assert!(
                matches!(
                    p.finish_passwordless(&pwl, &answer(framed), &[]),
                    Err(PasskeyError::Rejected(WebauthnError::CredentialCrossOrigin))
                ),
                "{framed}"
            );
        }
        for same_origin in ["", r#","crossOrigin":false"#] {
            assert!(
                matches!(
                    p.finish_passwordless(&pwl, &answer(same_origin), &[]),
                    Err(PasskeyError::UnknownCredential)
                ),
                "{same_origin}"
            );
        }
    }

    #[test]
    fn bad_browser_answers_are_errors() {
        let p = rp();
        let (_, reg) = p.start_registration(USER, "a", "A", &[]).expect("start");
        let (_, pwl) = p.start_passwordless().expect("start");
        for garbage in [
            "",
            "null",
            "{}",
            "[1,2,3]",
            r#"{"id":"x","rawId":"%%%","type":"public-key","response":{}}"#,
        ] {
            assert!(matches!(
                p.finish_registration(&reg, garbage),
                Err(PasskeyError::Malformed(_))
            ));
            assert!(matches!(
                p.finish_passwordless(&pwl, garbage, &[]),
                Err(PasskeyError::Malformed(_))
            ));
            assert!(matches!(
                p.identify(garbage),
                Err(PasskeyError::Malformed(_))
            ));
        }
        // Well-formed JSON with bytes that are not a WebAuthn answer.
        let b = |x: &[u8]| URL_SAFE_NO_PAD.encode(x);
        let reg_answer = serde_json::json!({
            "id": b(b"cred"), "rawId": b(b"cred"), "type": "public-key",
            "response": {"attestationObject": b(b"\xa0"), "clientDataJSON": b(b"{}")},
            "extensions": {}
        })
        .to_string();
        assert!(matches!(
            p.finish_registration(&reg, &reg_answer),
            Err(PasskeyError::Rejected(_))
        ));
        let get_answer = |handle: Option<&[u8]>| {
            serde_json::json!({
                "id": b(b"cred"), "rawId": b(b"cred"), "type": "public-key",
                "response": {
                    "authenticatorData": b(&[0u8; 37]), "clientDataJSON": b(b"{}"),
                    "signature": b(b"sig"), "userHandle": handle.map(b)
                },
                "extensions": {}
            })
            .to_string()
        };
        assert!(matches!(
            p.identify(&get_answer(None)),
            Err(PasskeyError::NoUserHandle)
        ));
        assert!(matches!(
            p.identify(&get_answer(Some(b"short"))),
            Err(PasskeyError::NoUserHandle)
        ));
        let id = p
            .identify(&get_answer(Some(user_handle(USER).as_bytes())))
            .expect("identify");
        assert_eq!(id.user_handle, USER);
        assert_eq!(id.credential_id, b(b"cred"));
        // No stored credential matches.
        assert!(matches!(
            p.finish_passwordless(&pwl, &get_answer(None), &[]),
            Err(PasskeyError::UnknownCredential)
        ));
    }

    #[test]
    fn a_state_is_accepted_only_by_its_own_ceremony() {
        let p = rp();
        let (_, reg) = p.start_registration(USER, "a", "A", &[]).expect("start");
        let (_, pwl) = p.start_passwordless().expect("start");
        let any = "{}";
        assert!(matches!(
            p.finish_registration(&pwl, any),
            Err(PasskeyError::State)
        ));
        assert!(matches!(
            p.finish_passwordless(&reg, any, &[]),
            Err(PasskeyError::State)
        ));
        assert!(matches!(
            p.finish_second_factor(&pwl, any, &[]),
            Err(PasskeyError::State)
        ));
        for bad in ["", "{}", "not json", r#"{"ceremony":"registration"}"#] {
            assert!(matches!(
                p.finish_registration(bad, any),
                Err(PasskeyError::State)
            ));
        }
    }

    #[test]
    fn error_messages_say_nothing_internal() {
        let e = PasskeyError::Rejected(WebauthnError::InvalidRPIDHash);
        assert_eq!(e.to_string(), "the passkey could not be verified");
    }
}
