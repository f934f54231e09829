//! Key rotation is coordinated through the database: at most one `next`
//! signing key per algorithm. When several instances see that a next key
//! is due at once, each generates one, and this index lets exactly one
//! insert succeed; the others get a unique violation, read the keys again
//! and find the winner's. (Promotions and retirements need no index: they
//! are conditional updates on the state a key is in.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_signing_keys_one_next_per_alg";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // sea-query cannot express a partial index; this statement is the
        // same SQL on SQLite and Postgres (both support `WHERE` on indexes).
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {INDEX} ON signing_keys (alg) WHERE state = 'next'"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {INDEX}"))
            .await?;
        Ok(())
    }
}
