use latchkey_domain::{
    FamilyId, FamilyState, RefreshFamily, RequestedClaims, RevokeReason, SessionId, StoreError,
    UserId,
};
use latchkey_protocol::user_claims::ClaimNames;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Order, Query, SimpleExpr};
use sea_orm::{FromQueryResult, QuerySelect};

use super::refresh_tokens;

use super::{corrupt, parse_client_id, parse_scope};

const TABLE: &str = "refresh_families";

/// The family's fixed facts. Its current generation and last use are those
/// of its newest token (see [`Read`]): a rotation writes one token row and
/// nothing here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_families")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub session_id: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    /// [`ClaimNames`], space separated (migration
    /// `m20261203_000011_claims_request`).
    #[sea_orm(column_type = "Text")]
    pub userinfo_claims: String,
    #[sea_orm(column_type = "Text")]
    pub id_token_claims: String,
    pub auth_time: i64,
    /// Migration `m20261205_000014_pushed_and_bound`.
    #[sea_orm(column_type = "Text", nullable)]
    pub dpop_jkt: Option<String>,
    /// Space separated (migration `m20261205_000015_resources`).
    #[sea_orm(column_type = "Text")]
    pub resources: String,
    pub revoked: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::refresh_tokens::Entity")]
    Tokens,
}

impl Related<super::refresh_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// A family as every read returns it: the row, and the generation and
/// creation time of its newest token.
#[derive(Debug)]
pub(crate) struct Read {
    pub row: Model,
    pub generation: i64,
    pub last_used_at: i64,
}

impl FromQueryResult for Read {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Read {
            row: Model::from_query_result(res, pre)?,
            generation: res.try_get(pre, "generation")?,
            last_used_at: res.try_get(pre, "last_used_at")?,
        })
    }
}

impl Read {
    /// `SELECT refresh_families.*, <newest generation>, <newest created_at>`.
    pub(crate) fn select() -> Select<Entity> {
        Entity::find()
            .expr_as(
                newest_token(refresh_tokens::Column::Generation),
                "generation",
            )
            .expr_as(
                newest_token(refresh_tokens::Column::CreatedAt),
                "last_used_at",
            )
    }

    pub(crate) fn into_domain(self) -> Result<RefreshFamily, StoreError> {
        let m = self.row;
        Ok(RefreshFamily {
            id: FamilyId::new(m.id),
            user_id: UserId::new(m.user_id),
            client_id: parse_client_id(TABLE, "client_id", &m.client_id)?,
            session_id: SessionId::new(m.session_id),
            scope: parse_scope(TABLE, "scope", &m.scope)?,
            claims: RequestedClaims {
                userinfo: ClaimNames::from_stored(&m.userinfo_claims),
                id_token: ClaimNames::from_stored(&m.id_token_claims),
            },
            auth_time: m.auth_time,
            dpop_jkt: super::parse_jkt(TABLE, m.dpop_jkt)?,
            resources: super::parse_resources(TABLE, &m.resources)?,
            generation: self.generation,
            state: family_state(m.revoked, m.revoked_at, m.revoked_reason.as_deref())?,
            created_at: m.created_at,
            last_used_at: self.last_used_at,
            expires_at: m.expires_at,
        })
    }
}

/// The state columns as one [`FamilyState`]: a revoked row has both a time
/// and a reason, an active row neither.
fn family_state(
    revoked: bool,
    at: Option<i64>,
    reason: Option<&str>,
) -> Result<FamilyState, StoreError> {
    match (revoked, at, reason) {
        (false, None, None) => Ok(FamilyState::Active),
        (true, Some(at), Some(reason)) => Ok(FamilyState::Revoked {
            at,
            reason: RevokeReason::parse(reason)
                .map_err(|_| corrupt(TABLE, "revoked_reason", "unknown reason"))?,
        }),
        _ => Err(corrupt(
            TABLE,
            "revoked",
            "revoked, revoked_at and revoked_reason disagree",
        )),
    }
}

/// The state as the three columns `revoked`, `revoked_at`, `revoked_reason`.
pub(crate) fn state_columns(s: FamilyState) -> (bool, Option<i64>, Option<&'static str>) {
    match s {
        FamilyState::Active => (false, None, None),
        FamilyState::Revoked { at, reason } => (true, Some(at), Some(reason.as_str())),
    }
}

/// `col` of the family's newest token, as a subquery correlated with
/// `refresh_families.id`. The unique `(family_id, generation)` index serves
/// it with one backward index step, however long the family's chain.
pub(crate) fn newest_token(col: refresh_tokens::Column) -> SimpleExpr {
    let n = Alias::new("newest");
    SimpleExpr::SubQuery(
        None,
        Box::new(
            Query::select()
                .column((n.clone(), col))
                .from_as(refresh_tokens::Entity, n.clone())
                .and_where(
                    Expr::col((n.clone(), refresh_tokens::Column::FamilyId))
                        .equals((Entity, Column::Id)),
                )
                .order_by((n, refresh_tokens::Column::Generation), Order::Desc)
                .limit(1)
                .to_owned()
                .into_sub_query_statement(),
        ),
    )
}
