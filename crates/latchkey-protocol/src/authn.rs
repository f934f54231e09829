//! How a user proved who they are: the methods of one sign-in (stored with
//! the session, published as `amr`, RFC 8176), the level they reach
//! (`acr`, OIDC Core §2), and what an authorization request demands of
//! them, which decides whether the user must prove more (step-up).

use std::fmt;

use crate::claims_request::ClaimsRequest;

/// One way of proving who one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    /// A code from an authenticator app (RFC 6238).
    Totp,
    /// One of the user's single-use recovery codes.
    RecoveryCode,
    /// A passkey whose private key cannot leave its device.
    DeviceBoundPasskey,
    /// A passkey that a platform syncs between devices (backup eligible).
    SyncedPasskey,
}

impl Method {
    const ALL: [Method; 5] = [
        Method::Password,
        Method::Totp,
        Method::RecoveryCode,
        Method::DeviceBoundPasskey,
        Method::SyncedPasskey,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The name in Latchkey's stored form.
    fn stored(self) -> &'static str {
        match self {
            Method::Password => "pwd",
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery",
            Method::DeviceBoundPasskey => "passkey-device",
            Method::SyncedPasskey => "passkey-synced",
        }
    }

    fn is_passkey(self) -> bool {
        matches!(self, Method::DeviceBoundPasskey | Method::SyncedPasskey)
    }
}

/// The methods of one sign-in: what the session's user proved. Passkeys
/// are always used with user verification, which makes one a factor of
/// possession and one of knowledge or inherence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Methods(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown authentication method {0:?}")]
pub struct UnknownMethod(pub String);

impl Methods {
    pub const PASSWORD: Methods = Methods(1);

    pub fn of(method: Method) -> Methods {
        Methods(method.bit())
    }

    pub fn with(self, method: Method) -> Methods {
        Methods(self.0 | method.bit())
    }

    pub fn union(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    fn has_passkey(self) -> bool {
        self.iter().any(Method::is_passkey)
    }

    /// The stored form: space-separated names.
    pub fn parse(s: &str) -> Result<Methods, UnknownMethod> {
        s.split_ascii_whitespace()
            .try_fold(Methods::default(), |acc, name| {
                Method::ALL
                    .into_iter()
                    .find(|m| m.stored() == name)
                    .map(|m| acc.with(m))
                    .ok_or_else(|| UnknownMethod(name.to_owned()))
            })
    }

    /// The level these methods reach together.
    pub fn level(self) -> Level {
        if self.has_passkey() {
            Level::PhishingResistant
        } else if self.contains(Method::Password)
            && (self.contains(Method::Totp) || self.contains(Method::RecoveryCode))
        {
            Level::MultiFactor
        } else {
            Level::Password
        }
    }

    /// RFC 8176 `amr` values: `pwd`, `otp` (authenticator app or recovery
    /// code), `hwk` / `swk` with `user` for a passkey (the user was
    /// verified), and `mfa` when more than one factor was proved.
    pub fn amr(self) -> Vec<&'static str> {
        let mut amr = Vec::new();
        if self.contains(Method::Password) {
            amr.push("pwd");
        }
        if self.contains(Method::Totp) || self.contains(Method::RecoveryCode) {
            amr.push("otp");
        }
        if self.contains(Method::DeviceBoundPasskey) {
            amr.push("hwk");
        }
        if self.contains(Method::SyncedPasskey) {
            amr.push("swk");
        }
        if self.has_passkey() {
            amr.push("user");
        }
        if self.level() >= Level::MultiFactor {
            amr.push("mfa");
        }
        amr
    }
}

impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Method::stored).collect();
        f.write_str(&names.join(" "))
    }
}

/// Authentication levels, weakest first; each satisfies those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A password alone.
    Password,
    /// A password and a one-time code (authenticator app, recovery code).
    MultiFactor,
    /// A passkey: bound to Latchkey's origin, so no look-alike site can
    /// relay it.
    PhishingResistant,
}

impl Level {
    pub const ALL: [Level; 3] = [
        Level::Password,
        Level::MultiFactor,
        Level::PhishingResistant,
    ];

    /// The `acr` value (OIDC Core §2).
    pub fn acr(self) -> &'static str {
        match self {
            Level::Password => "urn:latchkey:acr:pwd",
            Level::MultiFactor => "urn:latchkey:acr:mfa",
            Level::PhishingResistant => "urn:latchkey:acr:phr",
        }
    }

    pub fn from_acr(acr: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.acr() == acr)
    }
}

/// What an authorization request demands of the sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// The lowest level an essential `acr` claim request accepts (OIDC Core
    /// §5.5.1.1): below it, no code is issued.
    pub required: Option<Level>,
    /// Set when the essential `acr` names only values Latchkey does not
    /// know: nothing can satisfy it.
    pub unknown_essential: bool,
    /// The level `acr_values` or a voluntary `acr` claim request prefers
    /// (the lowest known one it names): reached when the user can.
    pub preferred: Option<Level>,
    /// The `acr` values the request named, in its order: the ID token's
    /// `acr` is the first of them the sign-in satisfies.
    pub named: Vec<Level>,
}

