//! The account profile form: the fields a signed-in user posts about
//! themselves, turned into their new claims under the operator's rule of
//! which claims users may edit ([`EditableClaims`]). Every value goes
//! through the same checks as the command line and the admin API
//! ([`StandardClaims::set`]); the caller stores the result.

use serde_json::{Map, Value};

use crate::user_claims::{ClaimError, StandardClaims, UserClaim};

/// The members of `address` (OIDC Core §5.1.1); each is its own form
/// field, `address.<member>`.
pub const ADDRESS_MEMBERS: [&str; 6] = [
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

/// The claims users may edit about themselves: settable claims, never a
/// `*_verified` flag (whether an address or number belongs to the user is
/// for an operator to vouch for, not the user). Empty: nobody edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditableClaims(Vec<UserClaim>);

impl EditableClaims {
    /// The list, or why it cannot be one.
    pub fn new(claims: impl IntoIterator<Item = UserClaim>) -> Result<EditableClaims, String> {
        let mut out = Vec::new();
        for c in claims {
            if matches!(c, UserClaim::EmailVerified | UserClaim::PhoneNumberVerified) {
                return Err(format!(
                    "{c} cannot be editable: only an operator vouches that an address or number belongs to a user"
                ));
            }
            if out.contains(&c) {
                return Err(format!("{c} is listed twice"));
            }
            out.push(c);
        }
        Ok(EditableClaims(out))
    }

    /// Every claim an operator may let users edit.
    pub fn candidates() -> impl Iterator<Item = UserClaim> {
        UserClaim::ALL
            .into_iter()
            .filter(|c| !matches!(c, UserClaim::EmailVerified | UserClaim::PhoneNumberVerified))
    }

    /// No claim is editable.
    pub fn none() -> EditableClaims {
        EditableClaims(Vec::new())
    }

    pub fn contains(&self, claim: UserClaim) -> bool {
        self.0.contains(&claim)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = UserClaim> + '_ {
        self.0.iter().copied()
    }
}

impl Default for EditableClaims {
    /// The name claims, profile page, picture, website, gender, birthdate, time zone
    /// and locale: what a user says about themselves. `email`,
    /// `phone_number` and `address` are the operator's to allow.
    fn default() -> EditableClaims {
        use UserClaim::*;
        EditableClaims(vec![
            Name, GivenName, FamilyName, MiddleName, Nickname, Profile, Picture, Website, Gender,
            Birthdate, Zoneinfo, Locale,
        ])
    }
}

/// Why a posted profile was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// A field that names no claim the user may edit (a `*_verified` flag,
    /// `groups`, a claim the operator did not allow, anything else): the
    /// form never has it, so nothing is stored.
    #[error("{0} cannot be changed here")]
    NotEditable(String),
    /// Values that break their claim's rule, each with its claim.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ClaimError>),
}

/// A user's claims after a profile edit, and which claims changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEdit {
    pub claims: StandardClaims,
    pub changed: Vec<UserClaim>,
}

/// Applies a posted profile form to `current`. Each field is a claim name
/// (or `address.<member>`) with its new value, trimmed; an empty field
/// clears the claim, a claim not posted stays as it is, and the address
/// is replaced by its posted members. A value equal to the current one is
/// left alone, so a value stored before a rule existed does not stand in
/// the way of changing another claim. Changing `email` or `phone_number`
/// sets its `*_verified` flag back to false.
pub fn edit_profile<'a>(
    current: &StandardClaims,
    editable: &EditableClaims,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ProfileEdit, ProfileError> {
    let text = |v: &str| {
        let v = v.trim().replace("\r\n", "\n");
        if v.is_empty() {
            Value::Null
        } else {
            Value::String(v)
        }
    };
    let mut posted: Vec<(UserClaim, Value)> = Vec::new();
    let mut address: Option<Map<String, Value>> = None;
    for (name, value) in fields {
        if let Some(member) = name.strip_prefix("address.") {
            if !editable.contains(UserClaim::Address) || !ADDRESS_MEMBERS.contains(&member) {
                return Err(ProfileError::NotEditable(shown(name)));
            }
            if let v @ Value::String(_) = text(value) {
                address
                    .get_or_insert_with(Map::new)
                    .insert(member.to_owned(), v);
            } else {
                address.get_or_insert_with(Map::new);
            }
            continue;
        }
        match UserClaim::parse(name) {
            Ok(c) if c != UserClaim::Address && editable.contains(c) => {
                posted.push((c, text(value)))
            }
            _ => return Err(ProfileError::NotEditable(shown(name))),
        }
    }
    if let Some(a) = address {
        let v = if a.is_empty() {
            Value::Null
        } else {
            Value::Object(a)
        };
        posted.push((UserClaim::Address, v));
    }
    let before = current.to_json();
    let mut claims = current.clone();
    let mut errors = Vec::new();
    for (claim, value) in posted {
        if before.get(claim.as_str()).unwrap_or(&Value::Null) == &value {
            continue;
        }
        if let Err(e) = claims.set(claim, value) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(ProfileError::Invalid(errors));
    }
    if claims.email != current.email {
        claims.email_verified = false;
    }
    if claims.phone_number != current.phone_number {
        claims.phone_number_verified = false;
    }
    let changed = changed_claims(current, &claims);
    Ok(ProfileEdit { claims, changed })
}

