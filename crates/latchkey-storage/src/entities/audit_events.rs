use latchkey_domain::{AuditEvent, AuditRecord, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    pub at: i64,
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub ip: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub actor: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<AuditRecord, StoreError> {
        Ok(AuditRecord {
            id: self.id,
            at: self.at,
            kind: AuditEvent::parse(&self.kind)
                .map_err(|_| super::corrupt("audit_events", "kind", "unknown event"))?,
            user_id: self.user_id,
            client_id: self.client_id,
            ip: self.ip,
            detail: self.detail,
            actor: self.actor,
        })
    }

    pub(crate) fn from_domain(e: &AuditRecord) -> ActiveModel {
        ActiveModel {
            id: Set(e.id.clone()),
            at: Set(e.at),
            kind: Set(e.kind.as_str().to_owned()),
            user_id: Set(e.user_id.clone()),
            client_id: Set(e.client_id.clone()),
            ip: Set(e.ip.clone()),
            detail: Set(e.detail.clone()),
            actor: Set(e.actor.clone()),
        }
    }
}
