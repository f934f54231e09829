//! The key-rotation policy and its planner: given the stored keys, the time
//! and the policy, which lifecycle steps are due now. Pure and synchronous;
//! the key service in `latchkey-core` applies a plan through conditional
//! storage updates (so several instances applying the same plan at once
//! move each key once) and plans again.
//!
//! The lifecycle of each enabled algorithm:
//!
//! ```text
//!  CreateNext         Promote                 Retire            Remove
//! ───────────> next ───────────> current ───────────> retired ──────────> removed
//!              (published,       (signing)           (published,
//!               not signing)                          not signing)
//!          any published state ── revoke (emergency) ──> revoked
//! ```
//!
//! - A `next` key is always published ahead: it is created as soon as a key
//!   starts signing, and signs from `activates_at`, which is at least
//!   `propagation` after it was created. Relying parties that cache the JWKS
//!   for up to `propagation` have it before they see a token it signed.
//! - Promoting the next key retires the current one in the same plan, in
//!   that order, so some key is current at every instant.
//! - A retired key stays published for `retire_for` after it stopped
//!   signing: every token it signed has expired by then.
//! - When an algorithm has no current key (first start, or its current key
//!   was revoked) nothing waits: its next key is promoted, or one is created
//!   to sign at once. No relying party can hold a token of that algorithm
//!   that a pre-published key would have helped with.

use crate::keys::{KeyState, SigningAlg, SigningKeyRecord};
use crate::Kid;

/// When keys rotate. Every duration is in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The enabled algorithms, in preference order (the first signs access
    /// tokens). Keys of other algorithms are retired.
    pub algorithms: Vec<SigningAlg>,
    /// How long a key signs before its successor takes over (default 24 h).
    pub rotation_period: i64,
    /// The least time a key is published before it signs (default twice the
    /// JWKS `Cache-Control: max-age`).
    pub propagation: i64,
    /// How long a retired key stays published: the longest token lifetime,
    /// plus the clock skew verifiers allow, plus the interval at which other
    /// instances notice a rotation (they sign with the old key until then).
    pub retire_for: i64,
}

impl RotationPolicy {
    /// When a successor of a key that became current at `current_since`
    /// starts signing, if it is created at `now`.
    pub fn next_activation(&self, current_since: i64, now: i64) -> i64 {
        (current_since + self.rotation_period).max(now + self.propagation)
    }
}

/// One lifecycle step. Each is applied as a conditional update: it changes
/// nothing if the key is no longer in the state the plan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Generate and publish a key of `alg` that signs from `activates_at`,
    /// as the successor of `after`: the key of `alg` that signs once the
    /// plan's promotions are applied (`None` when none does). The insert is
    /// conditional on that still being so, and on `alg` having no next key,
    /// so an instance that planned from a stale read creates nothing.
    CreateNext {
        alg: SigningAlg,
        activates_at: i64,
        after: Option<Kid>,
    },
    /// `next` → `current`: the key starts signing now.
    Promote { kid: Kid },
    /// `current` → `retired`: the key stops signing and stays published.
    Retire { kid: Kid },
    /// `retired` (or a never-used `next` of a disabled algorithm) →
    /// `removed`: the key leaves the JWKS.
    Remove { kid: Kid, from: KeyState },
}

impl KeyAction {
    /// Promotions before retirements (a key is current at every instant),
    /// removals next, new keys last (they are slow to generate).
    fn order(&self) -> u8 {
        match self {
            KeyAction::Promote { .. } => 0,
            KeyAction::Retire { .. } => 1,
            KeyAction::Remove { .. } => 2,
            KeyAction::CreateNext { .. } => 3,
        }
    }
}

/// Oldest first; a record's `kid` breaks ties so every instance orders the
/// same keys the same way.
fn by_activation(
    keys: &[SigningKeyRecord],
    alg: SigningAlg,
    state: KeyState,
) -> Vec<&SigningKeyRecord> {
    let mut out: Vec<&SigningKeyRecord> = keys
        .iter()
        .filter(|k| k.alg == alg && k.state == state)
        .collect();
    out.sort_by(|a, b| (a.activates_at, &a.kid).cmp(&(b.activates_at, &b.kid)));
    out
}

