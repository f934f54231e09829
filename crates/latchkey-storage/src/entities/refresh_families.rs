use latchkey_domain::{RefreshFamily, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::{parse_client_id, parse_scope};

const TABLE: &str = "refresh_families";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_families")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub session_id: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub auth_time: i64,
    pub generation: i64,
    pub revoked: bool,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::refresh_tokens::Entity")]
    Tokens,
}

impl Related<super::refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<RefreshFamily, StoreError> {
        Ok(RefreshFamily {
            id: self.id,
            user_id: self.user_id,
            client_id: parse_client_id(TABLE, "client_id", &self.client_id)?,
            session_id: self.session_id,
            scope: parse_scope(TABLE, "scope", &self.scope)?,
            auth_time: self.auth_time,
            generation: self.generation,
            revoked: self.revoked,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            revoked_reason: self.revoked_reason,
        })
    }

    pub(crate) fn from_domain(f: &RefreshFamily) -> ActiveModel {
        ActiveModel {
            id: Set(f.id.clone()),
            user_id: Set(f.user_id.clone()),
            client_id: Set(f.client_id.as_str().to_owned()),
            session_id: Set(f.session_id.clone()),
            scope: Set(f.scope.to_string()),
            auth_time: Set(f.auth_time),
            generation: Set(f.generation),
            revoked: Set(f.revoked),
            created_at: Set(f.created_at),
            last_used_at: Set(f.last_used_at),
            expires_at: Set(f.expires_at),
            revoked_at: Set(f.revoked_at),
            revoked_reason: Set(f.revoked_reason.clone()),
        }
    }
}
