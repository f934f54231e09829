use latchkey_domain::{LogoutDelivery, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::parse_client_id;

/// What a `NULL` `next_attempt_at` (the worker gave up) reads back as: the
/// domain value has no "never", and the end of time is the closest.
pub(crate) const GIVEN_UP: i64 = i64::MAX;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logout_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub uri: String,
    #[sea_orm(column_type = "Text")]
    pub logout_token: String,
    pub created_at: i64,
    pub attempts: i32,
    /// NULL once the worker has given up.
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

// Hand-written: the logout token is not a bearer credential, but it names
// the user and session and has no business in a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("logout_deliveries::Model")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<LogoutDelivery, StoreError> {
        Ok(LogoutDelivery {
            id: self.id,
            client_id: parse_client_id("logout_deliveries", "client_id", &self.client_id)?,
            uri: self.uri,
            logout_token: self.logout_token,
            created_at: self.created_at,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.unwrap_or(GIVEN_UP),
            delivered_at: self.delivered_at,
            last_error: self.last_error,
        })
    }

    pub(crate) fn from_domain(d: &LogoutDelivery) -> ActiveModel {
        ActiveModel {
            id: Set(d.id.clone()),
            client_id: Set(d.client_id.as_str().to_owned()),
            uri: Set(d.uri.clone()),
            logout_token: Set(d.logout_token.clone()),
            created_at: Set(d.created_at),
            attempts: Set(d.attempts),
            next_attempt_at: Set((d.next_attempt_at != GIVEN_UP).then_some(d.next_attempt_at)),
            delivered_at: Set(d.delivered_at),
            last_error: Set(d.last_error.clone()),
        }
    }
}
