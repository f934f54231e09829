use latchkey_domain::keys::{KeyState, SigningKeyRecord};
use latchkey_domain::{KeyRepository, Kid, StoreError, StoreResult};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::read_all;
use crate::entities::signing_keys::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl KeyRepository for SeaStore {
    async fn list_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = Entity::find()
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Kid)
            .all(&self.db)
            .await
            .map_err(db_err("signing_keys.list"))?;
        read_all(rows, Model::into_domain)
    }

    async fn insert_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        Entity::insert(Model::from_domain(key))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("signing_keys.insert"))?;
        Ok(())
    }

    /// `INSERT ... SELECT ... WHERE NOT EXISTS (...)`: the check and the
    /// insert are one statement. The partial unique index on next keys
    /// (`idx_signing_keys_one_next_per_alg`) backs it up where two such
    /// statements run at once.
    async fn insert_next_key(
        &self,
        key: &SigningKeyRecord,
        after: Option<&Kid>,
    ) -> StoreResult<bool> {
        if key.state != KeyState::Next {
            return Err(StoreError::Other(
                "signing_keys.insert_next: the key is not in state next".into(),
            ));
        }
        // Rows that mean the caller's view is stale: a next key of this
        // algorithm, or a current one other than `after`.
        let mut stale = Query::select();
        stale
            .expr(Expr::val(1))
            .from(Entity)
            .and_where(Column::Alg.eq(key.alg.as_str()))
            .and_where(
                Column::State.eq(KeyState::Next.as_str()).or(Column::State
                    .eq(KeyState::Current.as_str())
                    .and(Column::Kid.ne(after.map_or("", Kid::as_str)))),
            );
        let mut row = Query::select();
        row.exprs([
            Expr::val(key.kid.as_str()),
            Expr::val(key.alg.as_str()),
            Expr::val(KeyState::Next.as_str()),
            Expr::val(key.encrypted_private_key.clone()),
            Expr::val(key.public_jwk.as_str()),
            Expr::val(key.created_at),
            Expr::val(key.activates_at),
        ])
        .and_where(Expr::exists(stale).not());
        if let Some(after) = after {
            let mut signing = Query::select();
            signing
                .expr(Expr::val(1))
                .from(Entity)
                .and_where(Column::Kid.eq(after.as_str()))
                .and_where(Column::State.eq(KeyState::Current.as_str()));
            row.and_where(Expr::exists(signing));
        }
        let mut insert = Query::insert();
        insert
            .into_table(Entity)
            .columns([
                Column::Kid,
                Column::Alg,
                Column::State,
                Column::EncryptedPrivateKey,
                Column::PublicJwk,
                Column::CreatedAt,
                Column::ActivatesAt,
            ])
            .select_from(row)
            .map_err(|e| StoreError::Other(format!("signing_keys.insert_next: {e}")))?;
        let statement = self.db.get_database_backend().build(&insert);
        match self.db.execute(statement).await {
            Ok(res) => Ok(res.rows_affected() == 1),
            Err(e) => match db_err("signing_keys.insert_next")(e) {
                // Another instance's concurrent insert won.
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Guarded by the current state, so when several instances rotate at
    /// once only one moves each key. A promotion records when the key
    /// really started signing as its `activates_at` (the next key is
    /// scheduled from it).
    async fn transition_key(
        &self,
        kid: &Kid,
        from: KeyState,
        to: KeyState,
        at: i64,
    ) -> StoreResult<bool> {
        let mut update = Entity::update_many().col_expr(Column::State, Expr::value(to.as_str()));
        update = match to {
            KeyState::Retired => update.col_expr(Column::RetiredAt, Expr::value(at)),
            KeyState::Removed | KeyState::Revoked => {
                update.col_expr(Column::RemovedAt, Expr::value(at))
            }
            KeyState::Current => update.col_expr(Column::ActivatesAt, Expr::value(at)),
            KeyState::Next => update,
        };
        let res = update
            .filter(Column::Kid.eq(kid.as_str()))
            .filter(Column::State.eq(from.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("signing_keys.transition"))?;
        Ok(res.rows_affected == 1)
    }
}
