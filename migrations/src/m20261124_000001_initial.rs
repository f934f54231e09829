//! The first schema: clients, users, browser sessions, the authorization
//! flow (pending requests, codes, consents), token revocation, signing keys
//! and the audit trail.
//!
//! Table names are `Iden` enums so later migrations can refer to them
//! (`use super::m20261124_000001_initial::Users`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Name,
    Email,
    Disabled,
    CreatedAt,
    PasswordChangedAt,
}

#[derive(DeriveIden)]
pub enum Clients {
    Table,
    Id,
    Name,
    AuthMethod,
    SecretHash,
    SecretExpiresAt,
    PreviousSecretHash,
    PreviousSecretExpiresAt,
    RedirectUris,
    PostLogoutRedirectUris,
    GrantTypes,
    Scope,
    BackchannelLogoutUri,
    IdTokenSignedResponseAlg,
    AllowedCorsOrigins,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum BrowserSessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    LastSeenAt,
    AuthTime,
    UserAgent,
    Ip,
    EndedAt,
}

#[derive(DeriveIden)]
pub enum PendingAuthorizations {
    Table,
    Id,
    ClientId,
    Query,
    SessionId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
pub enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    UserId,
    SessionId,
    RedirectUri,
    CodeChallenge,
    Nonce,
    Scope,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
    AccessTokenJti,
    AccessTokenExpiresAt,
}

#[derive(DeriveIden)]
pub enum Consents {
    Table,
    UserId,
    ClientId,
    Scope,
    GrantedAt,
}

#[derive(DeriveIden)]
pub enum RevokedTokens {
    Table,
    Jti,
    ExpiresAt,
    RevokedAt,
    Reason,
}

#[derive(DeriveIden)]
pub enum SigningKeys {
    Table,
    Kid,
    Alg,
    State,
    EncryptedPrivateKey,
    PublicJwk,
    CreatedAt,
    ActivatesAt,
    RetiredAt,
    RemovedAt,
}

#[derive(DeriveIden)]
pub enum AuditEvents {
    Table,
    Id,
    At,
    Kind,
    UserId,
    ClientId,
    Ip,
    Detail,
}

