use latchkey_domain::RevokedToken;
use sea_orm::entity::prelude::*;
use sea_orm::Set;

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
    // Only written and checked for presence today; no read-back conversion
    // is needed until something lists revocations.
    pub(crate) fn from_domain(t: &RevokedToken) -> ActiveModel {
        ActiveModel {
            jti: Set(t.jti.clone()),
            expires_at: Set(t.expires_at),
            revoked_at: Set(t.revoked_at),
            reason: Set(t.reason.clone()),
        }
    }
}
