//! Pushed authorization requests and sender-constrained tokens:
//! - `pushed_requests`: requests clients pushed (RFC 9126), by the hash of
//!   their `request_uri`, each used once within a minute;
//! - `pending_authorizations.pushed`: a request in progress came pushed;
//! - `clients.require_par` and `clients.dpop_bound`: the client's
//!   `require_pushed_authorization_requests` and `dpop_bound_access_tokens`;
//! - `authorization_codes.dpop_jkt` and `refresh_families.dpop_jkt`: the
//!   DPoP key a code or a public client's refresh tokens are bound to;
//! - `used_once`: DPoP proof `jti`s seen (when no Redis is configured),
//!   until they would be refused for their age anyway.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::{AuthorizationCodes, Clients, PendingAuthorizations};
use crate::m20261124_000002_tokens::RefreshFamilies;

#[derive(DeriveIden)]
enum Added {
    Pushed,
    RequirePar,
    DpopBound,
    DpopJkt,
}

#[derive(DeriveIden)]
pub enum PushedRequests {
    Table,
    RequestHash,
    ClientId,
    Query,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
pub enum UsedOnce {
    Table,
    Key,
    ExpiresAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn flag(col: Added) -> ColumnDef {
    ColumnDef::new(col)
        .boolean()
        .not_null()
        .default(false)
        .to_owned()
}

fn text(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn big(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        let added: [(DynIden, ColumnDef); 5] = [
            (
                PendingAuthorizations::Table.into_iden(),
                flag(Added::Pushed),
            ),
            (Clients::Table.into_iden(), flag(Added::RequirePar)),
            (Clients::Table.into_iden(), flag(Added::DpopBound)),
            (
                AuthorizationCodes::Table.into_iden(),
                ColumnDef::new(Added::DpopJkt).text().null().to_owned(),
            ),
            (
                RefreshFamilies::Table.into_iden(),
                ColumnDef::new(Added::DpopJkt).text().null().to_owned(),
            ),
        ];
        for (table, mut col) in added {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PushedRequests::Table)
                    .col(text(PushedRequests::RequestHash).primary_key())
                    .col(text(PushedRequests::ClientId))
                    .col(text(PushedRequests::Query))
                    .col(big(PushedRequests::CreatedAt))
                    .col(big(PushedRequests::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pushed_requests_client")
                            .from(PushedRequests::Table, PushedRequests::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pushed_requests_expires_at")
                    .table(PushedRequests::Table)
                    .col(PushedRequests::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsedOnce::Table)
                    .col(text(UsedOnce::Key).primary_key())
                    .col(big(UsedOnce::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_used_once_expires_at")
                    .table(UsedOnce::Table)
                    .col(UsedOnce::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsedOnce::Table.into_iden(),
            PushedRequests::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for (table, col) in [
            (PendingAuthorizations::Table.into_iden(), Added::Pushed),
            (Clients::Table.into_iden(), Added::RequirePar),
            (Clients::Table.into_iden(), Added::DpopBound),
            (AuthorizationCodes::Table.into_iden(), Added::DpopJkt),
            (RefreshFamilies::Table.into_iden(), Added::DpopJkt),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
