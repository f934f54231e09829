//! The key service: rotates the signing keys on the schedule of
//! `latchkey_domain::rotation`, keeps every instance's in-memory signer in
//! step with the database, and verifies the JWTs Latchkey signed itself and
//! that come back (`id_token_hint`).
//!
//! Coordination between instances lives in the database: every step is a
//! conditional update (a key moves only from the state the plan saw), and
//! at most one `next` key per algorithm can exist (a partial unique index).
//! An instance that loses a race sees a `false` or a `Conflict`, reads the
//! keys again and plans from there, so N instances rotating at once still
//! create exactly one key. Key generation and sealing happen behind the
//! domain's `KeyFactory`; this module never touches key material.

use std::sync::Arc;

use latchkey_domain::keys::{KeyError, KeyFactory, KeyState, SigningAlg, SigningKeyRecord};
use latchkey_domain::rotation::{self, KeyAction};
use latchkey_domain::{AuditEvent, Kid};
use latchkey_protocol::claims::{IdTokenClaims, ID_TOKEN_TYP};
use serde_json::Value;

use crate::audit::Event;
use crate::error::CoreError;
use crate::jwt::{check_claims, ClaimError, ClaimRules};

/// Rounds of plan-and-apply in one tick. A settled key set needs one; a
/// first start three (create, promote, create the successor).
const MAX_ROUNDS: usize = 6;

/// The key service's state in one instance.
pub struct KeyService {
    factory: Arc<dyn KeyFactory>,
    /// What the installed signer was built from; held across a whole tick
    /// so one instance never runs two at once.
    loaded: tokio::sync::Mutex<Option<Vec<(Kid, KeyState, i64)>>>,
}

impl KeyService {
    /// The JOSE adapter that makes and checks keys.
    pub(crate) fn factory(&self) -> &dyn KeyFactory {
        &*self.factory
    }

    pub fn new(factory: Arc<dyn KeyFactory>) -> KeyService {
        KeyService {
            factory,
            loaded: tokio::sync::Mutex::new(None),
        }
    }
}

/// What a tick, rotation or revocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyReport {
    /// New keys: kid, algorithm, when each starts signing.
    pub created: Vec<(Kid, SigningAlg, i64)>,
    pub promoted: Vec<Kid>,
    pub retired: Vec<Kid>,
    pub removed: Vec<Kid>,
    pub revoked: Vec<Kid>,
    /// Steps another instance applied first.
    pub lost_races: u32,
    /// Whether the in-memory signer was rebuilt.
    pub reloaded: bool,
}

impl KeyReport {
    /// Whether this instance changed the key set.
    pub fn changed(&self) -> bool {
        !(self.created.is_empty()
            && self.promoted.is_empty()
            && self.retired.is_empty()
            && self.removed.is_empty()
            && self.revoked.is_empty())
    }
}

/// Why an incoming JWT was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Claims(#[from] ClaimError),
    #[error("claims: {0}")]
    Shape(String),
}

