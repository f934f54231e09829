//! The device authorization grant (RFC 8628): one row per device request,
//! from the device's first call until it expires (swept by housekeeping).
//! The device code is stored as its SHA-256 and the user code as a keyed
//! hash, each unique: a device code or user code names one request.
//!
//! `state` is `pending`, `approved`, `denied` or `redeemed`; the approval
//! columns (`user_id` .. `acr`) are set when the user approves and kept
//! through the redemption; `decided_at` and `redeemed_at` say when.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum DeviceAuthorizations {
    Table,
    Id,
    DeviceCodeHash,
    UserCodeHash,
    ClientId,
    Scope,
    PollInterval,
    LastPolledAt,
    State,
    UserId,
    SessionId,
    AuthTime,
    Methods,
    Acr,
    DecidedAt,
    RedeemedAt,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DeviceAuthorizations as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(D::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(D::DeviceCodeHash).text().not_null())
                    .col(ColumnDef::new(D::UserCodeHash).text().not_null())
                    .col(ColumnDef::new(D::ClientId).text().not_null())
                    .col(ColumnDef::new(D::Scope).text().not_null())
                    .col(ColumnDef::new(D::PollInterval).big_integer().not_null())
                    .col(ColumnDef::new(D::LastPolledAt).big_integer().null())
                    .col(ColumnDef::new(D::State).text().not_null())
                    .col(ColumnDef::new(D::UserId).text().null())
                    .col(ColumnDef::new(D::SessionId).text().null())
                    .col(ColumnDef::new(D::AuthTime).big_integer().null())
                    .col(ColumnDef::new(D::Methods).text().null())
                    .col(ColumnDef::new(D::Acr).text().null())
                    .col(ColumnDef::new(D::DecidedAt).big_integer().null())
                    .col(ColumnDef::new(D::RedeemedAt).big_integer().null())
                    .col(ColumnDef::new(D::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(D::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_authorizations_device_code")
                    .table(D::Table)
                    .col(D::DeviceCodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_authorizations_user_code")
                    .table(D::Table)
                    .col(D::UserCodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_authorizations_expires_at")
                    .table(D::Table)
                    .col(D::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(DeviceAuthorizations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
