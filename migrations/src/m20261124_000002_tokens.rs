//! Tokens that can be killed: refresh-token families and their tokens, the
//! clients each browser session handed codes to (for back-channel logout),
//! the back-channel logout outbox, the family a code started, and an index
//! so an in-memory revocation mirror can catch up by `revoked_at`.
//!
//! `revoked_tokens.jti` keeps its name although it now holds any revocation
//! key (`t:<jti>`, `f:<family>`, `s:<session>`): renaming a primary-key
//! column on SQLite means rebuilding the table, for no gain.

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::{BrowserSessions, Clients, RevokedTokens, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The column this migration adds to an existing table.
#[derive(DeriveIden)]
pub enum AuthorizationCodes {
    Table,
    FamilyId,
}

#[derive(DeriveIden)]
pub enum RefreshFamilies {
    Table,
    Id,
    UserId,
    ClientId,
    SessionId,
    Scope,
    AuthTime,
    Generation,
    Revoked,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
pub enum RefreshTokens {
    Table,
    TokenHash,
    FamilyId,
    Generation,
    CreatedAt,
    UsedAt,
    AccessTokenJti,
    AccessTokenExpiresAt,
}

#[derive(DeriveIden)]
pub enum SessionClients {
    Table,
    SessionId,
    ClientId,
    FirstAt,
}

#[derive(DeriveIden)]
pub enum LogoutDeliveries {
    Table,
    Id,
    ClientId,
    Uri,
    LogoutToken,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    DeliveredAt,
    LastError,
}

const IDX_REVOKED_AT: &str = "idx_revoked_tokens_revoked_at";

// Same helpers as the initial migration (kept local so a shipped migration
// is never edited): every column says whether it may be NULL.
fn text(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}
fn text_null(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}
fn text_pk(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col)
        .text()
        .not_null()
        .primary_key()
        .to_owned()
}
fn big(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}
fn big_null(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().to_owned()
}

fn cascade_fk(
    name: &str,
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> IndexCreateStatement {
    Index::create().name(name).table(table).col(col).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key: a code outlives a swept family, and SQLite cannot
        // add one to an existing table anyway.
        manager
            .alter_table(
                Table::alter()
                    .table(AuthorizationCodes::Table)
                    .add_column(text_null(AuthorizationCodes::FamilyId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                IDX_REVOKED_AT,
                RevokedTokens::Table,
                RevokedTokens::RevokedAt,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshFamilies::Table)
                    .col(text_pk(RefreshFamilies::Id))
                    .col(text(RefreshFamilies::UserId))
                    .col(text(RefreshFamilies::ClientId))
                    // No foreign key: the family outlives its session (a
                    // session row goes only with its user, who takes the
                    // families along).
                    .col(text(RefreshFamilies::SessionId))
                    .col(text(RefreshFamilies::Scope))
                    .col(big(RefreshFamilies::AuthTime))
                    .col(big(RefreshFamilies::Generation))
                    .col(
                        ColumnDef::new(RefreshFamilies::Revoked)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(big(RefreshFamilies::CreatedAt))
                    .col(big(RefreshFamilies::LastUsedAt))
                    .col(big(RefreshFamilies::ExpiresAt))
                    .col(big_null(RefreshFamilies::RevokedAt))
                    .col(text_null(RefreshFamilies::RevokedReason))
                    .foreign_key(&mut cascade_fk(
                        "fk_refresh_families_user",
                        (RefreshFamilies::Table, RefreshFamilies::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade_fk(
                        "fk_refresh_families_client",
                        (RefreshFamilies::Table, RefreshFamilies::ClientId),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_refresh_families_user_id", RefreshFamilies::UserId),
            (
                "idx_refresh_families_session_id",
                RefreshFamilies::SessionId,
            ),
            ("idx_refresh_families_client_id", RefreshFamilies::ClientId),
        ] {
            manager
                .create_index(index(name, RefreshFamilies::Table, col))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(text_pk(RefreshTokens::TokenHash))
                    .col(text(RefreshTokens::FamilyId))
                    .col(big(RefreshTokens::Generation))
                    .col(big(RefreshTokens::CreatedAt))
                    .col(big_null(RefreshTokens::UsedAt))
                    .col(text(RefreshTokens::AccessTokenJti))
                    .col(big(RefreshTokens::AccessTokenExpiresAt))
                    .foreign_key(&mut cascade_fk(
                        "fk_refresh_tokens_family",
                        (RefreshTokens::Table, RefreshTokens::FamilyId),
                        (RefreshFamilies::Table, RefreshFamilies::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One token per generation: a backstop under the conditional
        // generation update, and the index for `find_family_token`.
        manager
            .create_index(
                Index::create()
                    .name("uq_refresh_tokens_family_generation")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::FamilyId)
                    .col(RefreshTokens::Generation)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SessionClients::Table)
                    .col(text(SessionClients::SessionId))
                    .col(text(SessionClients::ClientId))
                    .col(big(SessionClients::FirstAt))
                    .primary_key(
                        Index::create()
                            .col(SessionClients::SessionId)
                            .col(SessionClients::ClientId),
                    )
                    .foreign_key(&mut cascade_fk(
                        "fk_session_clients_session",
                        (SessionClients::Table, SessionClients::SessionId),
                        (BrowserSessions::Table, BrowserSessions::Id),
                    ))
                    .foreign_key(&mut cascade_fk(
                        "fk_session_clients_client",
                        (SessionClients::Table, SessionClients::ClientId),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LogoutDeliveries::Table)
                    .col(text_pk(LogoutDeliveries::Id))
                    .col(text(LogoutDeliveries::ClientId))
                    .col(text(LogoutDeliveries::Uri))
                    .col(text(LogoutDeliveries::LogoutToken))
                    .col(big(LogoutDeliveries::CreatedAt))
                    .col(
                        ColumnDef::new(LogoutDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    // NULL: the worker gave up on it.
                    .col(big_null(LogoutDeliveries::NextAttemptAt))
                    .col(big_null(LogoutDeliveries::DeliveredAt))
                    .col(text_null(LogoutDeliveries::LastError))
                    .foreign_key(&mut cascade_fk(
                        "fk_logout_deliveries_client",
                        (LogoutDeliveries::Table, LogoutDeliveries::ClientId),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_logout_deliveries_due")
                    .table(LogoutDeliveries::Table)
                    .col(LogoutDeliveries::DeliveredAt)
                    .col(LogoutDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents; dropping a table drops its indexes.
        for table in [
            LogoutDeliveries::Table.into_iden(),
            SessionClients::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            RefreshFamilies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(IDX_REVOKED_AT)
                    .table(RevokedTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuthorizationCodes::Table)
                    .drop_column(AuthorizationCodes::FamilyId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
