use latchkey_domain::{Groups, Role, StandardClaims, StoreResult, User, UserId, UserRepository};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{read_all, read_opt};
use crate::entities::users::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl UserRepository for SeaStore {
    async fn find_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let row = Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await
            .map_err(db_err("users.find"))?;
        read_opt(row, Model::into_domain)
    }

    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = Entity::find()
            .filter(Column::Username.eq(username))
            .one(&self.db)
            .await
            .map_err(db_err("users.find_by_username"))?;
        read_opt(row, Model::into_domain)
    }

    /// A taken username (or id) is `Conflict`.
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        Entity::insert(Model::from_domain(user)?)
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("users.insert"))?;
        Ok(())
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = Entity::find()
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("users.list"))?;
        read_all(rows, Model::into_domain)
    }

    async fn set_password(&self, id: &UserId, password_hash: &str, at: i64) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::PasswordHash, Expr::value(password_hash))
            .col_expr(Column::PasswordChangedAt, Expr::value(at))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("users.set_password"))?;
        Ok(res.rows_affected == 1)
    }

    async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::Disabled, Expr::value(disabled))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("users.set_disabled"))?;
        Ok(res.rows_affected == 1)
    }

    async fn set_user_role(&self, id: &UserId, role: Role) -> StoreResult<bool> {
        let res = Entity::update_many()
            .col_expr(Column::Role, Expr::value(role.as_str()))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("users.set_role"))?;
        Ok(res.rows_affected == 1)
    }

    async fn set_user_claims(
        &self,
        id: &UserId,
        claims: &StandardClaims,
        groups: &Groups,
        updated_at: i64,
    ) -> StoreResult<bool> {
        let (name, email, rest, group_names) = Model::claim_columns(claims, groups)?;
        let res = Entity::update_many()
            .col_expr(Column::Name, Expr::value(name))
            .col_expr(Column::Email, Expr::value(email))
            .col_expr(Column::Claims, Expr::value(rest))
            .col_expr(Column::GroupNames, Expr::value(group_names))
            .col_expr(Column::UpdatedAt, Expr::value(updated_at))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("users.set_claims"))?;
        Ok(res.rows_affected == 1)
    }

    async fn set_user_claims_if_unchanged(
        &self,
        id: &UserId,
        claims: &StandardClaims,
        expected_updated_at: i64,
        updated_at: i64,
    ) -> StoreResult<bool> {
        let (name, email, rest, _) = Model::claim_columns(claims, &Groups::default())?;
        let res = Entity::update_many()
            .col_expr(Column::Name, Expr::value(name))
            .col_expr(Column::Email, Expr::value(email))
            .col_expr(Column::Claims, Expr::value(rest))
            .col_expr(Column::UpdatedAt, Expr::value(updated_at))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::UpdatedAt.eq(expected_updated_at))
            .exec(&self.db)
            .await
            .map_err(db_err("users.set_claims_if_unchanged"))?;
        Ok(res.rows_affected == 1)
    }

    /// Sessions, codes and consents go with the user (ON DELETE CASCADE).
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        let res = Entity::delete_many()
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("users.delete"))?;
        Ok(res.rows_affected == 1)
    }
}
