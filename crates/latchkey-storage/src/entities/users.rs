use latchkey_domain::{StoreError, User, UserId};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text", unique)]
    pub username: String,
    #[sea_orm(column_type = "Text")]
    pub password_hash: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub email: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

// Hand-written so the password hash stays out of logs, as in `User`.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("users::Model")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            id: UserId::new(self.id),
            username: self.username,
            password_hash: self.password_hash,
            name: self.name,
            email: self.email,
            disabled: self.disabled,
            created_at: self.created_at,
            password_changed_at: self.password_changed_at,
        })
    }

    pub(crate) fn from_domain(u: &User) -> ActiveModel {
        ActiveModel {
            id: Set(u.id.as_str().to_owned()),
            username: Set(u.username.clone()),
            password_hash: Set(u.password_hash.clone()),
            name: Set(u.name.clone()),
            email: Set(u.email.clone()),
            disabled: Set(u.disabled),
            created_at: Set(u.created_at),
            password_changed_at: Set(u.password_changed_at),
        }
    }
}
