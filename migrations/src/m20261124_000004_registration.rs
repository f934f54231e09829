//! Client registration and management: each client's registration record
//! (the RFC 7592 registration access token's hash and the metadata the
//! token endpoint does not read on every request), initial access tokens
//! that open `POST /register`, admin API tokens, and the `jti` of every
//! `private_key_jwt` assertion until it expires (single use).

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Clients;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum ClientRegistrations {
    Table,
    ClientId,
    RegistrationTokenHash,
    Jwks,
    JwksUri,
    ClientUri,
    LogoUri,
    PolicyUri,
    TosUri,
    Contacts,
}

#[derive(DeriveIden)]
pub enum InitialAccessTokens {
    Table,
    Id,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsesLeft,
}

#[derive(DeriveIden)]
pub enum AdminTokens {
    Table,
    Id,
    TokenHash,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum ClientAssertions {
    Table,
    ClientId,
    Jti,
    ExpiresAt,
}

// Same helpers as the earlier migrations (kept local so a shipped migration
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

fn client_fk(
    name: &str,
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(Clients::Table, Clients::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientRegistrations::Table)
                    .col(text_pk(ClientRegistrations::ClientId))
                    .col(text_null(ClientRegistrations::RegistrationTokenHash))
                    .col(text_null(ClientRegistrations::Jwks))
                    .col(text_null(ClientRegistrations::JwksUri))
                    .col(text_null(ClientRegistrations::ClientUri))
                    .col(text_null(ClientRegistrations::LogoUri))
                    .col(text_null(ClientRegistrations::PolicyUri))
                    .col(text_null(ClientRegistrations::TosUri))
                    .col(text(ClientRegistrations::Contacts))
                    .foreign_key(&mut client_fk(
                        "fk_client_registrations_client",
                        (ClientRegistrations::Table, ClientRegistrations::ClientId),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InitialAccessTokens::Table)
                    .col(text_pk(InitialAccessTokens::Id))
                    .col(text(InitialAccessTokens::TokenHash).unique_key())
                    .col(big(InitialAccessTokens::CreatedAt))
                    .col(big(InitialAccessTokens::ExpiresAt))
                    .col(big(InitialAccessTokens::UsesLeft))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminTokens::Table)
                    .col(text_pk(AdminTokens::Id))
                    .col(text(AdminTokens::TokenHash).unique_key())
                    .col(text(AdminTokens::Name))
                    .col(big(AdminTokens::CreatedAt))
                    .to_owned(),
            )
            .await?;

        // The primary key is what makes a jti single-use per client.
        manager
            .create_table(
                Table::create()
                    .table(ClientAssertions::Table)
                    .col(text(ClientAssertions::ClientId))
                    .col(text(ClientAssertions::Jti))
                    .col(big(ClientAssertions::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(ClientAssertions::ClientId)
                            .col(ClientAssertions::Jti),
                    )
                    .foreign_key(&mut client_fk(
                        "fk_client_assertions_client",
                        (ClientAssertions::Table, ClientAssertions::ClientId),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_client_assertions_expires_at")
                    .table(ClientAssertions::Table)
                    .col(ClientAssertions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClientAssertions::Table.into_iden(),
            AdminTokens::Table.into_iden(),
            InitialAccessTokens::Table.into_iden(),
            ClientRegistrations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
