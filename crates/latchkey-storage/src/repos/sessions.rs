use latchkey_domain::{BrowserSession, SessionRepository, StoreResult};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::{read_all, read_opt};
use crate::entities::browser_sessions::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl SessionRepository for SeaStore {
    async fn insert_session(&self, session: &BrowserSession) -> StoreResult<()> {
        Entity::insert(Model::from_domain(session))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("browser_sessions.insert"))?;
        Ok(())
    }

    async fn find_active_session(&self, token_hash: &str) -> StoreResult<Option<BrowserSession>> {
        let row = Entity::find()
            .filter(Column::TokenHash.eq(token_hash))
            .filter(Column::EndedAt.is_null())
            .one(&self.db)
            .await
            .map_err(db_err("browser_sessions.find_active"))?;
        read_opt(row, Model::into_domain)
    }

    async fn find_session(&self, id: &str) -> StoreResult<Option<BrowserSession>> {
        let row = Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err("browser_sessions.find"))?;
        read_opt(row, Model::into_domain)
    }

    /// Ended sessions are left as they ended.
    async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()> {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(at))
            .filter(Column::Id.eq(id))
            .filter(Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.touch"))?;
        Ok(())
    }

    /// Only an active session ends, so of two concurrent logouts exactly
    /// one sees `true` (and sends the back-channel logouts).
    async fn end_session(&self, id: &str, at: i64) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::EndedAt, Expr::value(at))
            .filter(Column::Id.eq(id))
            .filter(Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.end"))?;
        Ok(res.rows_affected == 1)
    }

    async fn list_active_sessions(&self, user_id: &str) -> StoreResult<Vec<BrowserSession>> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(Column::EndedAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("browser_sessions.list_for_user"))?;
        read_all(rows, Model::into_domain)
    }

    /// Their `session_clients` rows go with them (ON DELETE CASCADE).
    async fn sweep_sessions(&self, ended_before: i64, started_before: i64) -> StoreResult<u64> {
        let res = Entity::delete_many()
            .filter(
                Condition::any()
                    .add(Column::EndedAt.lt(ended_before))
                    .add(Column::CreatedAt.lt(started_before)),
            )
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.sweep"))?;
        Ok(res.rows_affected)
    }
}