impl Demand {
    /// Reads `acr_values` (space separated, in order of preference) and the
    /// `acr` of a `claims` request.
    pub fn of(acr_values: Option<&str>, claims: &ClaimsRequest) -> Demand {
        let known = |values: &mut dyn Iterator<Item = &str>| -> Vec<Level> {
            values.filter_map(Level::from_acr).collect()
        };
        let mut named = known(&mut acr_values.unwrap_or("").split_ascii_whitespace());
        let mut demand = Demand::default();
        for c in claims.acr_requests() {
            let levels = known(&mut c.named_values());
            named.extend(levels.iter().copied());
            let lowest = levels.iter().copied().min();
            if c.essential {
                match lowest {
                    Some(l) => demand.required = demand.required.max(Some(l)),
                    None => demand.unknown_essential = true,
                }
            } else {
                demand.preferred = demand.preferred.max(lowest);
            }
        }
        let from_values = named.iter().copied().min();
        demand.preferred = demand.preferred.max(from_values);
        demand.named = named;
        demand
    }

    /// The `acr` an ID token of a sign-in with `methods` carries: the first
    /// value the request named that the sign-in satisfies, else the level
    /// it reached.
    pub fn acr(&self, methods: Methods) -> &'static str {
        let reached = methods.level();
        self.named
            .iter()
            .find(|l| **l <= reached)
            .copied()
            .unwrap_or(reached)
            .acr()
    }
}

/// The user's side of a decision: what they have enrolled, and whether
/// policy (global, the client's, or having a second factor at all) wants
/// more than a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The highest level the user's enrolled factors can reach.
    pub reachable: Level,
    /// Whether a password alone is not enough for this sign-in: Latchkey's
    /// or the client's `require_mfa`, or a user who has a second factor.
    pub mfa_required: bool,
}

/// What must happen before a code is issued for a sign-in with `methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The sign-in is enough.
    Proceed,
    /// The user must prove a factor that brings the sign-in to this level.
    Prove(Level),
    /// The user has no factor that reaches the level needed: enrol an
    /// authenticator app first.
    Enrol,
    /// Nothing the user could do satisfies the request.
    Refuse,
}

