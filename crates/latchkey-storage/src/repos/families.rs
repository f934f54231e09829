use latchkey_domain::{FamilyRepository, RefreshFamily, RefreshToken, StoreError, StoreResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::{read_all, read_opt};
use crate::entities::corrupt;
use crate::entities::{refresh_families as families, refresh_tokens as tokens};
use crate::error::db_err;
use crate::SeaStore;

/// `revoked_reason` of the families the sweeper retires.
const EXPIRED: &str = "expired";

#[async_trait::async_trait]
impl FamilyRepository for SeaStore {
    async fn create_family(&self, family: &RefreshFamily, first: &RefreshToken) -> StoreResult<()> {
        let op = db_err("refresh_families.create");
        let txn = self.db.begin().await.map_err(&op)?;
        families::Entity::insert(families::Model::from_domain(family))
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        tokens::Entity::insert(tokens::Model::from_domain(first))
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)
    }

    /// One query (a join), so the token and the family are read from the
    /// same snapshot.
    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshToken, RefreshFamily)>> {
        let row = tokens::Entity::find_by_id(token_hash)
            .find_also_related(families::Entity)
            .one(&self.db)
            .await
            .map_err(db_err("refresh_tokens.find"))?;
        match row {
            None => Ok(None),
            Some((token, Some(family))) => Ok(Some((token.into_domain()?, family.into_domain()?))),
            // The foreign key makes this impossible short of a damaged file.
            Some((_, None)) => Err(corrupt("refresh_tokens", "family_id", "no such family")),
        }
    }

    async fn find_family_token(
        &self,
        family_id: &str,
        generation: i64,
    ) -> StoreResult<Option<RefreshToken>> {
        let row = tokens::Entity::find()
            .filter(tokens::Column::FamilyId.eq(family_id))
            .filter(tokens::Column::Generation.eq(generation))
            .one(&self.db)
            .await
            .map_err(db_err("refresh_tokens.find_generation"))?;
        read_opt(row, tokens::Model::into_domain)
    }

    async fn find_family(&self, family_id: &str) -> StoreResult<Option<RefreshFamily>> {
        let row = families::Entity::find_by_id(family_id)
            .one(&self.db)
            .await
            .map_err(db_err("refresh_families.find"))?;
        read_opt(row, families::Model::into_domain)
    }

    /// The rotation rule lives in two conditional UPDATEs whose affected-row
    /// counts decide, in one transaction with the insert of `next`:
    ///
    /// 1. the family moves from `seen` to `seen + 1` only while unrevoked.
    ///    It is the first statement, so on SQLite the transaction takes the
    ///    write lock at once (waiting out `busy_timeout`) and never has to
    ///    upgrade a read snapshot, which would fail with `SQLITE_BUSY`
    ///    without waiting. On Postgres it locks the family row; a concurrent
    ///    rotation or revocation waits for it and, under READ COMMITTED,
    ///    re-checks its WHERE against the committed row, so whichever
    ///    commits second sees the first's effect.
    /// 2. `consumed` is marked used only if it is this family's token of
    ///    generation `seen` and still unused.
    ///
    /// If either matches no row, nothing is written and the answer is false.
    async fn rotate_refresh(
        &self,
        family_id: &str,
        seen: i64,
        consumed: &str,
        next: &RefreshToken,
        now: i64,
    ) -> StoreResult<bool> {
        if next.family_id != family_id || Some(next.generation) != seen.checked_add(1) {
            return Err(StoreError::Other(
                "refresh_tokens.rotate: the next token must be generation seen + 1 of the same family"
                    .into(),
            ));
        }
        let op = db_err("refresh_tokens.rotate");
        let txn = self.db.begin().await.map_err(&op)?;
        let advanced = families::Entity::update_many()
            .col_expr(families::Column::Generation, Expr::value(next.generation))
            .col_expr(families::Column::LastUsedAt, Expr::value(now))
            .filter(families::Column::Id.eq(family_id))
            .filter(families::Column::Generation.eq(seen))
            .filter(families::Column::Revoked.eq(false))
            .exec(&txn)
            .await
            .map_err(&op)?;
        if advanced.rows_affected != 1 {
            txn.rollback().await.map_err(&op)?;
            return Ok(false);
        }
        let used = tokens::Entity::update_many()
            .col_expr(tokens::Column::UsedAt, Expr::value(now))
            .filter(tokens::Column::TokenHash.eq(consumed))
            .filter(tokens::Column::FamilyId.eq(family_id))
            .filter(tokens::Column::Generation.eq(seen))
            .filter(tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .map_err(&op)?;
        if used.rows_affected != 1 {
            txn.rollback().await.map_err(&op)?;
            return Ok(false);
        }
        tokens::Entity::insert(tokens::Model::from_domain(next))
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)?;
        Ok(true)
    }

    /// Newest first.
    async fn list_user_families(&self, user_id: &str) -> StoreResult<Vec<RefreshFamily>> {
        let rows = families::Entity::find()
            .filter(families::Column::UserId.eq(user_id))
            .order_by_desc(families::Column::CreatedAt)
            .order_by_desc(families::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("refresh_families.list_user"))?;
        read_all(rows, families::Model::into_domain)
    }

    /// Two independent statements: each is atomic, and a crash between them
    /// leaves work for the next sweep, nothing wrong. The revocation uses the
    /// same limits as `RefreshFamily::unusable`.
    async fn sweep_families(
        &self,
        now: i64,
        idle_timeout: i64,
        purge_before: i64,
    ) -> StoreResult<u64> {
        let revoked = families::Entity::update_many()
            .col_expr(families::Column::Revoked, Expr::value(true))
            .col_expr(families::Column::RevokedAt, Expr::value(now))
            .col_expr(families::Column::RevokedReason, Expr::value(EXPIRED))
            .filter(families::Column::Revoked.eq(false))
            .filter(
                Condition::any()
                    .add(families::Column::ExpiresAt.lte(now))
                    .add(families::Column::LastUsedAt.lt(now.saturating_sub(idle_timeout))),
            )
            .exec(&self.db)
            .await
            .map_err(db_err("refresh_families.sweep_revoke"))?;
        // Their tokens go with them (ON DELETE CASCADE).
        let purged = families::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(families::Column::Revoked.eq(true))
                            .add(families::Column::RevokedAt.lt(purge_before)),
                    )
                    .add(families::Column::ExpiresAt.lt(purge_before)),
            )
            .exec(&self.db)
            .await
            .map_err(db_err("refresh_families.sweep_purge"))?;
        Ok(revoked.rows_affected + purged.rows_affected)
    }
}
