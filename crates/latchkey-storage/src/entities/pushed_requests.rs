use latchkey_domain::{PushedRequest, StoreError, TokenHash};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::parse_client_id;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pushed_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub request_hash: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub query: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<PushedRequest, StoreError> {
        Ok(PushedRequest {
            request_hash: TokenHash::new(self.request_hash),
            client_id: parse_client_id("pushed_requests", "client_id", &self.client_id)?,
            query: self.query,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }

    pub(crate) fn from_domain(p: &PushedRequest) -> ActiveModel {
        ActiveModel {
            request_hash: Set(p.request_hash.as_str().to_owned()),
            client_id: Set(p.client_id.as_str().to_owned()),
            query: Set(p.query.clone()),
            created_at: Set(p.created_at),
            expires_at: Set(p.expires_at),
        }
    }
}
