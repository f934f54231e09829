use latchkey_domain::{
    FamilyId, FamilyRepository, RefreshFamily, RefreshToken, StoreError, StoreResult, TokenHash,
    UserId,
};
use sea_orm::sea_query::{Alias, Expr, InsertStatement, OnConflict, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    QueryFilter, QueryOrder, QuerySelect, Value,
};

use super::{read_all, read_opt};
use crate::entities::refresh_families::{newest_token, Read as FamilyRead};
use crate::entities::refresh_tokens::successor_created;
use crate::entities::{
    browser_sessions as sessions, refresh_families as families, refresh_tokens as tokens,
};
use crate::error::db_err;
use crate::prepared::{Param, Prepared};
use crate::SeaStore;

/// A token as read: its row and when it was used (its successor's creation).
#[derive(Debug)]
struct TokenRead {
    row: tokens::Model,
    used_at: Option<i64>,
}

impl FromQueryResult for TokenRead {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(TokenRead {
            row: tokens::Model::from_query_result(res, pre)?,
            used_at: res.try_get(pre, "used_at")?,
        })
    }
}

#[async_trait::async_trait]
impl FamilyRepository for SeaStore {
    /// The family is inserted only while its browser session is live, in
    /// the same statement that checks it: a logout either commits first
    /// (nothing is inserted) or finds the family when it revokes the
    /// session's families. On Postgres the check takes a share lock on the
    /// session row, so a teardown's `UPDATE` of that session waits for this
    /// transaction and its next statement sees the new family; SQLite has
    /// one writer, and the first statement here is a write.
    async fn create_family(
        &self,
        family: &RefreshFamily,
        first: &RefreshToken,
    ) -> StoreResult<bool> {
        if first.family_id != family.id || first.generation != 0 {
            return Err(StoreError::Other(
                "refresh_families.create: the first token must be generation 0 of the family"
                    .into(),
            ));
        }
        let op = db_err("refresh_families.create");
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(&op)?;
        let insert = create_family_while_live(family)?;
        let res = txn.execute(backend.build(&insert)).await.map_err(&op)?;
        if res.rows_affected() != 1 {
            txn.rollback().await.map_err(&op)?;
            return Ok(false);
        }
        tokens::Entity::insert(tokens::Model::from_domain(first))
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)?;
        Ok(true)
    }

    /// One query, so the token, its successor and the family's newest token
    /// are read from the same snapshot. Columns come back as `t_*` (the
    /// token) and `f_*` (the family).
    async fn find_refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshToken, RefreshFamily)>> {
        let op = db_err("refresh_tokens.find");
        let statement = self
            .refresh_statements
            .find_refresh_token
            .bind([token_hash.as_str().into()])?;
        let Some(row) = self.db.query_one(statement).await.map_err(&op)? else {
            return Ok(None);
        };
        let token = tokens::Model::from_query_result(&row, "t_").map_err(&op)?;
        let family = FamilyRead::from_query_result(&row, "f_").map_err(&op)?;
        let used_at: Option<i64> = row.try_get("", "used_at").map_err(&op)?;
        Ok(Some((token.into_domain(used_at)?, family.into_domain()?)))
    }

    async fn find_family_token(
        &self,
        family_id: &FamilyId,
        generation: i64,
    ) -> StoreResult<Option<RefreshToken>> {
        let row = tokens::Entity::find()
            .filter(tokens::Column::FamilyId.eq(family_id.as_str()))
            .filter(tokens::Column::Generation.eq(generation))
            .expr_as(successor_created(), "used_at")
            .into_model::<TokenRead>()
            .one(&self.db)
            .await
            .map_err(db_err("refresh_tokens.find_generation"))?;
        read_opt(row, |t| t.row.into_domain(t.used_at))
    }

    async fn find_family(&self, family_id: &FamilyId) -> StoreResult<Option<RefreshFamily>> {
        let row = FamilyRead::select()
            .filter(families::Column::Id.eq(family_id.as_str()))
            .into_model::<FamilyRead>()
            .one(&self.db)
            .await
            .map_err(db_err("refresh_families.find"))?;
        read_opt(row, FamilyRead::into_domain)
    }

    /// One statement, no transaction: `next` is inserted only if
    /// `consumed` is this family's token of generation `seen` and the
    /// family is unrevoked; `ON CONFLICT DO NOTHING` on the unique
    /// `(family_id, generation)` index refuses it if generation `seen + 1`
    /// already exists. Of concurrent rotations of one token, the index
    /// admits exactly one (on Postgres a second inserter waits for the
    /// first to commit, then does nothing; SQLite has one writer).
    ///
    /// A revocation that committed before this statement began is seen by
    /// it: nothing is inserted. One that commits while it runs is ordered
    /// after it, and the token it inserts belongs to a revoked family.
    async fn rotate_refresh(
        &self,
        family_id: &FamilyId,
        seen: i64,
        consumed: &TokenHash,
        next: &RefreshToken,
    ) -> StoreResult<bool> {
        if next.family_id != *family_id || Some(next.generation) != seen.checked_add(1) {
            return Err(StoreError::Other(
                "refresh_tokens.rotate: the next token must be generation seen + 1 of the same family"
                    .into(),
            ));
        }
        let op = db_err("refresh_tokens.rotate");
        let statement = self.refresh_statements.rotate_refresh.bind([
            next.token_hash.as_str().into(),
            family_id.as_str().into(),
            next.generation.into(),
            next.created_at.into(),
            next.access_token_jti.as_str().into(),
            next.access_token_expires_at.into(),
            consumed.as_str().into(),
            seen.into(),
        ])?;
        let res = self.db.execute(statement).await.map_err(&op)?;
        Ok(res.rows_affected() == 1)
    }

    /// Newest first.
    async fn list_user_families(&self, user_id: &UserId) -> StoreResult<Vec<RefreshFamily>> {
        let rows = FamilyRead::select()
            .filter(families::Column::UserId.eq(user_id.as_str()))
            .order_by_desc(families::Column::CreatedAt)
            .order_by_desc(families::Column::Id)
            .into_model::<FamilyRead>()
            .all(&self.db)
            .await
            .map_err(db_err("refresh_families.list_user"))?;
        read_all(rows, FamilyRead::into_domain)
    }
}