/// The claims whose value differs between `a` and `b`, verified flags
/// included.
fn changed_claims(a: &StandardClaims, b: &StandardClaims) -> Vec<UserClaim> {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    UserClaim::ALL
        .into_iter()
        .filter(|c| a.get(c.as_str()) != b.get(c.as_str()))
        .collect()
}

/// A posted field name as an error may repeat it.
fn shown(name: &str) -> String {
    name.chars().take(40).filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice() -> StandardClaims {
        let mut c = StandardClaims::default();
        c.apply(
            json!({
                "name": "Alice",
                "email": "alice@example.com",
                "email_verified": true,
                "phone_number": "+441865270000",
                "phone_number_verified": true,
                "address": {"locality": "Oxford"},
            })
            .as_object()
            .cloned()
            .unwrap(),
        )
        .unwrap();
        c
    }

    fn all_but_flags() -> EditableClaims {
        EditableClaims::new(EditableClaims::candidates()).unwrap()
    }

    #[test]
    fn verified_flags_and_repeats_are_never_editable() {
        assert!(EditableClaims::new([UserClaim::Name, UserClaim::EmailVerified]).is_err());
        assert!(EditableClaims::new([UserClaim::PhoneNumberVerified]).is_err());
        assert!(EditableClaims::new([UserClaim::Name, UserClaim::Name]).is_err());
        assert!(EditableClaims::new([]).unwrap().is_empty());
        let d = EditableClaims::default();
        assert!(d.contains(UserClaim::Name) && d.contains(UserClaim::Locale));
        assert!(!d.contains(UserClaim::Email) && !d.contains(UserClaim::Address));
    }

    #[test]
    fn an_edit_sets_clears_and_leaves_alone() {
        let e = edit_profile(
            &alice(),
            &EditableClaims::default(),
            [
                ("name", "  Alice Liddell "),
                ("nickname", "al"),
                ("website", ""),
            ],
        )
        .unwrap();
        assert_eq!(e.claims.name.unwrap().as_str(), "Alice Liddell");
        assert_eq!(e.claims.nickname.unwrap().as_str(), "al");
        assert_eq!(e.changed, [UserClaim::Name, UserClaim::Nickname]);
        assert!(e.claims.email_verified, "email untouched");

        let e = edit_profile(&alice(), &EditableClaims::default(), [("name", "")]).unwrap();
        assert_eq!(e.claims.name, None);
        assert_eq!(e.changed, [UserClaim::Name]);
        let e = edit_profile(&alice(), &EditableClaims::default(), [("name", "Alice")]).unwrap();
        assert!(e.changed.is_empty());
    }

    #[test]
    fn what_is_not_editable_is_refused() {
        let d = EditableClaims::default();
        for field in [
            "email",
            "email_verified",
            "phone_number_verified",
            "groups",
            "sub",
            "updated_at",
            "preferred_username",
            "address",
            "address.locality",
            "csrf",
            "",
        ] {
            assert_eq!(
                edit_profile(&alice(), &d, [("name", "x"), (field, "y")]),
                Err(ProfileError::NotEditable(field.into())),
                "{field}"
            );
        }
        let all = all_but_flags();
        for field in ["email_verified", "address", "address.city"] {
            assert!(edit_profile(&alice(), &all, [(field, "true")]).is_err());
        }
        assert!(edit_profile(&alice(), &EditableClaims::none(), [("name", "x")]).is_err());
    }

    #[test]
    fn invalid_values_are_all_reported() {
        let long = "x".repeat(crate::user_claims::MAX_TEXT + 1);
        let Err(ProfileError::Invalid(errors)) = edit_profile(
            &alice(),
            &EditableClaims::default(),
            [
                ("website", "javascript:alert(1)"),
                ("name", long.as_str()),
                ("nickname", "ok"),
            ],
        ) else {
            panic!("refused")
        };
        let claims: Vec<_> = errors.iter().map(|e| e.claim.as_str()).collect();
        assert_eq!(claims, ["website", "name"]);
    }

    #[test]
    fn a_changed_address_or_number_is_no_longer_verified() {
        let all = all_but_flags();
        let e = edit_profile(&alice(), &all, [("email", "alice@example.com")]).unwrap();
        assert!(e.claims.email_verified, "the same address stays verified");
        let e = edit_profile(&alice(), &all, [("email", "eve@example.com")]).unwrap();
        assert!(!e.claims.email_verified);
        assert!(e.claims.phone_number_verified);
        assert_eq!(e.changed, [UserClaim::Email, UserClaim::EmailVerified]);
        let e = edit_profile(&alice(), &all, [("phone_number", "")]).unwrap();
        assert_eq!(e.claims.phone_number, None);
        assert!(!e.claims.phone_number_verified);
    }

    #[test]
    fn the_address_is_its_members() {
        let all = all_but_flags();
        let form = [
            ("address.street_address", "1 High St\r\nFlat 2"),
            ("address.region", ""),
            ("address.locality", "Oxford"),
        ];
        let e = edit_profile(&alice(), &all, form).unwrap();
        assert_eq!(
            serde_json::to_value(e.claims.address).unwrap(),
            json!({"street_address": "1 High St\nFlat 2", "locality": "Oxford"})
        );
        assert_eq!(e.changed, [UserClaim::Address]);
        let e = edit_profile(
            &alice(),
            &all,
            [("address.locality", ""), ("address.country", " ")],
        )
        .unwrap();
        assert_eq!(e.claims.address, None, "all empty clears it");
        let e = edit_profile(&alice(), &all, [("address.locality", "Oxford")]).unwrap();
        assert!(e.changed.is_empty());
    }
}
