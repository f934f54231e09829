//! A refresh rotation becomes one conditional INSERT. The family's state is
//! its newest token: the current generation is the highest generation among
//! its tokens, its last use that token's creation time, and a token has been
//! used exactly when its successor exists. The columns that repeated those
//! facts, and had to be written on every rotation, go:
//! `refresh_families.generation`, `refresh_families.last_used_at` and
//! `refresh_tokens.used_at`. Nothing is lost: each is derived from the
//! token rows, which stay.
//!
//! The unique `(family_id, generation)` index of the tokens migration is
//! what makes the INSERT single-use. Instances of an older version update
//! the dropped columns, so every instance moves to this version together.

use sea_orm_migration::prelude::*;

use crate::m20261124_000002_tokens::{RefreshFamilies, RefreshTokens};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE takes one change.
        for col in [RefreshFamilies::Generation, RefreshFamilies::LastUsedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshFamilies::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::UsedAt)
                    .to_owned(),
            )
            .await
    }

    /// Restores the columns from the token rows, so a rollback finds the
    /// same state the rotation rule derived.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let big = |col: RefreshFamilies| {
            ColumnDef::new(col)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        for col in [RefreshFamilies::Generation, RefreshFamilies::LastUsedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RefreshFamilies::Table)
                        .add_column(big(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(ColumnDef::new(RefreshTokens::UsedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // The newest token of the family, and a token's successor.
        let n = Alias::new("n");
        let newest = |col: RefreshTokens| {
            SimpleExpr::SubQuery(
                None,
                Box::new(
                    Query::select()
                        .expr(Expr::col((n.clone(), col)).max())
                        .from_as(RefreshTokens::Table, n.clone())
                        .and_where(
                            Expr::col((n.clone(), RefreshTokens::FamilyId))
                                .equals((RefreshFamilies::Table, RefreshFamilies::Id)),
                        )
                        .to_owned()
                        .into_sub_query_statement(),
                ),
            )
        };
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshFamilies::Table)
                    .value(
                        RefreshFamilies::Generation,
                        newest(RefreshTokens::Generation),
                    )
                    .value(
                        RefreshFamilies::LastUsedAt,
                        newest(RefreshTokens::CreatedAt),
                    )
                    .to_owned(),
            )
            .await?;
        let successor_created =
            SimpleExpr::SubQuery(
                None,
                Box::new(
                    Query::select()
                        .column((n.clone(), RefreshTokens::CreatedAt))
                        .from_as(RefreshTokens::Table, n.clone())
                        .and_where(
                            Expr::col((n.clone(), RefreshTokens::FamilyId))
                                .equals((RefreshTokens::Table, RefreshTokens::FamilyId)),
                        )
                        .and_where(Expr::col((n.clone(), RefreshTokens::Generation)).eq(
                            Expr::col((RefreshTokens::Table, RefreshTokens::Generation)).add(1),
                        ))
                        .to_owned()
                        .into_sub_query_statement(),
                ),
            );
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshTokens::Table)
                    .value(RefreshTokens::UsedAt, successor_created)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
