//! Whether an operator vouches for a client: `client_registrations.by_operator`
//! is true when the command line or the admin API created or last changed
//! the client's metadata. Latchkey then may connect to internal addresses
//! for it (its `jwks_uri`, its `backchannel_logout_uri`); for a client that
//! registered itself it connects to public addresses only.
//!
//! Existing rows are classified by who made them: a registration record
//! without a registration access token was made through the admin API,
//! and a client without any record was added on the command line, which
//! now gets one too. So every client has a record after this migration,
//! and a missing record means "no operator vouched".

use sea_orm_migration::prelude::*;

use crate::m20261124_000001_initial::Clients;
use crate::m20261124_000004_registration::ClientRegistrations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    ByOperator,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ClientRegistrations::Table)
                    .add_column(
                        ColumnDef::new(Added::ByOperator)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(ClientRegistrations::Table)
                    .value(Added::ByOperator, true)
                    .and_where(Expr::col(ClientRegistrations::RegistrationTokenHash).is_null())
                    .to_owned(),
            )
            .await?;
        let unrecorded = Query::select()
            .column(Clients::Id)
            .expr(Expr::val("[]"))
            .expr(Expr::val(true))
            .from(Clients::Table)
            .and_where(
                Expr::col(Clients::Id).not_in_subquery(
                    Query::select()
                        .column(ClientRegistrations::ClientId)
                        .from(ClientRegistrations::Table)
                        .to_owned(),
                ),
            )
            .to_owned();
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ClientRegistrations::Table)
                    .columns([
                        ClientRegistrations::ClientId.into_iden(),
                        ClientRegistrations::Contacts.into_iden(),
                        Added::ByOperator.into_iden(),
                    ])
                    .select_from(unrecorded)
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned(),
            )
            .await
    }

    /// The records the migration added stay (they are valid without the
    /// column); only the column goes.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ClientRegistrations::Table)
                    .drop_column(Added::ByOperator)
                    .to_owned(),
            )
            .await
    }
}