/// The steps due at `now` for the scheduled lifecycle. An empty plan means
/// the key set is as it should be.
pub fn plan(keys: &[SigningKeyRecord], now: i64, policy: &RotationPolicy) -> Vec<KeyAction> {
    let mut actions = Vec::new();
    for &alg in &policy.algorithms {
        plan_alg(keys, alg, now, policy, false, &mut actions);
    }
    plan_cleanup(keys, now, policy, &mut actions);
    actions.sort_by_key(KeyAction::order);
    actions
}

/// The steps of a forced rotation (`latchkey keys rotate`): for every
/// enabled algorithm, the published next key starts signing now and a new
/// next key is published. An algorithm that has no next key yet gets one,
/// signing after the propagation interval, and its current key goes on
/// signing until then: a key nobody has had the chance to fetch never signs
/// because an operator asked for a rotation.
pub fn plan_rotation(
    keys: &[SigningKeyRecord],
    now: i64,
    policy: &RotationPolicy,
) -> Vec<KeyAction> {
    let mut actions = Vec::new();
    for &alg in &policy.algorithms {
        plan_alg(keys, alg, now, policy, true, &mut actions);
    }
    plan_cleanup(keys, now, policy, &mut actions);
    actions.sort_by_key(KeyAction::order);
    actions
}

fn plan_alg(
    keys: &[SigningKeyRecord],
    alg: SigningAlg,
    now: i64,
    policy: &RotationPolicy,
    forced: bool,
    actions: &mut Vec<KeyAction>,
) {
    let currents = by_activation(keys, alg, KeyState::Current);
    let nexts = by_activation(keys, alg, KeyState::Next);
    let latest_current = currents.last().copied();

    let due = nexts
        .first()
        .filter(|n| forced || latest_current.is_none() || n.activates_at <= now);
    // The key that signs after this plan, and since when.
    let signer = if let Some(next) = due {
        actions.push(KeyAction::Promote {
            kid: next.kid.clone(),
        });
        actions.extend(
            currents
                .iter()
                .map(|c| KeyAction::Retire { kid: c.kid.clone() }),
        );
        Some((next.kid.clone(), now))
    } else {
        // Two current keys of one algorithm: an instance stopped between a
        // promotion and the retirement that goes with it. The newest signs.
        actions.extend(
            currents
                .iter()
                .take(currents.len().saturating_sub(1))
                .map(|c| KeyAction::Retire { kid: c.kid.clone() }),
        );
        latest_current.map(|c| (c.kid.clone(), c.activates_at))
    };

    let next_remains = nexts.len() > usize::from(due.is_some());
    if !next_remains {
        let activates_at = match &signer {
            // Nothing signs with this algorithm: a key is needed now.
            None => now,
            Some(_) if forced && due.is_none() => now + policy.propagation.max(0),
            Some((_, since)) => policy.next_activation(*since, now),
        };
        actions.push(KeyAction::CreateNext {
            alg,
            activates_at,
            after: signer.map(|(kid, _)| kid),
        });
    }
}