/// Decides, for a sign-in with `methods`, what the request and the user's
/// standing still demand. A preference (`acr_values`) is met when the
/// user can; a requirement (essential `acr`, `require_mfa`) always is, by
/// a second factor the user has, by enrolling one (multi-factor), or not
/// at all (a refusal).
pub fn next_step(methods: Methods, demand: &Demand, standing: Standing) -> Next {
    if demand.unknown_essential {
        return Next::Refuse;
    }
    let reached = methods.level();
    let policy = if standing.mfa_required {
        Level::MultiFactor
    } else {
        Level::Password
    };
    let required = demand.required.unwrap_or(Level::Password).max(policy);
    let goal = demand.preferred.unwrap_or(Level::Password).max(required);
    if reached >= goal {
        Next::Proceed
    } else if standing.reachable >= goal {
        Next::Prove(goal)
    } else if reached >= required {
        Next::Proceed
    } else if standing.reachable >= required {
        Next::Prove(required)
    } else if required <= Level::MultiFactor {
        Next::Enrol
    } else {
        Next::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> ClaimsRequest {
        ClaimsRequest::parse(json).unwrap()
    }

    #[test]
    fn stored_form_round_trips_and_refuses_unknown_names() {
        let m = Methods::PASSWORD
            .with(Method::Totp)
            .with(Method::SyncedPasskey);
        assert_eq!(m.to_string(), "pwd totp passkey-synced");
        assert_eq!(Methods::parse(&m.to_string()).unwrap(), m);
        assert_eq!(Methods::parse("").unwrap(), Methods::default());
        assert!(Methods::parse("pwd sms").is_err());
    }

    #[test]
    fn levels_and_amr() {
        assert_eq!(Methods::PASSWORD.level(), Level::Password);
        assert_eq!(Methods::PASSWORD.amr(), ["pwd"]);
        let otp = Methods::PASSWORD.with(Method::Totp);
        assert_eq!(otp.level(), Level::MultiFactor);
        assert_eq!(otp.amr(), ["pwd", "otp", "mfa"]);
        let rc = Methods::PASSWORD.with(Method::RecoveryCode);
        assert_eq!(rc.amr(), ["pwd", "otp", "mfa"]);
        // A one-time code alone is not a sign-in of two factors.
        assert_eq!(Methods::of(Method::Totp).level(), Level::Password);
        let hwk = Methods::of(Method::DeviceBoundPasskey);
        assert_eq!(hwk.level(), Level::PhishingResistant);
        assert_eq!(hwk.amr(), ["hwk", "user", "mfa"]);
        let swk = Methods::PASSWORD.with(Method::SyncedPasskey);
        assert_eq!(swk.amr(), ["pwd", "swk", "user", "mfa"]);
        assert!(Level::Password < Level::MultiFactor);
        assert!(Level::MultiFactor < Level::PhishingResistant);
        for l in Level::ALL {
            assert_eq!(Level::from_acr(l.acr()), Some(l));
        }
    }

    #[test]
    fn demand_reads_acr_values_and_the_claims_request() {
        let d = Demand::of(
            Some("urn:x urn:latchkey:acr:phr urn:latchkey:acr:mfa"),
            &ClaimsRequest::default(),
        );
        assert_eq!(d.preferred, Some(Level::MultiFactor), "the lowest named");
        assert_eq!(d.required, None, "acr_values is voluntary");
        let d = Demand::of(
            None,
            &claims(
                r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:mfa","urn:latchkey:acr:phr"]}}}"#,
            ),
        );
        assert_eq!(d.required, Some(Level::MultiFactor));
        let d = Demand::of(
            None,
            &claims(r#"{"id_token":{"acr":{"essential":true,"values":["urn:mace:silver"]}}}"#),
        );
        assert!(d.unknown_essential);
        let d = Demand::of(
            None,
            &claims(r#"{"id_token":{"acr":{"values":["urn:latchkey:acr:phr"]}}}"#),
        );
        assert_eq!(d.preferred, Some(Level::PhishingResistant));
        assert_eq!(d.required, None);
    }

    #[test]
    fn the_id_token_acr_is_the_first_named_value_satisfied() {
        let otp = Methods::PASSWORD.with(Method::Totp);
        let d = Demand::of(
            Some("urn:latchkey:acr:phr urn:latchkey:acr:pwd"),
            &ClaimsRequest::default(),
        );
        assert_eq!(d.acr(otp), "urn:latchkey:acr:pwd");
        let d = Demand::of(Some("urn:latchkey:acr:mfa"), &ClaimsRequest::default());
        let passkey = Methods::of(Method::DeviceBoundPasskey);
        assert_eq!(d.acr(passkey), "urn:latchkey:acr:mfa");
        assert_eq!(d.acr(Methods::PASSWORD), "urn:latchkey:acr:pwd");
        assert_eq!(Demand::default().acr(passkey), "urn:latchkey:acr:phr");
    }

    #[test]
    fn next_step_meets_requirements_and_preferences_where_it_can() {
        let none = Standing {
            reachable: Level::Password,
            mfa_required: false,
        };
        let has_otp = Standing {
            reachable: Level::MultiFactor,
            mfa_required: true,
        };
        let has_passkey = Standing {
            reachable: Level::PhishingResistant,
            mfa_required: true,
        };
        let pwd = Methods::PASSWORD;
        let otp = pwd.with(Method::Totp);
        let nothing = Demand::default();
        assert_eq!(next_step(pwd, &nothing, none), Next::Proceed);
        // A user with a second factor always proves it.
        assert_eq!(
            next_step(pwd, &nothing, has_otp),
            Next::Prove(Level::MultiFactor)
        );
        assert_eq!(next_step(otp, &nothing, has_otp), Next::Proceed);
        // require_mfa for a user without a factor: enrol.
        let policy = Standing {
            reachable: Level::Password,
            mfa_required: true,
        };
        assert_eq!(next_step(pwd, &nothing, policy), Next::Enrol);

        let prefer_phr = Demand::of(Some("urn:latchkey:acr:phr"), &ClaimsRequest::default());
        assert_eq!(
            next_step(otp, &prefer_phr, has_passkey),
            Next::Prove(Level::PhishingResistant)
        );
        assert_eq!(
            next_step(otp, &prefer_phr, has_otp),
            Next::Proceed,
            "voluntary, out of reach"
        );
        assert_eq!(next_step(pwd, &prefer_phr, none), Next::Proceed);

        let need_mfa = Demand::of(
            None,
            &claims(r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:mfa"]}}}"#),
        );
        assert_eq!(
            next_step(pwd, &need_mfa, has_otp),
            Next::Prove(Level::MultiFactor)
        );
        assert_eq!(next_step(pwd, &need_mfa, none), Next::Enrol);
        let need_phr = Demand::of(
            None,
            &claims(r#"{"id_token":{"acr":{"essential":true,"values":["urn:latchkey:acr:phr"]}}}"#),
        );
        assert_eq!(next_step(otp, &need_phr, has_otp), Next::Refuse);
        assert_eq!(
            next_step(otp, &need_phr, has_passkey),
            Next::Prove(Level::PhishingResistant)
        );
        let unknown = Demand::of(
            None,
            &claims(r#"{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}"#),
        );
        assert_eq!(next_step(otp, &unknown, has_otp), Next::Refuse);
    }
}
