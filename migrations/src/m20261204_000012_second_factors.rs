//! Second factors and how a sign-in was made:
//! - `browser_sessions.methods` and `authorization_codes.methods`: the
//!   methods the user proved (space separated; `pwd` for every existing
//!   row), and `authorization_codes.acr`, the `acr` its ID token carries;
//! - `clients.require_mfa`: a second factor for every sign-in to it;
//! - `totp_credentials`: one authenticator app per user, its secret
//!   encrypted under the key-encryption key, with the last time step
//!   accepted (a code is accepted once);
//! - `recovery_codes`: single-use codes, by SHA-256;
//! - `passkeys`: WebAuthn credentials, by credential id;
//! - `login_challenges`: a sign-in between its first and last factor
//!   (bound to one browser, short-lived).

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::{AuthorizationCodes, BrowserSessions, Clients, Users};

#[derive(DeriveIden)]
enum Added {
    Methods,
    Acr,
    RequireMfa,
}

#[derive(DeriveIden)]
pub enum TotpCredentials {
    Table,
    UserId,
    Secret,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum RecoveryCodes {
    Table,
    CodeHash,
    UserId,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
pub enum Passkeys {
    Table,
    Id,
    UserId,
    Name,
    Credential,
    Synced,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
pub enum LoginChallenges {
    Table,
    Id,
    UserId,
    BrowserHash,
    PendingId,
    SessionId,
    Methods,
    PasswordHash,
    Ceremony,
    Failures,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}
fn text_null(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}
fn big(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn user_fk(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        let added: [(DynIden, Added, ColumnDef); 4] = [
            (
                BrowserSessions::Table.into_iden(),
                Added::Methods,
                ColumnDef::new(Added::Methods)
                    .text()
                    .not_null()
                    .default("pwd")
                    .to_owned(),
            ),
            (
                AuthorizationCodes::Table.into_iden(),
                Added::Methods,
                ColumnDef::new(Added::Methods)
                    .text()
                    .not_null()
                    .default("pwd")
                    .to_owned(),
            ),
            (
                AuthorizationCodes::Table.into_iden(),
                Added::Acr,
                ColumnDef::new(Added::Acr)
                    .text()
                    .not_null()
                    .default("urn:latchkey:acr:pwd")
                    .to_owned(),
            ),
            (
                Clients::Table.into_iden(),
                Added::RequireMfa,
                ColumnDef::new(Added::RequireMfa)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
        ];
        for (table, _, mut col) in added {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TotpCredentials::Table)
                    .col(text(TotpCredentials::UserId).primary_key())
                    .col(text(TotpCredentials::Secret))
                    .col(big(TotpCredentials::LastStep))
                    .col(big(TotpCredentials::CreatedAt))
                    .foreign_key(&mut user_fk(
                        "fk_totp_credentials_user",
                        TotpCredentials::Table,
                        TotpCredentials::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(text(RecoveryCodes::CodeHash).primary_key())
                    .col(text(RecoveryCodes::UserId))
                    .col(big(RecoveryCodes::CreatedAt))
                    .col(ColumnDef::new(RecoveryCodes::UsedAt).big_integer().null())
                    .foreign_key(&mut user_fk(
                        "fk_recovery_codes_user",
                        RecoveryCodes::Table,
                        RecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user_id")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .col(text(Passkeys::Id).primary_key())
                    .col(text(Passkeys::UserId))
                    .col(text(Passkeys::Name))
                    .col(text(Passkeys::Credential))
                    .col(ColumnDef::new(Passkeys::Synced).boolean().not_null())
                    .col(big(Passkeys::CreatedAt))
                    .col(ColumnDef::new(Passkeys::LastUsedAt).big_integer().null())
                    .foreign_key(&mut user_fk(
                        "fk_passkeys_user",
                        Passkeys::Table,
                        Passkeys::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginChallenges::Table)
                    .col(text(LoginChallenges::Id).primary_key())
                    .col(text_null(LoginChallenges::UserId))
                    .col(text(LoginChallenges::BrowserHash))
                    .col(text_null(LoginChallenges::PendingId))
                    .col(text_null(LoginChallenges::SessionId))
                    .col(text(LoginChallenges::Methods))
                    .col(text_null(LoginChallenges::PasswordHash))
                    .col(text_null(LoginChallenges::Ceremony))
                    .col(big(LoginChallenges::Failures))
                    .col(big(LoginChallenges::CreatedAt))
                    .col(big(LoginChallenges::ExpiresAt))
                    .foreign_key(&mut user_fk(
                        "fk_login_challenges_user",
                        LoginChallenges::Table,
                        LoginChallenges::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_challenges_expires_at")
                    .table(LoginChallenges::Table)
                    .col(LoginChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginChallenges::Table.into_iden(),
            Passkeys::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpCredentials::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for (table, col) in [
            (BrowserSessions::Table.into_iden(), Added::Methods),
            (AuthorizationCodes::Table.into_iden(), Added::Methods),
            (AuthorizationCodes::Table.into_iden(), Added::Acr),
            (Clients::Table.into_iden(), Added::RequireMfa),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