/// Expired retired keys leave the JWKS; keys of algorithms no longer
/// enabled stop signing (and a next key that never signed goes at once).
fn plan_cleanup(
    keys: &[SigningKeyRecord],
    now: i64,
    policy: &RotationPolicy,
    actions: &mut Vec<KeyAction>,
) {
    for key in keys {
        let enabled = policy.algorithms.contains(&key.alg);
        match key.state {
            // A retired key without a retirement time is kept: published
            // too long is harmless, removed too early breaks tokens.
            KeyState::Retired
                if key
                    .retired_at
                    .is_some_and(|at| now >= at.saturating_add(policy.retire_for)) =>
            {
                actions.push(KeyAction::Remove {
                    kid: key.kid.clone(),
                    from: KeyState::Retired,
                });
            }
            KeyState::Current if !enabled => actions.push(KeyAction::Retire {
                kid: key.kid.clone(),
            }),
            KeyState::Next if !enabled => actions.push(KeyAction::Remove {
                kid: key.kid.clone(),
                from: KeyState::Next,
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    fn policy() -> RotationPolicy {
        RotationPolicy {
            algorithms: vec![SigningAlg::RS256],
            rotation_period: DAY,
            propagation: 600,
            retire_for: 700,
        }
    }

    fn key(kid: &str, alg: SigningAlg, state: KeyState, activates_at: i64) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: Kid::new(kid),
            alg,
            state,
            encrypted_private_key: Vec::new(),
            public_jwk: String::new(),
            created_at: activates_at - 600,
            activates_at,
            retired_at: None,
            removed_at: None,
        }
    }

    fn rs(kid: &str, state: KeyState, activates_at: i64) -> SigningKeyRecord {
        key(kid, SigningAlg::RS256, state, activates_at)
    }

    fn retired(kid: &str, retired_at: i64) -> SigningKeyRecord {
        SigningKeyRecord {
            retired_at: Some(retired_at),
            ..rs(kid, KeyState::Retired, retired_at - DAY)
        }
    }

    fn create(alg: SigningAlg, activates_at: i64, after: Option<&str>) -> KeyAction {
        KeyAction::CreateNext {
            alg,
            activates_at,
            after: after.map(Kid::new),
        }
    }

    fn promote(kid: &str) -> KeyAction {
        KeyAction::Promote { kid: Kid::new(kid) }
    }

    fn retire(kid: &str) -> KeyAction {
        KeyAction::Retire { kid: Kid::new(kid) }
    }

    /// Applies a plan the way the storage adapter does, so a test can walk
    /// the lifecycle through time.
    fn apply(keys: &mut Vec<SigningKeyRecord>, actions: &[KeyAction], now: i64, n: &mut u32) {
        for action in actions {
            match action {
                KeyAction::CreateNext {
                    alg, activates_at, ..
                } => {
                    *n += 1;
                    let mut k = key(&format!("k{n}"), *alg, KeyState::Next, *activates_at);
                    k.created_at = now;
                    keys.push(k);
                }
                KeyAction::Promote { kid } => {
                    let k = keys.iter_mut().find(|k| &k.kid == kid).unwrap();
                    assert_eq!(k.state, KeyState::Next);
                    k.state = KeyState::Current;
                    k.activates_at = now;
                }
                KeyAction::Retire { kid } => {
                    let k = keys.iter_mut().find(|k| &k.kid == kid).unwrap();
                    assert_eq!(k.state, KeyState::Current);
                    k.state = KeyState::Retired;
                    k.retired_at = Some(now);
                }
                KeyAction::Remove { kid, from } => {
                    let k = keys.iter_mut().find(|k| &k.kid == kid).unwrap();
                    assert_eq!(k.state, *from);
                    k.state = KeyState::Removed;
                    k.removed_at = Some(now);
                }
            }
        }
    }

    fn states(keys: &[SigningKeyRecord]) -> Vec<(Kid, KeyState)> {
        keys.iter().map(|k| (k.kid.clone(), k.state)).collect()
    }

    #[test]
    fn first_start_creates_a_key_that_signs_at_once() {
        let p = policy();
        assert_eq!(plan(&[], 1000, &p), [create(SigningAlg::RS256, 1000, None)]);
        // Created and due: promoted, and its successor published a full
        // period ahead.
        let keys = [rs("k1", KeyState::Next, 1000)];
        assert_eq!(
            plan(&keys, 1000, &p),
            [
                promote("k1"),
                create(SigningAlg::RS256, 1000 + DAY, Some("k1"))
            ]
        );
        let keys = [rs("k1", KeyState::Current, 1000)];
        assert_eq!(
            plan(&keys, 1000, &p),
            [create(SigningAlg::RS256, 1000 + DAY, Some("k1"))]
        );
        let keys = [
            rs("k1", KeyState::Current, 1000),
            rs("k2", KeyState::Next, 1000 + DAY),
        ];
        assert!(plan(&keys, 1000, &p).is_empty());
    }

    #[test]
    fn every_enabled_algorithm_gets_its_own_keys() {
        let p = RotationPolicy {
            algorithms: vec![SigningAlg::ES256, SigningAlg::RS256, SigningAlg::EdDSA],
            ..policy()
        };
        let keys = [
            rs("k1", KeyState::Current, 0),
            rs("k2", KeyState::Next, DAY),
        ];
        assert_eq!(
            plan(&keys, 10, &p),
            [
                create(SigningAlg::ES256, 10, None),
                create(SigningAlg::EdDSA, 10, None)
            ]
        );
    }

    #[test]
    fn the_next_key_is_created_with_a_propagation_interval_at_least() {
        let p = policy();
        // A current key whose period is nearly over (e.g. the next key was
        // revoked): its successor still waits the propagation interval.
        let keys = [rs("k1", KeyState::Current, 0)];
        let now = DAY - 10;
        assert_eq!(
            plan(&keys, now, &p),
            [create(SigningAlg::RS256, now + 600, Some("k1"))]
        );
        // Long overdue: the same.
        assert_eq!(
            plan(&keys, 5 * DAY, &p),
            [create(SigningAlg::RS256, 5 * DAY + 600, Some("k1"))]
        );
        // Early in the period: the period decides.
        assert_eq!(
            plan(&keys, 60, &p),
            [create(SigningAlg::RS256, DAY, Some("k1"))]
        );
        assert_eq!(p.next_activation(0, DAY - 599), DAY + 1);
    }

    #[test]
    fn a_next_key_is_promoted_exactly_when_due_and_the_current_one_retired() {
        let p = policy();
        let keys = [
            rs("k1", KeyState::Current, 0),
            rs("k2", KeyState::Next, DAY),
        ];
        assert!(plan(&keys, DAY - 1, &p).is_empty(), "not due yet");
        assert_eq!(
            plan(&keys, DAY, &p),
            [
                promote("k2"),
                retire("k1"),
                create(SigningAlg::RS256, 2 * DAY, Some("k2"))
            ]
        );
        // Promoted late (the server was down): the successor is scheduled
        // from the real promotion time.
        assert_eq!(
            plan(&keys, DAY + 500, &p),
            [
                promote("k2"),
                retire("k1"),
                create(SigningAlg::RS256, 2 * DAY + 500, Some("k2"))
            ]
        );
    }

    #[test]
    fn a_retired_key_is_removed_only_after_its_tokens_expired() {
        let p = policy();
        let keys = [
            retired("k1", 5000),
            rs("k2", KeyState::Current, 5000),
            rs("k3", KeyState::Next, 5000 + DAY),
        ];
        assert!(plan(&keys, 5000 + 699, &p).is_empty());
        assert_eq!(
            plan(&keys, 5000 + 700, &p),
            [KeyAction::Remove {
                kid: Kid::new("k1"),
                from: KeyState::Retired
            }]
        );
        // No retirement time recorded: kept rather than guessed.
        let mut unknown = retired("k1", 5000);
        unknown.retired_at = None;
        assert!(plan(
            &[unknown, keys[1].clone(), keys[2].clone()],
            5000 + 20 * HOUR,
            &p
        )
        .is_empty());
    }

    #[test]
    fn removed_and_revoked_keys_are_left_alone() {
        let p = policy();
        let keys = [
            rs("k0", KeyState::Removed, 0),
            rs("k1", KeyState::Revoked, 10),
            rs("k2", KeyState::Current, 20),
            rs("k3", KeyState::Next, 20 + DAY),
        ];
        assert!(plan(&keys, 100, &p).is_empty());
    }

    #[test]
    fn a_revoked_current_key_is_replaced_at_once() {
        let p = policy();
        // The published next key takes over now, and a new one is published.
        let keys = [
            rs("k1", KeyState::Revoked, 0),
            rs("k2", KeyState::Next, DAY),
        ];
        assert_eq!(
            plan(&keys, 3000, &p),
            [
                promote("k2"),
                create(SigningAlg::RS256, 3000 + DAY, Some("k2"))
            ]
        );
        // No next key either: one is created to sign now.
        let keys = [rs("k1", KeyState::Revoked, 0)];
        assert_eq!(
            plan(&keys, 3000, &p),
            [create(SigningAlg::RS256, 3000, None)]
        );
        // A revoked next key is replaced on the normal schedule.
        let keys = [
            rs("k1", KeyState::Current, 0),
            rs("k2", KeyState::Revoked, DAY),
        ];
        assert_eq!(
            plan(&keys, 3000, &p),
            [create(SigningAlg::RS256, DAY, Some("k1"))]
        );
    }

    #[test]
    fn two_current_keys_keep_the_newest() {
        let p = policy();
        let keys = [
            rs("b", KeyState::Current, 100),
            rs("a", KeyState::Current, 100),
            rs("c", KeyState::Current, 50),
            rs("n", KeyState::Next, 100 + DAY),
        ];
        // Same activation time: the kid decides, the same on every instance.
        assert_eq!(plan(&keys, 200, &p), [retire("c"), retire("a")]);
    }

    #[test]
    fn a_disabled_algorithm_stops_signing_and_its_unused_key_goes() {
        let p = policy();
        let keys = [
            rs("r1", KeyState::Current, 0),
            rs("r2", KeyState::Next, DAY),
            key("e1", SigningAlg::ES256, KeyState::Current, 0),
            key("e2", SigningAlg::ES256, KeyState::Next, DAY),
            SigningKeyRecord {
                alg: SigningAlg::EdDSA,
                ..rs("x", KeyState::Next, 0)
            },
        ];
        assert_eq!(
            plan(&keys, 10, &p),
            [
                retire("e1"),
                KeyAction::Remove {
                    kid: Kid::new("e2"),
                    from: KeyState::Next
                },
                KeyAction::Remove {
                    kid: Kid::new("x"),
                    from: KeyState::Next
                },
            ]
        );
    }

    #[test]
    fn a_forced_rotation_promotes_the_published_key_now() {
        let p = policy();
        let keys = [
            rs("k1", KeyState::Current, 0),
            rs("k2", KeyState::Next, DAY),
        ];
        assert_eq!(
            plan_rotation(&keys, 100, &p),
            [
                promote("k2"),
                retire("k1"),
                create(SigningAlg::RS256, 100 + DAY, Some("k2"))
            ]
        );
        // Nothing published ahead: publish now, sign after propagation; the
        // current key keeps signing meanwhile.
        let keys = [rs("k1", KeyState::Current, 0)];
        assert_eq!(
            plan_rotation(&keys, 100, &p),
            [create(SigningAlg::RS256, 700, Some("k1"))]
        );
        // Nothing at all: a key that signs now.
        assert_eq!(
            plan_rotation(&[], 100, &p),
            [create(SigningAlg::RS256, 100, None)]
        );
    }

    #[test]
    fn a_year_of_scheduled_rotation_keeps_one_signer_and_publishes_ahead() {
        // Walk the lifecycle hour by hour and check the invariants at every
        // step: one current key, one next key, the next key published at
        // least `propagation` before it signs, retired keys published for
        // `retire_for`, and at most three keys in the JWKS.
        let p = policy();
        let mut keys = Vec::new();
        let mut n = 0;
        let start = 1_700_000_000;
        let mut signers: Vec<(Kid, i64)> = Vec::new();
        for hour in 0..(365 * 24) {
            let now = start + hour * HOUR;
            for _ in 0..4 {
                let actions = plan(&keys, now, &p);
                if actions.is_empty() {
                    break;
                }
                apply(&mut keys, &actions, now, &mut n);
            }
            assert!(plan(&keys, now, &p).is_empty(), "settled at {now}");
            let current: Vec<_> = keys
                .iter()
                .filter(|k| k.state == KeyState::Current)
                .collect();
            assert_eq!(current.len(), 1, "{:?}", states(&keys));
            let next: Vec<_> = keys.iter().filter(|k| k.state == KeyState::Next).collect();
            assert_eq!(next.len(), 1);
            assert!(next[0].activates_at >= next[0].created_at + p.propagation);
            if signers.last().map(|s| &s.0) != Some(&current[0].kid) {
                signers.push((current[0].kid.clone(), now));
            }
            for k in &keys {
                if k.state == KeyState::Retired {
                    assert!(now < k.retired_at.unwrap() + p.retire_for);
                }
                if k.state == KeyState::Removed {
                    assert!(k.removed_at.unwrap() >= k.retired_at.unwrap() + p.retire_for);
                }
            }
            assert!(keys.iter().filter(|k| k.state.is_published()).count() <= 3);
        }
        // One signer a day, each for a full day.
        assert_eq!(signers.len(), 365);
        for pair in signers.windows(2) {
            assert_eq!(pair[1].1 - pair[0].1, DAY);
        }
    }

    #[test]
    fn instances_that_plan_from_the_same_state_plan_the_same_steps() {
        // The conditional updates make the second application a no-op; that
        // only works if every instance picks the same keys.
        let p = policy();
        let mut keys = vec![
            rs("k1", KeyState::Current, 0),
            rs("k3", KeyState::Next, DAY),
            rs("k2", KeyState::Next, DAY),
        ];
        let a = plan(&keys, DAY, &p);
        keys.reverse();
        assert_eq!(plan(&keys, DAY, &p), a);
        assert_eq!(a, [promote("k2"), retire("k1")], "k3 stays next");
    }
}
