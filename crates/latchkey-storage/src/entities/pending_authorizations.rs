use latchkey_domain::{PendingAuthorization, SessionId, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::parse_client_id;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub query: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub session_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub browser_hash: Option<String>,
    /// Migration `m20261205_000014_pushed_and_bound`.
    pub pushed: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<PendingAuthorization, StoreError> {
        Ok(PendingAuthorization {
            id: self.id,
            client_id: parse_client_id("pending_authorizations", "client_id", &self.client_id)?,
            query: self.query,
            session_id: self.session_id.map(SessionId::new),
            browser_hash: self.browser_hash,
            pushed: self.pushed,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }

    pub(crate) fn from_domain(p: &PendingAuthorization) -> ActiveModel {
        ActiveModel {
            id: Set(p.id.clone()),
            client_id: Set(p.client_id.as_str().to_owned()),
            query: Set(p.query.clone()),
            session_id: Set(p.session_id.as_ref().map(|s| s.as_str().to_owned())),
            browser_hash: Set(p.browser_hash.clone()),
            pushed: Set(p.pushed),
            created_at: Set(p.created_at),
            expires_at: Set(p.expires_at),
        }
    }
}
