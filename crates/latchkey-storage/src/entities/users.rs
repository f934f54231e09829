use latchkey_domain::{Groups, Role, StandardClaims, StoreError, User, UserId};
use latchkey_protocol::user_claims::{ClaimText, Email};
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
    /// The other standard claims, a JSON object.
    #[sea_orm(column_type = "Text")]
    pub claims: String,
    /// A JSON array of group names.
    #[sea_orm(column_type = "Text")]
    pub group_names: String,
    pub disabled: bool,
    /// `user` or `admin` ([`Role`]).
    #[sea_orm(column_type = "Text")]
    pub role: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub updated_at: i64,
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
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("users.{what} of {}: {e}", self.id))
        };
        let mut claims: StandardClaims =
            serde_json::from_str(&self.claims).map_err(|e| corrupt("claims", &e))?;
        // `name` and `email` keep the columns they had before claims were
        // checked: a value written then, which the checks would refuse,
        // is kept as it was rather than lost.
        claims.name = self
            .name
            .clone()
            .map(|n| ClaimText::parse("name", n.clone()).unwrap_or(ClaimText::legacy(n)));
        claims.email = self
            .email
            .clone()
            .map(|e| Email::parse("email", e.clone()).unwrap_or(Email::legacy(e)));
        let groups: Groups =
            serde_json::from_str(&self.group_names).map_err(|e| corrupt("group_names", &e))?;
        let role = Role::parse(&self.role).map_err(|e| corrupt("role", &e))?;
        Ok(User {
            id: UserId::new(self.id),
            username: self.username,
            password_hash: self.password_hash,
            claims,
            groups,
            disabled: self.disabled,
            role,
            created_at: self.created_at,
            password_changed_at: self.password_changed_at,
            updated_at: self.updated_at,
        })
    }

    /// The claims as their columns: `name`, `email` and the JSON rest.
    pub(crate) fn claim_columns(
        claims: &StandardClaims,
        groups: &Groups,
    ) -> Result<(Option<String>, Option<String>, String, String), StoreError> {
        let rest = StandardClaims {
            name: None,
            email: None,
            ..claims.clone()
        };
        let json = |v: Result<String, serde_json::Error>| {
            v.map_err(|e| StoreError::Other(format!("users.claims: {e}")))
        };
        Ok((
            claims.name.as_ref().map(|n| n.as_str().to_owned()),
            claims.email.as_ref().map(|e| e.as_str().to_owned()),
            json(serde_json::to_string(&rest))?,
            json(serde_json::to_string(groups))?,
        ))
    }

    pub(crate) fn from_domain(u: &User) -> Result<ActiveModel, StoreError> {
        let (name, email, claims, group_names) = Model::claim_columns(&u.claims, &u.groups)?;
        Ok(ActiveModel {
            id: Set(u.id.as_str().to_owned()),
            username: Set(u.username.clone()),
            password_hash: Set(u.password_hash.clone()),
            name: Set(name),
            email: Set(email),
            claims: Set(claims),
            group_names: Set(group_names),
            disabled: Set(u.disabled),
            role: Set(u.role.as_str().to_owned()),
            created_at: Set(u.created_at),
            password_changed_at: Set(u.password_changed_at),
            updated_at: Set(u.updated_at),
        })
    }
}