/// The statements of a refresh, built once per backend (see
/// [`crate::prepared`]).
#[derive(Debug)]
pub(crate) struct FamilyStatements {
    find_refresh_token: Prepared<1>,
    rotate_refresh: Prepared<8>,
}

impl FamilyStatements {
    pub(crate) fn new(backend: DbBackend) -> StoreResult<Self> {
        Ok(FamilyStatements {
            find_refresh_token: Prepared::new(
                backend,
                "refresh_tokens.find",
                [Param::Text],
                |[token_hash]| Ok(find_refresh_token(token_hash)),
            )?,
            rotate_refresh: Prepared::new(
                backend,
                "refresh_tokens.rotate",
                [
                    Param::Text,
                    Param::Text,
                    Param::Int,
                    Param::Int,
                    Param::Text,
                    Param::Int,
                    Param::Text,
                    Param::Int,
                ],
                |[hash, family_id, generation, created_at, jti, expires_at, consumed, seen]| {
                    rotate_refresh(
                        [
                            hash,
                            family_id.clone(),
                            generation,
                            created_at,
                            jti,
                            expires_at,
                        ],
                        family_id,
                        consumed,
                        seen,
                    )
                },
            )?,
        })
    }
}

/// The token of `token_hash` with its family, its successor's creation
/// (`used_at`) and the family's newest generation and last use.
fn find_refresh_token(token_hash: Value) -> SelectStatement {
    let mut q = Query::select();
    for c in tokens::Column::iter() {
        q.expr_as(
            Expr::col((tokens::Entity, c)),
            Alias::new(format!("t_{}", c.as_str())),
        );
    }
    for c in families::Column::iter() {
        q.expr_as(
            Expr::col((families::Entity, c)),
            Alias::new(format!("f_{}", c.as_str())),
        );
    }
    q.expr_as(
        newest_token(tokens::Column::Generation),
        Alias::new("f_generation"),
    )
    .expr_as(
        newest_token(tokens::Column::CreatedAt),
        Alias::new("f_last_used_at"),
    )
    .expr_as(successor_created(), Alias::new("used_at"))
    .from(tokens::Entity)
    .inner_join(
        families::Entity,
        Expr::col((families::Entity, families::Column::Id))
            .equals((tokens::Entity, tokens::Column::FamilyId)),
    )
    .and_where(Expr::col((tokens::Entity, tokens::Column::TokenHash)).eq(token_hash));
    q
}

