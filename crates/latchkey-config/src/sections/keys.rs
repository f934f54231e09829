//! `[keys]`: signing keys, their rotation, and the checks of JWTs that come
//! in. Seconds throughout.

use latchkey_domain::keys::SigningAlg;
use serde::{Deserialize, Deserializer};

use super::{within, DAY};
use crate::error::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Keys {
    /// Enabled JWS algorithms, in preference order: the first signs access
    /// tokens; clients choose their ID-token algorithm among them.
    /// `LATCHKEY_KEYS__ALGORITHMS=RS256,ES256` or `[RS256, ES256]`.
    #[serde(deserialize_with = "signing_algs")]
    pub algorithms: Vec<SigningAlg>,
    /// How long a key signs before its successor takes over.
    pub rotation_period: i64,
    /// The least time a new key is published before it signs; defaults to
    /// twice `jwks_max_age` (read it with [`Keys::propagation`]).
    pub propagation: Option<i64>,
    /// `Cache-Control: max-age` of `/jwks`.
    pub jwks_max_age: i64,
    /// How often each instance applies due rotations and picks up keys
    /// changed by other instances or the command line.
    pub check_interval: i64,
    /// Allowance for clocks that disagree when checking `exp`, `nbf` and
    /// `iat` of JWTs that come in.
    pub clock_skew: i64,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            algorithms: vec![SigningAlg::RS256],
            rotation_period: DAY,
            propagation: None,
            jwks_max_age: 300,
            check_interval: 10,
            clock_skew: 5,
        }
    }
}

/// Exact, case-sensitive JWS names: `HS256`, `none` and `rs256` are
/// refused, never skipped.
fn signing_algs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SigningAlg>, D::Error> {
    let named = |name: &str| SigningAlg::ALL.into_iter().find(|alg| alg.as_str() == name);
    super::parsed_list(d, named, |bad| {
        format!(
            "unknown algorithm {bad:?}: choose among {}",
            all_algorithms()
        )
    })
}

fn all_algorithms() -> String {
    SigningAlg::ALL.map(SigningAlg::as_str).join(", ")
}

impl Keys {
    /// The propagation interval in effect.
    pub fn propagation(&self) -> i64 {
        self.propagation
            .unwrap_or_else(|| self.jwks_max_age.saturating_mul(2))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.algorithms.is_empty() {
            return Err(invalid(
                "keys.algorithms",
                format!("enable at least one algorithm ({})", all_algorithms()),
            ));
        }
        for (i, alg) in self.algorithms.iter().enumerate() {
            if self.algorithms[..i].contains(alg) {
                return Err(invalid("keys.algorithms", format!("{alg} is listed twice")));
            }
        }
        within(
            "keys.check_interval",
            self.check_interval,
            1..=3600,
            "must be between 1 and 3600 seconds",
        )?;
        within(
            "keys.jwks_max_age",
            self.jwks_max_age,
            0..=DAY,
            "must be between 0 and 86400 seconds",
        )?;
        let propagation = self.propagation();
        // Relying parties may hold the JWKS for max-age, other instances
        // see a new key only at their next check: a key must be published
        // for longer than both before it signs.
        if propagation < self.jwks_max_age || propagation < self.check_interval {
            return Err(invalid(
                "keys.propagation",
                format!(
                    "must be at least keys.jwks_max_age ({}) and keys.check_interval ({})",
                    self.jwks_max_age, self.check_interval
                ),
            ));
        }
        within(
            "keys.rotation_period",
            self.rotation_period,
            propagation..=365 * DAY,
            &format!("must be between keys.propagation ({propagation}) and 365 days"),
        )?;
        within(
            "keys.clock_skew",
            self.clock_skew,
            0..=300,
            "must be between 0 and 300 seconds",
        )
    }
}
