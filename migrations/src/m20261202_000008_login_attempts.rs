//! Sign-in attempts counted in the database, so that instances sharing
//! one Postgres count guesses together (when no Redis counts them). One row
//! per counter key: the attempts of its current run and the times (Unix
//! milliseconds: attempts sent together are apart by less than a second)
//! of its last attempt and of the one before it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum LoginAttempts {
    Table,
    Key,
    Count,
    LastAtMs,
    PreviousAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(LoginAttempts::Key)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LoginAttempts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginAttempts::LastAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginAttempts::PreviousAtMs)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_attempts_last_at_ms")
                    .table(LoginAttempts::Table)
                    .col(LoginAttempts::LastAtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(LoginAttempts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