/// `INSERT INTO refresh_families ... SELECT <the family> WHERE EXISTS (<its
/// session, not ended> FOR SHARE)`.
fn create_family_while_live(f: &RefreshFamily) -> StoreResult<InsertStatement> {
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(sessions::Entity)
        .and_where(sessions::Column::Id.eq(f.session_id.as_str()))
        .and_where(sessions::Column::EndedAt.is_null())
        .lock_shared()
        .to_owned();
    let (revoked, revoked_at, revoked_reason) = families::state_columns(f.state);
    let values: [Value; 15] = [
        f.id.as_str().into(),
        f.user_id.as_str().into(),
        f.client_id.as_str().into(),
        f.session_id.as_str().into(),
        f.scope.to_string().into(),
        f.claims.userinfo.to_string().into(),
        f.claims.id_token.to_string().into(),
        f.auth_time.into(),
        f.dpop_jkt.as_ref().map(|j| j.as_str().to_owned()).into(),
        f.resources.to_stored().into(),
        revoked.into(),
        f.created_at.into(),
        f.expires_at.into(),
        revoked_at.into(),
        revoked_reason.into(),
    ];
    let select = Query::select()
        .exprs(values.map(Expr::val))
        .and_where(Expr::exists(live_session))
        .to_owned();
    Ok(Query::insert()
        .into_table(families::Entity)
        .columns([
            families::Column::Id,
            families::Column::UserId,
            families::Column::ClientId,
            families::Column::SessionId,
            families::Column::Scope,
            families::Column::UserinfoClaims,
            families::Column::IdTokenClaims,
            families::Column::AuthTime,
            families::Column::DpopJkt,
            families::Column::Resources,
            families::Column::Revoked,
            families::Column::CreatedAt,
            families::Column::ExpiresAt,
            families::Column::RevokedAt,
            families::Column::RevokedReason,
        ])
        .select_from(select)
        .map_err(|e| StoreError::Other(format!("refresh_families.create: {e}")))?
        .to_owned())
}

/// Inserts the token of `next` (hash, family, generation, creation, access
/// token id and expiry) if `consumed` is generation `seen` of `family_id`
/// and the family is unrevoked.
fn rotate_refresh(
    next: [Value; 6],
    family_id: Value,
    consumed: Value,
    seen: Value,
) -> StoreResult<InsertStatement> {
    let p = Alias::new("consumed");
    let values = Query::select()
        .exprs(next.map(Expr::val))
        .from_as(tokens::Entity, p.clone())
        .inner_join(
            families::Entity,
            Expr::col((families::Entity, families::Column::Id))
                .equals((p.clone(), tokens::Column::FamilyId)),
        )
        .and_where(Expr::col((p.clone(), tokens::Column::TokenHash)).eq(consumed))
        .and_where(Expr::col((p.clone(), tokens::Column::FamilyId)).eq(family_id))
        .and_where(Expr::col((p, tokens::Column::Generation)).eq(seen))
        .and_where(Expr::col((families::Entity, families::Column::Revoked)).eq(false))
        .to_owned();
    Ok(Query::insert()
        .into_table(tokens::Entity)
        .columns([
            tokens::Column::TokenHash,
            tokens::Column::FamilyId,
            tokens::Column::Generation,
            tokens::Column::CreatedAt,
            tokens::Column::AccessTokenJti,
            tokens::Column::AccessTokenExpiresAt,
        ])
        .select_from(values)
        .map_err(|e| StoreError::Other(format!("refresh_tokens.rotate: {e}")))?
        .on_conflict(
            OnConflict::columns([tokens::Column::FamilyId, tokens::Column::Generation])
                .do_nothing()
                .to_owned(),
        )
        .to_owned())
}