/// Identity of a signer's inputs: a reload that reads the same published
/// keys in the same states keeps the signer it has.
fn fingerprint(records: &[SigningKeyRecord]) -> Vec<(Kid, KeyState, i64)> {
    let mut out: Vec<_> = records
        .iter()
        .filter(|r| r.state.is_published())
        .map(|r| (r.kid.clone(), r.state, r.activates_at))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

enum Step {
    Applied,
    /// Another instance got there first (or the key changed under us).
    Lost,
}

service! {
    /// The signing keys: rotation on schedule, the in-memory signer kept in step
    /// with the database, and the check of JWTs Latchkey signed itself.
    pub struct SigningKeys { store, clock, random, settings, keys, key_service, caches, audit }
}

impl SigningKeys<'_> {
    /// Every stored key, oldest first (for `latchkey keys list`).
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>, CoreError> {
        Ok(self.store.list_keys().await?)
    }

    /// One round of the lifecycle: applies the steps due now (creating the
    /// first key on a fresh database), then rebuilds the in-memory signer if
    /// the key set changed, including through other instances. The
    /// background task calls this every `check_interval`; tests call it
    /// after moving the mock clock.
    pub async fn tick(&self) -> Result<KeyReport, CoreError> {
        self.run_lifecycle(false).await
    }

    /// Picks up keys changed elsewhere without applying any step; true if
    /// the signer was rebuilt.
    pub async fn reload(&self) -> Result<bool, CoreError> {
        let mut loaded = self.key_service.loaded.lock().await;
        let records = self.store.list_keys().await?;
        let mut report = KeyReport::default();
        self.install(&mut loaded, &records, &mut report)?;
        Ok(report.reloaded)
    }

    /// `latchkey keys rotate`: advances the lifecycle now. Each enabled
    /// algorithm's published next key starts signing and a new next key is
    /// published; an algorithm without a next key gets one, which signs
    /// after the propagation interval.
    pub async fn rotate(&self) -> Result<KeyReport, CoreError> {
        let report = self.run_lifecycle(true).await?;
        if report.changed() {
            self.audit
                .record(Event {
                    kind: AuditEvent::KeysRotated,
                    user_id: None,
                    client_id: None,
                    ip: None,
                    detail: describe(&report),
                })
                .await;
        }
        Ok(report)
    }

    pub(crate) async fn run_lifecycle(&self, forced: bool) -> Result<KeyReport, CoreError> {
        let mut loaded = self.key_service.loaded.lock().await;
        let mut report = KeyReport::default();
        let policy = self.settings.key_policy();
        let mut records = self.store.list_keys().await?;
        // Open the stored keys before changing anything: with the wrong KEK
        // this fails here, before a new key is sealed under it.
        self.install(&mut loaded, &records, &mut report)?;
        if forced {
            let actions = rotation::plan_rotation(&records, self.clock.unix(), &policy);
            self.apply(&actions, &records, &mut report).await?;
            records = self.store.list_keys().await?;
        }
        let mut settled = false;
        for _ in 0..MAX_ROUNDS {
            let actions = rotation::plan(&records, self.clock.unix(), &policy);
            if actions.is_empty() {
                settled = true;
                break;
            }
            self.apply(&actions, &records, &mut report).await?;
            records = self.store.list_keys().await?;
        }
        if !settled {
            tracing::warn!(
                "the signing keys did not settle in {MAX_ROUNDS} rounds; will retry at the next check"
            );
        }
        self.install(&mut loaded, &records, &mut report)?;
        if report.changed() {
            tracing::info!(
                created = ?report.created,
                promoted = ?report.promoted,
                retired = ?report.retired,
                removed = ?report.removed,
                "signing keys changed"
            );
        }
        Ok(report)
    }

    /// Applies steps in order, stopping at the first one another instance
    /// applied first: the caller reads the keys again and plans anew.
    async fn apply(
        &self,
        actions: &[KeyAction],
        seen: &[SigningKeyRecord],
        report: &mut KeyReport,
    ) -> Result<(), CoreError> {
        for action in actions {
            match self.apply_one(action, seen, report).await? {
                Step::Applied => {}
                Step::Lost => {
                    report.lost_races += 1;
                    tracing::debug!(?action, "another instance applied this key step first");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn apply_one(
        &self,
        action: &KeyAction,
        seen: &[SigningKeyRecord],
        report: &mut KeyReport,
    ) -> Result<Step, CoreError> {
        let now = self.clock.unix();
        let step = |ok: bool| if ok { Step::Applied } else { Step::Lost };
        Ok(match action {
            KeyAction::CreateNext {
                alg,
                activates_at,
                after,
            } => {
                let (alg, activates_at) = (*alg, *activates_at);
                let kid = Kid::generate(self.random);
                let factory = self.key_service.factory.clone();
                let id = kid.clone();
                // Key generation is CPU-bound (RSA): off the executor.
                let record = tokio::task::spawn_blocking(move || {
                    factory.generate(alg, &id, now, activates_at)
                })
                .await
                .map_err(|e| CoreError::Internal(format!("key generation task: {e}")))??;
                // Conditional: another instance may have published this
                // algorithm's next key, or promoted one, since we read.
                if self.store.insert_next_key(&record, after.as_ref()).await? {
                    report.created.push((kid, alg, activates_at));
                    Step::Applied
                } else {
                    Step::Lost
                }
            }
            KeyAction::Promote { kid } => {
                if let Some(key) = seen.iter().find(|k| &k.kid == kid) {
                    // Only a real rotation has relying parties that cached the
                    // old key set; a first key (or one replacing a revoked
                    // key) has nothing to wait for.
                    let replaces_a_signer = seen
                        .iter()
                        .any(|k| k.alg == key.alg && k.state == KeyState::Current);
                    if replaces_a_signer && now - key.created_at < self.settings.keys.propagation()
                    {
                        tracing::warn!(
                            kid = kid.as_str(),
                            published_for = now - key.created_at,
                            "signing with a key published for less than the propagation interval"
                        );
                    }
                }
                let ok = self
                    .store
                    .transition_key(kid, KeyState::Next, KeyState::Current, now)
                    .await?;
                if ok {
                    report.promoted.push(kid.clone());
                }
                step(ok)
            }
            KeyAction::Retire { kid } => {
                let ok = self
                    .store
                    .transition_key(kid, KeyState::Current, KeyState::Retired, now)
                    .await?;
                if ok {
                    report.retired.push(kid.clone());
                }
                step(ok)
            }
            KeyAction::Remove { kid, from } => {
                let ok = self
                    .store
                    .transition_key(kid, *from, KeyState::Removed, now)
                    .await?;
                if ok {
                    report.removed.push(kid.clone());
                }
                step(ok)
            }
        })
    }

    /// Rebuilds the signer if the published keys differ from what it was
    /// built from, and swaps it in.
    fn install(
        &self,
        loaded: &mut Option<Vec<(Kid, KeyState, i64)>>,
        records: &[SigningKeyRecord],
        report: &mut KeyReport,
    ) -> Result<(), CoreError> {
        let print = fingerprint(records);
        if loaded.as_ref() == Some(&print) {
            return Ok(());
        }
        let signer = self
            .key_service
            .factory
            .signer(records, &self.settings.keys.algorithms)?;
        self.keys.replace(signer);
        self.caches.verified.invalidate_all();
        *loaded = Some(print);
        report.reloaded = true;
        Ok(())
    }

    /// Verifies an `id_token_hint` (RP-Initiated Logout): an ID token this
    /// server signed with a key still published, for this issuer, not
    /// issued in the future. An expired hint is accepted (relying parties
    /// send the ID token they have); a forged, tampered or foreign one, or
    /// an access token, is not. The caller compares `aud` with the client.
    pub fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenClaims, JwtError> {
        let claims = self.keys.current().verify(token, Some(ID_TOKEN_TYP))?;
        check_claims(
            &claims,
            &ClaimRules {
                issuer: &self.settings.issuer,
                audiences: None,
                now: self.clock.unix(),
                skew: self.settings.keys.clock_skew,
                allow_expired: true,
                require_iat: true,
            },
        )?;
        serde_json::from_value(Value::Object(claims)).map_err(|e| JwtError::Shape(e.to_string()))
    }
}

fn describe(report: &KeyReport) -> String {
    let created: Vec<String> = report
        .created
        .iter()
        .map(|(kid, alg, at)| format!("{kid} ({alg}, signs from {at})"))
        .collect();
    format!(
        "promoted [{}] retired [{}] created [{}]",
        join(&report.promoted),
        join(&report.retired),
        created.join(", ")
    )
}

fn join(kids: &[Kid]) -> String {
    kids.iter().map(Kid::as_str).collect::<Vec<_>>().join(", ")
}
