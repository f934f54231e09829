//! `clients.fapi2`: the client follows the FAPI 2.0 Security Profile.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Clients;

#[derive(DeriveIden)]
enum Added {
    Fapi2,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(
                        ColumnDef::new(Added::Fapi2)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Added::Fapi2)
                    .to_owned(),
            )
            .await
    }
}
