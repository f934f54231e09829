//! The `claims` request parameter (OIDC Core §5.5): the claims a request
//! named, by destination, travel with the grant. Each is the names, space
//! separated, the empty text when there are none (every existing row):
//! - `authorization_codes.userinfo_claims` and `.id_token_claims`;
//! - `refresh_families.userinfo_claims` and `.id_token_claims`, kept by
//!   every refresh.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::AuthorizationCodes;
use crate::m20261124_000002_tokens::RefreshFamilies;

#[derive(DeriveIden)]
enum Added {
    UserinfoClaims,
    IdTokenClaims,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tables() -> [DynIden; 2] {
    [
        AuthorizationCodes::Table.into_iden(),
        RefreshFamilies::Table.into_iden(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        for table in tables() {
            for col in [Added::UserinfoClaims, Added::IdTokenClaims] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .add_column(ColumnDef::new(col).text().not_null().default(""))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            for col in [Added::UserinfoClaims, Added::IdTokenClaims] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .drop_column(col)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
