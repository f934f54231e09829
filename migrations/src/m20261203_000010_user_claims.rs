//! The OIDC Core §5.1 claims and groups of users:
//! - `users.claims`: the standard claims besides `name` and `email` (which
//!   keep their own columns), as a JSON object;
//! - `users.group_names`: the user's groups, a JSON array of strings;
//! - `users.updated_at`: when the claims last changed (the `updated_at`
//!   claim); existing users start at their creation time.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Users;

#[derive(DeriveIden)]
enum Added {
    Claims,
    GroupNames,
    UpdatedAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        for column in [
            ColumnDef::new(Added::Claims)
                .text()
                .not_null()
                .default("{}")
                .to_owned(),
            ColumnDef::new(Added::GroupNames)
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
            ColumnDef::new(Added::UpdatedAt)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(Users::Table)
                    .value(Added::UpdatedAt, Expr::col(Users::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Added::Claims, Added::GroupNames, Added::UpdatedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
