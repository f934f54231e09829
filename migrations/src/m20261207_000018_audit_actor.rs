//! `audit_events.actor`: who acted when an operator did (`cli`,
//! `console:<username>`, `api:<admin token id>`); empty for what a user,
//! a client or Latchkey itself did.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::AuditEvents;

#[derive(DeriveIden)]
enum Added {
    Actor,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(ColumnDef::new(Added::Actor).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(Added::Actor)
                    .to_owned(),
            )
            .await
    }
}
