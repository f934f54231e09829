use latchkey_domain::{RevokeReason, RevokedToken, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

/// The column `jti` holds the domain's `key`: any revocation key in its
/// stored form (`t:<jti>`, `f:<family>`, `s:<session>`). It kept its first
/// name because renaming a primary key on SQLite means rebuilding the table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub jti: String,
    pub expires_at: i64,
    pub revoked_at: i64,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<RevokedToken, StoreError> {
        Ok(RevokedToken {
            key: self.jti,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            reason: RevokeReason::parse(&self.reason)
                .map_err(|_| super::corrupt("revoked_tokens", "reason", "unknown reason"))?,
        })
    }

    pub(crate) fn from_domain(t: &RevokedToken) -> ActiveModel {
        ActiveModel {
            jti: Set(t.key.clone()),
            expires_at: Set(t.expires_at),
            revoked_at: Set(t.revoked_at),
            reason: Set(t.reason.as_str().to_owned()),
        }
    }
}
