//! Columns for rules that close side doors:
//! - `clients.introspect`: an administrator marked the client as a resource
//!   server that may introspect any token (others see only their own).
//! - `pending_authorizations.browser_hash`: the SHA-256 of the CSRF cookie
//!   of the browser that started the request; another browser presenting
//!   the request's id is refused.
//! - `admin_tokens.expires_at`: admin tokens expire (NULL: older tokens,
//!   which the server treats as expiring 90 days after creation).

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::{Clients, PendingAuthorizations};
use crate::m20261124_000004_registration::AdminTokens;

#[derive(DeriveIden)]
enum Added {
    Introspect,
    BrowserHash,
    ExpiresAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(
                        ColumnDef::new(Added::Introspect)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PendingAuthorizations::Table)
                    .add_column(ColumnDef::new(Added::BrowserHash).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AdminTokens::Table)
                    .add_column(ColumnDef::new(Added::ExpiresAt).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, col) in [
            (Clients::Table.into_iden(), Added::Introspect),
            (PendingAuthorizations::Table.into_iden(), Added::BrowserHash),
            (AdminTokens::Table.into_iden(), Added::ExpiresAt),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
