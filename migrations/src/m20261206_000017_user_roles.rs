//! `users.role`: what a user may do besides signing in. `user` for every
//! existing row; `admin` opens the operator console under `/admin`.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Users;

#[derive(DeriveIden)]
enum Added {
    Role,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Added::Role)
                            .text()
                            .not_null()
                            .default("user"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Added::Role)
                    .to_owned(),
            )
            .await
    }
}
