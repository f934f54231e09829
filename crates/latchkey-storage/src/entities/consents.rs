use latchkey_domain::{Consent, StoreError, UserId};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::{parse_client_id, parse_scope};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub granted_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<Consent, StoreError> {
        Ok(Consent {
            user_id: UserId::new(self.user_id),
            client_id: parse_client_id("consents", "client_id", &self.client_id)?,
            scope: parse_scope("consents", "scope", &self.scope)?,
            granted_at: self.granted_at,
        })
    }

    pub(crate) fn from_domain(c: &Consent) -> ActiveModel {
        ActiveModel {
            user_id: Set(c.user_id.as_str().to_owned()),
            client_id: Set(c.client_id.as_str().to_owned()),
            scope: Set(c.scope.to_string()),
            granted_at: Set(c.granted_at),
        }
    }
}