// Small column helpers: every column says whether it may be NULL, because
// SQLite would otherwise accept NULL even in a TEXT primary key.
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
fn time(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}
fn time_null(col: impl IntoIden + 'static) -> ColumnDef {
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
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(text_pk(Users::Id))
                    .col(text(Users::Username).unique_key())
                    .col(text(Users::PasswordHash))
                    .col(text_null(Users::Name))
                    .col(text_null(Users::Email))
                    .col(
                        ColumnDef::new(Users::Disabled)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(time(Users::CreatedAt))
                    .col(time(Users::PasswordChangedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(text_pk(Clients::Id))
                    .col(text(Clients::Name))
                    .col(text(Clients::AuthMethod))
                    .col(text_null(Clients::SecretHash))
                    .col(time_null(Clients::SecretExpiresAt))
                    .col(text_null(Clients::PreviousSecretHash))
                    .col(time_null(Clients::PreviousSecretExpiresAt))
                    .col(text(Clients::RedirectUris))
                    .col(text(Clients::PostLogoutRedirectUris))
                    .col(text(Clients::GrantTypes))
                    .col(text(Clients::Scope))
                    .col(text_null(Clients::BackchannelLogoutUri))
                    .col(text_null(Clients::IdTokenSignedResponseAlg))
                    .col(text(Clients::AllowedCorsOrigins))
                    .col(time(Clients::CreatedAt))
                    .col(time(Clients::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BrowserSessions::Table)
                    .col(text_pk(BrowserSessions::Id))
                    .col(text(BrowserSessions::UserId))
                    .col(text(BrowserSessions::TokenHash).unique_key())
                    .col(time(BrowserSessions::CreatedAt))
                    .col(time(BrowserSessions::LastSeenAt))
                    .col(time(BrowserSessions::AuthTime))
                    .col(text_null(BrowserSessions::UserAgent))
                    .col(text_null(BrowserSessions::Ip))
                    .col(time_null(BrowserSessions::EndedAt))
                    .foreign_key(&mut cascade_fk(
                        "fk_browser_sessions_user",
                        (BrowserSessions::Table, BrowserSessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_browser_sessions_user_id",
                BrowserSessions::Table,
                BrowserSessions::UserId,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PendingAuthorizations::Table)
                    .col(text_pk(PendingAuthorizations::Id))
                    .col(text(PendingAuthorizations::ClientId))
                    .col(text(PendingAuthorizations::Query))
                    .col(text_null(PendingAuthorizations::SessionId))
                    .col(time(PendingAuthorizations::CreatedAt))
                    .col(time(PendingAuthorizations::ExpiresAt))
                    .foreign_key(&mut cascade_fk(
                        "fk_pending_authorizations_client",
                        (
                            PendingAuthorizations::Table,
                            PendingAuthorizations::ClientId,
                        ),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_pending_authorizations_expires_at",
                PendingAuthorizations::Table,
                PendingAuthorizations::ExpiresAt,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(text_pk(AuthorizationCodes::CodeHash))
                    .col(text(AuthorizationCodes::ClientId))
                    .col(text(AuthorizationCodes::UserId))
                    .col(text(AuthorizationCodes::SessionId))
                    .col(text(AuthorizationCodes::RedirectUri))
                    .col(text(AuthorizationCodes::CodeChallenge))
                    .col(text_null(AuthorizationCodes::Nonce))
                    .col(text(AuthorizationCodes::Scope))
                    .col(time(AuthorizationCodes::AuthTime))
                    .col(time(AuthorizationCodes::CreatedAt))
                    .col(time(AuthorizationCodes::ExpiresAt))
                    .col(time_null(AuthorizationCodes::ConsumedAt))
                    .col(text_null(AuthorizationCodes::AccessTokenJti))
                    .col(time_null(AuthorizationCodes::AccessTokenExpiresAt))
                    .foreign_key(&mut cascade_fk(
                        "fk_authorization_codes_client",
                        (AuthorizationCodes::Table, AuthorizationCodes::ClientId),
                        (Clients::Table, Clients::Id),
                    ))
                    .foreign_key(&mut cascade_fk(
                        "fk_authorization_codes_user",
                        (AuthorizationCodes::Table, AuthorizationCodes::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_authorization_codes_expires_at",
                AuthorizationCodes::Table,
                AuthorizationCodes::ExpiresAt,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(text(Consents::UserId))
                    .col(text(Consents::ClientId))
                    .col(text(Consents::Scope))
                    .col(time(Consents::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(Consents::UserId)
                            .col(Consents::ClientId),
                    )
                    .foreign_key(&mut cascade_fk(
                        "fk_consents_user",
                        (Consents::Table, Consents::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade_fk(
                        "fk_consents_client",
                        (Consents::Table, Consents::ClientId),
                        (Clients::Table, Clients::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .col(text_pk(RevokedTokens::Jti))
                    .col(time(RevokedTokens::ExpiresAt))
                    .col(time(RevokedTokens::RevokedAt))
                    .col(text(RevokedTokens::Reason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_revoked_tokens_expires_at",
                RevokedTokens::Table,
                RevokedTokens::ExpiresAt,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(text_pk(SigningKeys::Kid))
                    .col(text(SigningKeys::Alg))
                    .col(text(SigningKeys::State))
                    // BLOB on SQLite, BYTEA on Postgres.
                    .col(
                        ColumnDef::new(SigningKeys::EncryptedPrivateKey)
                            .blob()
                            .not_null(),
                    )
                    .col(text(SigningKeys::PublicJwk))
                    .col(time(SigningKeys::CreatedAt))
                    .col(time(SigningKeys::ActivatesAt))
                    .col(time_null(SigningKeys::RetiredAt))
                    .col(time_null(SigningKeys::RemovedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(text_pk(AuditEvents::Id))
                    .col(time(AuditEvents::At))
                    .col(text(AuditEvents::Kind))
                    .col(text_null(AuditEvents::UserId))
                    .col(text_null(AuditEvents::ClientId))
                    .col(text_null(AuditEvents::Ip))
                    .col(text(AuditEvents::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_events_at",
                AuditEvents::Table,
                AuditEvents::At,
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents; dropping a table drops its indexes.
        for table in [
            AuditEvents::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            RevokedTokens::Table.into_iden(),
            Consents::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            PendingAuthorizations::Table.into_iden(),
            BrowserSessions::Table.into_iden(),
            Clients::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
