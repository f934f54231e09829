//! One sea-orm entity per table, each with the only conversions between its
//! row and the domain value (`into_domain` reads, `from_domain` writes).
//! Reading is fallible: a row that does not parse back is
//! `StoreError::Corrupt` naming the table and column, never a panic.

pub(crate) mod audit_events;
pub(crate) mod authorization_codes;
pub(crate) mod browser_sessions;
pub(crate) mod clients;
pub(crate) mod consents;
pub(crate) mod device_authorizations;
pub(crate) mod factors;
pub(crate) mod login_attempts;
pub(crate) mod logout_deliveries;
pub(crate) mod pending_authorizations;
pub(crate) mod pushed_requests;
pub(crate) mod refresh_families;
pub(crate) mod refresh_tokens;
pub(crate) mod registration;
pub(crate) mod revoked_tokens;
pub(crate) mod session_clients;
pub(crate) mod signing_keys;
pub(crate) mod used_once;
pub(crate) mod users;

use latchkey_domain::StoreError;
use latchkey_protocol::{ClientId, RedirectUri, Scope};

/// A column that did not parse back. Says where, never what was stored.
pub(crate) fn corrupt(table: &str, column: &str, why: &str) -> StoreError {
    StoreError::Corrupt(format!("{table}.{column}: {why}"))
}

/// The methods of a sign-in, as `Methods` stores them.
pub(crate) fn parse_methods(table: &str, s: &str) -> Result<latchkey_domain::Methods, StoreError> {
    latchkey_domain::Methods::parse(s).map_err(|_| corrupt(table, "methods", "unknown method"))
}

/// A DPoP key thumbprint column.
pub(crate) fn parse_jkt(
    table: &str,
    s: Option<String>,
) -> Result<Option<latchkey_domain::Jkt>, StoreError> {
    s.map(|s| {
        latchkey_domain::Jkt::parse(&s).map_err(|_| corrupt(table, "dpop_jkt", "not a thumbprint"))
    })
    .transpose()
}

/// A resources column (space separated).
pub(crate) fn parse_resources(
    table: &str,
    s: &str,
) -> Result<latchkey_domain::Resources, StoreError> {
    latchkey_domain::Resources::from_stored(s)
        .map_err(|_| corrupt(table, "resources", "not a list of resource URIs"))
}

/// Lists are stored as a JSON array of strings in a TEXT column.
pub(crate) fn list_to_json<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    serde_json::to_string(&items).expect("a list of strings always serialises")
}

/// Reads a JSON list back, parsing each element with `parse`.
pub(crate) fn list_from_json<T, E>(
    table: &str,
    column: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, StoreError> {
    let items: Vec<String> = serde_json::from_str(text)
        .map_err(|_| corrupt(table, column, "not a JSON array of strings"))?;
    items
        .iter()
        .map(|s| parse(s).map_err(|_| corrupt(table, column, "invalid list element")))
        .collect()
}

/// Every string is a valid element (free text lists).
pub(crate) fn any_text(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(s.to_owned())
}

pub(crate) fn parse_client_id(table: &str, column: &str, s: &str) -> Result<ClientId, StoreError> {
    ClientId::parse(s).map_err(|_| corrupt(table, column, "invalid client id"))
}

pub(crate) fn parse_redirect_uri(
    table: &str,
    column: &str,
    s: &str,
) -> Result<RedirectUri, StoreError> {
    RedirectUri::parse(s).map_err(|_| corrupt(table, column, "invalid redirect URI"))
}

/// The empty scope is stored as the empty string (which `Scope::parse`
/// refuses, since a request may not send one).
pub(crate) fn parse_scope(table: &str, column: &str, s: &str) -> Result<Scope, StoreError> {
    if s.is_empty() {
        return Ok(Scope::empty());
    }
    Scope::parse(s).map_err(|_| corrupt(table, column, "invalid scope"))
}
