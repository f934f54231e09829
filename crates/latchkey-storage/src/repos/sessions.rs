use latchkey_domain::{
    BrowserSession, SessionId, SessionRepository, StoreError, StoreResult, TokenHash, UserId,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Value};

use super::{read_all, read_opt};
use crate::entities::browser_sessions::{Column, Entity, Model};
use crate::entities::users;
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

    /// One statement: `INSERT ... SELECT <the session> WHERE EXISTS (<the
    /// user, enabled, with this hash> FOR SHARE)`. A password change either
    /// committed first (nothing inserted) or waits for this insert on the
    /// user row's lock, and its teardown, which lists the user's sessions
    /// after the change, then ends this one.
    async fn open_session_if_current(
        &self,
        s: &BrowserSession,
        verified_hash: &str,
    ) -> StoreResult<bool> {
        let op = db_err("browser_sessions.open");
        let current_user = Query::select()
            .expr(Expr::val(1))
            .from(users::Entity)
            .and_where(users::Column::Id.eq(s.user_id.as_str()))
            .and_where(users::Column::PasswordHash.eq(verified_hash))
            .and_where(users::Column::Disabled.eq(false))
            .lock_shared()
            .to_owned();
        let values: [Value; 10] = [
            s.id.as_str().into(),
            s.user_id.as_str().into(),
            s.token_hash.as_str().into(),
            s.created_at.into(),
            s.last_seen_at.into(),
            s.auth_time.into(),
            s.methods.to_string().into(),
            s.user_agent.clone().into(),
            s.ip.clone().into(),
            s.ended_at.into(),
        ];
        let select = Query::select()
            .exprs(values.map(Expr::val))
            .and_where(Expr::exists(current_user))
            .to_owned();
        let insert = Query::insert()
            .into_table(Entity)
            .columns([
                Column::Id,
                Column::UserId,
                Column::TokenHash,
                Column::CreatedAt,
                Column::LastSeenAt,
                Column::AuthTime,
                Column::Methods,
                Column::UserAgent,
                Column::Ip,
                Column::EndedAt,
            ])
            .select_from(select)
            .map_err(|e| StoreError::Other(format!("browser_sessions.open: {e}")))?
            .to_owned();
        let backend = self.db.get_database_backend();
        let res = self.db.execute(backend.build(&insert)).await.map_err(&op)?;
        Ok(res.rows_affected() == 1)
    }

    async fn find_active_session(
        &self,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<BrowserSession>> {
        let row = Entity::find()
            .filter(Column::TokenHash.eq(token_hash.as_str()))
            .filter(Column::EndedAt.is_null())
            .one(&self.db)
            .await
            .map_err(db_err("browser_sessions.find_active"))?;
        read_opt(row, Model::into_domain)
    }

    async fn find_session(&self, id: &SessionId) -> StoreResult<Option<BrowserSession>> {
        let row = Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await
            .map_err(db_err("browser_sessions.find"))?;
        read_opt(row, Model::into_domain)
    }

    /// Ended sessions are left as they ended.
    async fn touch_session(&self, id: &SessionId, at: i64) -> StoreResult<()> {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(at))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.touch"))?;
        Ok(())
    }

    /// Only an active session ends, so of two concurrent logouts exactly
    /// one sees `true` (and sends the back-channel logouts).
    async fn end_session(&self, id: &SessionId, at: i64) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::EndedAt, Expr::value(at))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.end"))?;
        Ok(res.rows_affected == 1)
    }

    async fn raise_session(
        &self,
        id: &SessionId,
        methods: latchkey_domain::Methods,
        auth_time: i64,
    ) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::Methods, Expr::value(methods.to_string()))
            .col_expr(Column::AuthTime, Expr::value(auth_time))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::EndedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("browser_sessions.raise"))?;
        Ok(res.rows_affected == 1)
    }

    async fn list_active_sessions(&self, user_id: &UserId) -> StoreResult<Vec<BrowserSession>> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user_id.as_str()))
            .filter(Column::EndedAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("browser_sessions.list_for_user"))?;
        read_all(rows, Model::into_domain)
    }
}
