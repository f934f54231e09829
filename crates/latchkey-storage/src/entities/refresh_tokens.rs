use latchkey_domain::{FamilyId, Jti, RefreshToken, StoreError, TokenHash};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::Set;

/// One token of a family. A token has been used exactly when the token of
/// the next generation exists; the unique `(family_id, generation)` index
/// makes that a single-use fact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// SHA-256 of the token; the token itself is never stored.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub token_hash: String,
    #[sea_orm(column_type = "Text")]
    pub family_id: String,
    pub generation: i64,
    pub created_at: i64,
    #[sea_orm(column_type = "Text")]
    pub access_token_jti: String,
    pub access_token_expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::refresh_families::Entity",
        from = "Column::FamilyId",
        to = "super::refresh_families::Column::Id"
    )]
    Family,
}

impl Related<super::refresh_families::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Family.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// `used_at` is the creation time of the successor, if there is one.
    pub(crate) fn into_domain(self, used_at: Option<i64>) -> Result<RefreshToken, StoreError> {
        Ok(RefreshToken {
            token_hash: TokenHash::new(self.token_hash),
            family_id: FamilyId::new(self.family_id),
            generation: self.generation,
            created_at: self.created_at,
            used_at,
            access_token_jti: Jti::new(self.access_token_jti),
            access_token_expires_at: self.access_token_expires_at,
        })
    }

    pub(crate) fn from_domain(t: &RefreshToken) -> ActiveModel {
        ActiveModel {
            token_hash: Set(t.token_hash.as_str().to_owned()),
            family_id: Set(t.family_id.as_str().to_owned()),
            generation: Set(t.generation),
            created_at: Set(t.created_at),
            access_token_jti: Set(t.access_token_jti.as_str().to_owned()),
            access_token_expires_at: Set(t.access_token_expires_at),
        }
    }
}

/// `created_at` of the token that follows `refresh_tokens` in its family:
/// when that token was used, if it was.
pub(crate) fn successor_created() -> SimpleExpr {
    let s = Alias::new("successor");
    SimpleExpr::SubQuery(
        None,
        Box::new(
            Query::select()
                .column((s.clone(), Column::CreatedAt))
                .from_as(Entity, s.clone())
                .and_where(
                    Expr::col((s.clone(), Column::FamilyId)).equals((Entity, Column::FamilyId)),
                )
                .and_where(
                    Expr::col((s, Column::Generation))
                        .eq(Expr::col((Entity, Column::Generation)).add(1)),
                )
                .to_owned()
                .into_sub_query_statement(),
        ),
    )
}
