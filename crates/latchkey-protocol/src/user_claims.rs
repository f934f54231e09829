//! What Latchkey says about a user: the OIDC Core §5.1 standard claims and
//! groups, each value checked where it comes in (command line, admin API,
//! storage), and which scope releases which claim (OIDC Core §5.4).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::types::Scope;

/// The longest text claim (names, address lines) Latchkey keeps.
pub const MAX_TEXT: usize = 256;
/// The longest URL (`picture`, `website`).
pub const MAX_URL: usize = 2048;
/// The longest group name, and how many groups a user may be in.
pub const MAX_GROUP: usize = 128;
pub const MAX_GROUPS: usize = 256;

/// A claim value that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{claim}: {reason}")]
pub struct ClaimError {
    pub claim: String,
    pub reason: String,
}

impl ClaimError {
    fn new(claim: impl Into<String>, reason: impl Into<String>) -> ClaimError {
        ClaimError {
            claim: claim.into(),
            reason: reason.into(),
        }
    }
}

crate::vocabulary! {
    /// The standard claims (OIDC Core §5.1) an operator may set on a user.
    /// `sub`, `preferred_username` (the username) and `updated_at` come
    /// from the account itself.
    pub enum UserClaim as "settable claim" {
        Name = "name",
        GivenName = "given_name",
        FamilyName = "family_name",
        MiddleName = "middle_name",
        Nickname = "nickname",
        Profile = "profile",
        Picture = "picture",
        Website = "website",
        Email = "email",
        EmailVerified = "email_verified",
        Gender = "gender",
        Birthdate = "birthdate",
        Zoneinfo = "zoneinfo",
        Locale = "locale",
        PhoneNumber = "phone_number",
        PhoneNumberVerified = "phone_number_verified",
        Address = "address",
    }
}

impl UserClaim {
    /// The JSON value a command-line argument stands for: `true`/`false`
    /// for the `*_verified` flags, a JSON object for `address`, the text
    /// itself for the others.
    pub fn value_from_text(self, text: &str) -> Result<Value, ClaimError> {
        match self {
            UserClaim::EmailVerified | UserClaim::PhoneNumberVerified => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(ClaimError::new(self.as_str(), "must be true or false")),
            },
            UserClaim::Address => serde_json::from_str(text)
                .map_err(|e| ClaimError::new(self.as_str(), format!("must be a JSON object: {e}"))),
            _ => Ok(Value::String(text.to_owned())),
        }
    }
}

