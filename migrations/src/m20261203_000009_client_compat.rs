//! Per-client opt-outs from Latchkey's strict defaults, set by an operator
//! for confidential clients only: `clients.pkce` and `clients.nonce`, each
//! `required` (every existing client, and the default) or `optional`.
//!
//! An authorization code issued without a PKCE challenge keeps the existing
//! `authorization_codes.code_challenge` column, with the empty text (a real
//! S256 challenge is always 43 characters); SQLite cannot relax a NOT NULL
//! column without rebuilding the table.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Clients;

#[derive(DeriveIden)]
enum Added {
    Pkce,
    Nonce,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        for col in [Added::Pkce, Added::Nonce] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .add_column(ColumnDef::new(col).text().not_null().default("required"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Added::Pkce, Added::Nonce] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
