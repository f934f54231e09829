//! Resource indicators (RFC 8707):
//! - `clients.resources`: what an operator lets the client ask tokens for
//!   beyond the server-wide `resources` (space separated);
//! - `authorization_codes.resources` and `refresh_families.resources`: the
//!   resources the sign-in's request named, within which a token request
//!   or a refresh may narrow the access token's audience.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::{AuthorizationCodes, Clients};
use crate::m20261124_000002_tokens::RefreshFamilies;

#[derive(DeriveIden)]
enum Added {
    Resources,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn resources() -> ColumnDef {
    ColumnDef::new(Added::Resources)
        .text()
        .not_null()
        .default("")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Clients::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            RefreshFamilies::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(resources())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Clients::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            RefreshFamilies::Table.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Added::Resources)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
