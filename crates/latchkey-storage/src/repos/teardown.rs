use latchkey_domain::{
    FamilyId, RevocationKey, RevokedToken, SessionId, StoreResult, Teardown, TeardownRepository,
    TeardownResult,
};
use latchkey_protocol::ClientId;
use sea_orm::sea_query::{Expr, OnConflict, UpdateStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};

use crate::entities::{
    browser_sessions as sessions, logout_deliveries as deliveries, parse_client_id,
    refresh_families as families, revoked_tokens as revoked, session_clients,
};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl TeardownRepository for SeaStore {
    /// Every statement is a write, the first one included, so on SQLite the
    /// transaction holds the write lock from its start (see
    /// `rotate_refresh`). Sessions and families are each ended and revoked
    /// by one `UPDATE ... WHERE <still active> RETURNING id`: selecting and
    /// revoking in one statement, so the ids returned are exactly the rows
    /// this teardown changed, even with a rotation or another teardown
    /// racing it. Any failure (a duplicate delivery id, say) rolls back the
    /// whole teardown.
    async fn apply_teardown(
        &self,
        t: &Teardown,
        revocation_ttl: i64,
    ) -> StoreResult<TeardownResult> {
        let op = db_err("teardown.apply");
        let txn = self.db.begin().await.map_err(&op)?;
        let mut result = TeardownResult::default();

        if !t.end_sessions.is_empty() {
            let stmt = sessions::Entity::update_many()
                .col_expr(sessions::Column::EndedAt, Expr::value(t.now))
                .filter(sessions::Column::Id.is_in(t.end_sessions.iter().map(SessionId::as_str)))
                .filter(sessions::Column::EndedAt.is_null())
                .into_query();
            result.ended_sessions = update_returning_ids(&txn, stmt, sessions::Column::Id)
                .await
                .map_err(&op)?
                .into_iter()
                .map(SessionId::new)
                .collect();
        }

        let mut which = Condition::any();
        if !t.families_of_sessions.is_empty() {
            which = which.add(
                families::Column::SessionId
                    .is_in(t.families_of_sessions.iter().map(SessionId::as_str)),
            );
        }
        if let Some(user_id) = &t.families_of_user {
            which = which.add(families::Column::UserId.eq(user_id.as_str()));
        }
        if !t.families.is_empty() {
            which = which.add(families::Column::Id.is_in(t.families.iter().map(FamilyId::as_str)));
        }
        if !which.is_empty() {
            let stmt = families::Entity::update_many()
                .col_expr(families::Column::Revoked, Expr::value(true))
                .col_expr(families::Column::RevokedAt, Expr::value(t.now))
                .col_expr(
                    families::Column::RevokedReason,
                    Expr::value(t.reason.as_str()),
                )
                .filter(families::Column::Revoked.eq(false))
                .filter(which)
                .into_query();
            result.revoked_families = update_returning_ids(&txn, stmt, families::Column::Id)
                .await
                .map_err(&op)?
                .into_iter()
                .map(FamilyId::new)
                .collect();
        }

        let expires_at = t.now.saturating_add(revocation_ttl);
        let record = |key: RevocationKey| RevokedToken {
            key: key.to_key(),
            expires_at,
            revoked_at: t.now,
            reason: t.reason,
        };
        let records: Vec<revoked::ActiveModel> = result
            .ended_sessions
            .iter()
            .map(|id| record(RevocationKey::Session(id.clone())))
            .chain(
                result
                    .revoked_families
                    .iter()
                    .map(|id| record(RevocationKey::Family(id.clone()))),
            )
            .chain(t.revocations.iter().cloned())
            .map(|r| revoked::Model::from_domain(&r))
            .collect();
        if !records.is_empty() {
            // A key already recorded keeps its first record, as in
            // `revoke_token`.
            revoked::Entity::insert_many(records)
                .on_conflict(
                    OnConflict::column(revoked::Column::Jti)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(&op)?;
        }

        if !t.deliveries.is_empty() {
            deliveries::Entity::insert_many(
                t.deliveries.iter().map(deliveries::Model::from_domain),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        }

        txn.commit().await.map_err(&op)?;
        Ok(result)
    }

    async fn record_session_client(
        &self,
        session_id: &SessionId,
        client_id: &ClientId,
        at: i64,
    ) -> StoreResult<()> {
        let row = session_clients::ActiveModel {
            session_id: Set(session_id.as_str().to_owned()),
            client_id: Set(client_id.as_str().to_owned()),
            first_at: Set(at),
        };
        session_clients::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    session_clients::Column::SessionId,
                    session_clients::Column::ClientId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("session_clients.insert"))?;
        Ok(())
    }

    /// In the order they first appeared in the session.
    async fn session_clients(&self, session_id: &SessionId) -> StoreResult<Vec<ClientId>> {
        let ids: Vec<String> = session_clients::Entity::find()
            .select_only()
            .column(session_clients::Column::ClientId)
            .filter(session_clients::Column::SessionId.eq(session_id.as_str()))
            .order_by_asc(session_clients::Column::FirstAt)
            .order_by_asc(session_clients::Column::ClientId)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db_err("session_clients.list"))?;
        ids.iter()
            .map(|id| parse_client_id("session_clients", "client_id", id))
            .collect()
    }
}

/// Runs an UPDATE with `RETURNING <id>` and collects the ids, sorted.
/// Written with sea-query, which renders RETURNING for both SQLite (3.35+)
/// and Postgres; sea-orm's own `exec_with_returning` needs a crate feature
/// for SQLite.
async fn update_returning_ids(
    txn: &crate::gate::Txn,
    mut stmt: UpdateStatement,
    id: impl ColumnTrait,
) -> Result<Vec<String>, DbErr> {
    stmt.returning_col(id);
    let rows = txn
        .query_all(txn.get_database_backend().build(&stmt))
        .await?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}