/// Declares a string claim type: `parse` checks the rule, serde goes
/// through `parse`, so a stored or posted value is checked the same way.
macro_rules! claim_string {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value, if it follows the rule; `claim` names it in the error.
            pub fn parse(claim: &str, value: String) -> Result<$name, ClaimError> {
                match $check(&value) {
                    Ok(()) => Ok($name(value)),
                    Err(reason) => Err(ClaimError::new(claim, reason)),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ClaimError;
            fn try_from(value: String) -> Result<$name, ClaimError> {
                $name::parse(stringify!($name), value)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn bounded(value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

fn check_text(value: &str) -> Result<(), String> {
    bounded(value, MAX_TEXT)?;
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Address lines (`formatted`, `street_address`) may span lines (§5.1.1).
fn check_lines(value: &str) -> Result<(), String> {
    bounded(value, MAX_TEXT)?;
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err("must not contain control characters other than line breaks".into());
    }
    Ok(())
}

fn check_url(value: &str) -> Result<(), String> {
    bounded(value, MAX_URL)?;
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err("must be an absolute http or https URL".into()),
    }
}

fn check_email(value: &str) -> Result<(), String> {
    bounded(value, 254)?;
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err("must be an e-mail address (local@domain)".into());
    };
    if local.is_empty()
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be an e-mail address (local@domain)".into());
    }
    Ok(())
}

/// E.164 (`+` and up to 15 digits), optionally with an RFC 3966 extension
/// (`;ext=1234`), as OIDC Core §5.1 recommends.
fn check_phone(value: &str) -> Result<(), String> {
    let bad = || "must be an E.164 number such as +441234567890 (optionally ;ext=123)".to_owned();
    let (number, ext) = match value.split_once(";ext=") {
        Some((n, e)) => (n, Some(e)),
        None => (value, None),
    };
    let digits = number.strip_prefix('+').ok_or_else(bad)?;
    if !(4..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(bad());
    }
    if let Some(ext) = ext {
        if ext.is_empty() || ext.len() > 10 || !ext.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

/// A BCP 47 language tag, loosely: a 2-3 letter language, then subtags of
/// 1-8 letters or digits joined by `-` (`en`, `en-GB`, `zh-Hant-TW`).
fn check_locale(value: &str) -> Result<(), String> {
    let bad = || "must be a BCP 47 language tag such as en-GB".to_owned();
    if value.len() > 35 {
        return Err(bad());
    }
    let mut parts = value.split('-');
    let lang = parts.next().unwrap_or_default();
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    for p in parts {
        if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad());
        }
    }
    Ok(())
}

/// A time zone database name (`Europe/Paris`, `America/Argentina/Salta`,
/// `Etc/GMT+2`, `UTC`).
fn check_zoneinfo(value: &str) -> Result<(), String> {
    bounded(value, 64)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
    {
        return Err("must be a time zone name such as Europe/Paris".into());
    }
    Ok(())
}

/// `YYYY` or `YYYY-MM-DD` (ISO 8601); the year `0000` means it was left
/// out (§5.1).
fn check_birthdate(value: &str) -> Result<(), String> {
    let bad = || "must be YYYY or YYYY-MM-DD".to_owned();
    let b = value.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    match b.len() {
        4 if digits(0..4) => Ok(()),
        10 if digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) => {
            let num = |r: std::ops::Range<usize>| value[r].parse::<u32>().map_err(|_| bad());
            let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
            let leap = year == 0 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
            let days = match month {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => return Err("has no such month".into()),
            };
            if day == 0 || day > days {
                return Err("has no such day".into());
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

fn check_group(value: &str) -> Result<(), String> {
    bounded(value, MAX_GROUP)?;
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

claim_string!(
    /// A short text claim: non-empty, at most [`MAX_TEXT`] characters, no
    /// control characters.
    ClaimText,
    check_text
);
claim_string!(
    /// An address line that may span several lines.
    AddressLines,
    check_lines
);
claim_string!(
    /// An absolute http(s) URL (`picture`, `website`).
    HttpUrl,
    check_url
);
claim_string!(
    /// An e-mail address (`local@domain`).
    Email,
    check_email
);
claim_string!(
    /// An E.164 phone number.
    PhoneNumber,
    check_phone
);
claim_string!(
    /// A BCP 47 language tag.
    Locale,
    check_locale
);
claim_string!(
    /// A time zone database name.
    ZoneInfo,
    check_zoneinfo
);
claim_string!(
    /// `YYYY` or `YYYY-MM-DD`.
    Birthdate,
    check_birthdate
);
claim_string!(
    /// A group name.
    GroupName,
    check_group
);

impl ClaimText {
    /// A `name` stored before Latchkey checked claims, kept as it was so
    /// that nothing stored is lost. Only storage reads these.
    pub fn legacy(value: String) -> ClaimText {
        ClaimText(value)
    }
}

impl Email {
    /// An `email` stored before Latchkey checked claims, kept as it was.
    /// Only storage reads these.
    pub fn legacy(value: String) -> Email {
        Email(value)
    }
}

/// The §5.1.1 address: these members only, at least one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddressFields")]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<AddressLines>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<AddressLines>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<ClaimText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<ClaimText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<ClaimText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<ClaimText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressFields {
    #[serde(default)]
    formatted: Option<AddressLines>,
    #[serde(default)]
    street_address: Option<AddressLines>,
    #[serde(default)]
    locality: Option<ClaimText>,
    #[serde(default)]
    region: Option<ClaimText>,
    #[serde(default)]
    postal_code: Option<ClaimText>,
    #[serde(default)]
    country: Option<ClaimText>,
}

impl TryFrom<AddressFields> for Address {
    type Error = String;
    fn try_from(a: AddressFields) -> Result<Address, String> {
        let address = Address {
            formatted: a.formatted,
            street_address: a.street_address,
            locality: a.locality,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        };
        if address == Address::EMPTY {
            return Err("an address needs at least one member".into());
        }
        Ok(address)
    }
}

impl Address {
    const EMPTY: Address = Address {
        formatted: None,
        street_address: None,
        locality: None,
        region: None,
        postal_code: None,
        country: None,
    };
}

/// The standard claims a user has (OIDC Core §5.1), absent when unset.
/// `email_verified` and `phone_number_verified` are false unless set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ClaimText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<ClaimText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<ClaimText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<ClaimText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<ClaimText>,
    /// The URL of the user's profile page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<HttpUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<HttpUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<HttpUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<ClaimText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<Birthdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<ZoneInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<PhoneNumber>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A string claim's value, checked by `parse`; `null` clears it.
fn string_claim<T>(
    claim: UserClaim,
    value: Value,
    parse: fn(&str, String) -> Result<T, ClaimError>,
) -> Result<Option<T>, ClaimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => parse(claim.as_str(), s).map(Some),
        _ => Err(ClaimError::new(claim.as_str(), "must be a string")),
    }
}

impl StandardClaims {
    /// Sets one claim from its JSON value (`null` clears it, and a
    /// `*_verified` flag back to false), checking it on the way in.
    pub fn set(&mut self, claim: UserClaim, value: Value) -> Result<(), ClaimError> {
        let flag = |value: Value| match value {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(b),
            _ => Err(ClaimError::new(claim.as_str(), "must be true or false")),
        };
        match claim {
            UserClaim::Name => self.name = string_claim(claim, value, ClaimText::parse)?,
            UserClaim::GivenName => self.given_name = string_claim(claim, value, ClaimText::parse)?,
            UserClaim::FamilyName => {
                self.family_name = string_claim(claim, value, ClaimText::parse)?
            }
            UserClaim::MiddleName => {
                self.middle_name = string_claim(claim, value, ClaimText::parse)?
            }
            UserClaim::Nickname => self.nickname = string_claim(claim, value, ClaimText::parse)?,
            UserClaim::Profile => self.profile = string_claim(claim, value, HttpUrl::parse)?,
            UserClaim::Picture => self.picture = string_claim(claim, value, HttpUrl::parse)?,
            UserClaim::Website => self.website = string_claim(claim, value, HttpUrl::parse)?,
            UserClaim::Email => self.email = string_claim(claim, value, Email::parse)?,
            UserClaim::EmailVerified => self.email_verified = flag(value)?,
            UserClaim::Gender => self.gender = string_claim(claim, value, ClaimText::parse)?,
            UserClaim::Birthdate => self.birthdate = string_claim(claim, value, Birthdate::parse)?,
            UserClaim::Zoneinfo => self.zoneinfo = string_claim(claim, value, ZoneInfo::parse)?,
            UserClaim::Locale => self.locale = string_claim(claim, value, Locale::parse)?,
            UserClaim::PhoneNumber => {
                self.phone_number = string_claim(claim, value, PhoneNumber::parse)?
            }
            UserClaim::PhoneNumberVerified => self.phone_number_verified = flag(value)?,
            UserClaim::Address => {
                self.address = match value {
                    Value::Null => None,
                    v @ Value::Object(_) => Some(serde_json::from_value(v).map_err(|e| {
                        ClaimError::new(
                            claim.as_str(),
                            format!(
                                "{e} (members: formatted, street_address, locality, region, postal_code, country)"
                            ),
                        )
                    })?),
                    _ => return Err(ClaimError::new(claim.as_str(), "must be a JSON object")),
                }
            }
        }
        Ok(())
    }

    /// Sets every claim of a JSON object (`{"name": "Alice", "address":
    /// {...}}`); an unknown name is refused.
    pub fn apply(&mut self, changes: Map<String, Value>) -> Result<(), ClaimError> {
        for (name, value) in changes {
            let claim =
                UserClaim::parse(&name).map_err(|e| ClaimError::new(name, e.to_string()))?;
            self.set(claim, value)?;
        }
        Ok(())
    }

    /// The claims that have a value, as JSON. `email_verified` goes with
    /// `email` and `phone_number_verified` with `phone_number`, never alone.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if self.email.is_some() {
            out.insert("email_verified".into(), Value::Bool(self.email_verified));
        } else {
            out.remove("email_verified");
        }
        if self.phone_number.is_some() {
            out.insert(
                "phone_number_verified".into(),
                Value::Bool(self.phone_number_verified),
            );
        } else {
            out.remove("phone_number_verified");
        }
        out
    }
}

/// The groups a user is in: each name checked, no name twice, at most
/// [`MAX_GROUPS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<GroupName>", into = "Vec<GroupName>")]
pub struct Groups(Vec<GroupName>);

impl Groups {
    pub fn parse(names: Vec<String>) -> Result<Groups, ClaimError> {
        let names = names
            .into_iter()
            .map(|n| GroupName::parse("groups", n))
            .collect::<Result<Vec<_>, _>>()?;
        Groups::try_from(names)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(GroupName::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<GroupName>> for Groups {
    type Error = ClaimError;
    fn try_from(names: Vec<GroupName>) -> Result<Groups, ClaimError> {
        if names.len() > MAX_GROUPS {
            return Err(ClaimError::new(
                "groups",
                format!("at most {MAX_GROUPS} groups"),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(ClaimError::new("groups", format!("{n:?} is listed twice")));
            }
        }
        Ok(Groups(names))
    }
}

impl From<Groups> for Vec<GroupName> {
    fn from(g: Groups) -> Vec<GroupName> {
        g.0
    }
}

/// The `groups` scope: a user's groups, as an array of strings.
pub const GROUPS_SCOPE: &str = "groups";

/// The claims each scope releases at the UserInfo endpoint (OIDC Core
/// §5.4, and `groups`).
pub const SCOPE_CLAIMS: [(&str, &[&str]); 5] = [
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    (GROUPS_SCOPE, &["groups"]),
];

/// The claims `scope` releases.
pub fn claims_of_scope(scope: &str) -> &'static [&'static str] {
    SCOPE_CLAIMS
        .iter()
        .find(|(s, _)| *s == scope)
        .map_or(&[], |(_, claims)| claims)
}

/// Every claim about a user Latchkey may release, `sub` first.
pub fn user_claim_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("sub").chain(SCOPE_CLAIMS.iter().flat_map(|(_, c)| c.iter().copied()))
}

/// The scope that releases `claim` (OIDC Core §5.4, and `groups`), if any.
pub fn scope_of_claim(claim: &str) -> Option<&'static str> {
    SCOPE_CLAIMS
        .iter()
        .find(|(_, claims)| claims.contains(&claim))
        .map(|(scope, _)| *scope)
}

/// Claims about a user named one by one (the `claims` request parameter,
/// OIDC Core §5.5), beyond `sub`, which is always released: only names
/// Latchkey can release, each with its companion (`email_verified` with
/// `email`, `phone_number_verified` with `phone_number`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimNames(BTreeSet<&'static str>);

impl ClaimNames {
    /// The names Latchkey can release, and their companions; any other
    /// name is dropped.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> ClaimNames {
        let mut set = BTreeSet::new();
        for name in names {
            let Some(known) = user_claim_names().find(|k| *k == name && *k != "sub") else {
                continue;
            };
            set.insert(known);
            match known {
                "email" => set.insert("email_verified"),
                "phone_number" => set.insert("phone_number_verified"),
                _ => false,
            };
        }
        ClaimNames(set)
    }

    /// The stored form ([`ClaimNames`]' `Display`: the names, space
    /// separated) read back.
    pub fn from_stored(text: &str) -> ClaimNames {
        ClaimNames::from_names(text.split(' ').filter(|n| !n.is_empty()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The scopes whose data these claims are: what consent to them means.
    pub fn scopes(&self) -> BTreeSet<&'static str> {
        self.iter().filter_map(scope_of_claim).collect()
    }

    /// Those whose scope is in `allowed`: a claim of a scope the client
    /// may not ask for is never released.
    pub fn within(&self, allowed: &Scope) -> ClaimNames {
        ClaimNames(
            self.iter()
                .filter(|c| scope_of_claim(c).is_some_and(|s| allowed.contains(s)))
                .collect(),
        )
    }

    /// Those that `scope` does not release anyway.
    pub fn beyond(&self, scope: &Scope) -> ClaimNames {
        ClaimNames(
            self.iter()
                .filter(|c| !scope.iter().any(|s| claims_of_scope(s).contains(c)))
                .collect(),
        )
    }

    pub fn union(&self, other: &ClaimNames) -> ClaimNames {
        ClaimNames(self.0.union(&other.0).copied().collect())
    }
}

/// The names, space separated (how they are stored and put in tokens).
impl fmt::Display for ClaimNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// The claims a `claims` request asked for and Latchkey will release, per
/// destination (OIDC Core §5.5): they travel with the grant, from the
/// authorization request to the code, the refresh family and the tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedClaims {
    /// Released at UserInfo, besides what the scope releases.
    pub userinfo: ClaimNames,
    /// Put in the ID token.
    pub id_token: ClaimNames,
}

impl RequestedClaims {
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }

    /// Both destinations together.
    pub fn all(&self) -> ClaimNames {
        self.userinfo.union(&self.id_token)
    }

    /// Those whose scope is in `allowed` ([`ClaimNames::within`]).
    pub fn within(&self, allowed: &Scope) -> RequestedClaims {
        RequestedClaims {
            userinfo: self.userinfo.within(allowed),
            id_token: self.id_token.within(allowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(claim: &str, value: Value) -> Result<StandardClaims, ClaimError> {
        let mut c = StandardClaims::default();
        c.apply(Map::from_iter([(claim.to_owned(), value)]))?;
        Ok(c)
    }

    #[test]
    fn each_rule_refuses_what_it_should() {
        for (claim, value) in [
            ("picture", json!("ftp://example.com/a.png")),
            ("picture", json!("/relative.png")),
            ("website", json!("javascript:alert(1)")),
            ("birthdate", json!("1990-02-30")),
            ("birthdate", json!("90-01-01")),
            ("birthdate", json!("1990/01/01")),
            ("locale", json!("english")),
            ("locale", json!("en_GB")),
            ("zoneinfo", json!("")),
            ("zoneinfo", json!("Europe Paris")),
            ("phone_number", json!("01234 567890")),
            ("phone_number", json!("+0123")),
            ("email", json!("not-an-address")),
            ("email_verified", json!("yes")),
            ("name", json!("x".repeat(MAX_TEXT + 1))),
            ("name", json!("")),
            ("name", json!("a\u{0}b")),
            ("name", json!(42)),
            ("address", json!({"city": "London"})),
            ("address", json!({})),
            ("address", json!("London")),
            ("updated_at", json!(1)),
            ("sub", json!("x")),
        ] {
            assert!(set(claim, value.clone()).is_err(), "{claim} = {value}");
        }
    }

    #[test]
    fn good_values_are_kept() {
        for (claim, value) in [
            ("picture", json!("https://example.com/a.png")),
            ("website", json!("http://example.org")),
            ("birthdate", json!("1990")),
            ("birthdate", json!("2000-02-29")),
            ("birthdate", json!("0000-02-29")),
            ("locale", json!("en-GB")),
            ("locale", json!("zh-Hant-TW")),
            ("zoneinfo", json!("America/Argentina/Salta")),
            ("phone_number", json!("+441234567890")),
            ("phone_number", json!("+15551234567;ext=42")),
            ("email", json!("a.b+c@example.co.uk")),
            ("address", json!({"locality": "London", "country": "GB"})),
            ("address", json!({"street_address": "1 High St\nFlat 2"})),
        ] {
            let c = set(claim, value.clone()).unwrap_or_else(|e| panic!("{claim}: {e}"));
            assert_eq!(c.to_json()[claim], value);
        }
    }

    #[test]
    fn verified_flags_go_with_their_claim_only() {
        let mut c = set("email_verified", json!(true)).unwrap();
        assert!(!c.to_json().contains_key("email_verified"));
        c.set(UserClaim::Email, json!("a@example.com")).unwrap();
        assert_eq!(c.to_json()["email_verified"], true);
        c.set(UserClaim::PhoneNumber, json!("+441234567890"))
            .unwrap();
        assert_eq!(c.to_json()["phone_number_verified"], false);
        c.set(UserClaim::Email, Value::Null).unwrap();
        assert!(!c.to_json().contains_key("email"));
    }

    #[test]
    fn stored_claims_read_back_strictly() {
        let c = set("address", json!({"country": "GB"})).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<StandardClaims>(&text).unwrap(), c);
        assert!(serde_json::from_str::<StandardClaims>(r#"{"picture":"nope"}"#).is_err());
        assert!(serde_json::from_str::<StandardClaims>(r#"{"unknown":"x"}"#).is_err());
    }

    #[test]
    fn claim_names_keep_what_can_be_released() {
        let n = ClaimNames::from_names(["sub", "email", "nope", "groups", "phone_number", "acr"]);
        assert_eq!(
            n.to_string(),
            "email email_verified groups phone_number phone_number_verified"
        );
        assert_eq!(ClaimNames::from_stored(&n.to_string()), n);
        assert_eq!(ClaimNames::from_stored(""), ClaimNames::default());
        assert_eq!(
            n.scopes().into_iter().collect::<Vec<_>>(),
            ["email", "groups", "phone"]
        );
        let allowed = Scope::parse("openid email").unwrap();
        assert_eq!(n.within(&allowed).to_string(), "email email_verified");
        assert_eq!(
            n.beyond(&allowed).to_string(),
            "groups phone_number phone_number_verified"
        );
        assert_eq!(scope_of_claim("preferred_username"), Some("profile"));
        assert_eq!(scope_of_claim("sub"), None);
    }

    #[test]
    fn groups_are_checked() {
        assert!(Groups::parse(vec!["admins".into(), "admins".into()]).is_err());
        assert!(Groups::parse(vec![String::new()]).is_err());
        assert!(Groups::parse(vec!["g".repeat(MAX_GROUP + 1)]).is_err());
        let g = Groups::parse(vec!["admins".into(), "staff".into()]).unwrap();
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!(["admins", "staff"])
        );
    }

    #[test]
    fn text_values_from_the_command_line() {
        assert_eq!(
            UserClaim::Address
                .value_from_text(r#"{"locality":"London"}"#)
                .unwrap(),
            json!({"locality": "London"})
        );
        assert!(UserClaim::Address.value_from_text("London").is_err());
        assert_eq!(
            UserClaim::EmailVerified.value_from_text("true").unwrap(),
            json!(true)
        );
        assert!(UserClaim::parse("updated_at").is_err());
    }
}
