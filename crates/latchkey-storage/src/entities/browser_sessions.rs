use latchkey_domain::{BrowserSession, SessionId, StoreError, TokenHash, UserId};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "browser_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    #[sea_orm(column_type = "Text", unique)]
    pub token_hash: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub auth_time: i64,
    #[sea_orm(column_type = "Text")]
    pub methods: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub ip: Option<String>,
    pub ended_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<BrowserSession, StoreError> {
        Ok(BrowserSession {
            id: SessionId::new(self.id),
            user_id: UserId::new(self.user_id),
            token_hash: TokenHash::new(self.token_hash),
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            auth_time: self.auth_time,
            methods: super::parse_methods("browser_sessions", &self.methods)?,
            user_agent: self.user_agent,
            ip: self.ip,
            ended_at: self.ended_at,
        })
    }

    pub(crate) fn from_domain(s: &BrowserSession) -> ActiveModel {
        ActiveModel {
            id: Set(s.id.as_str().to_owned()),
            user_id: Set(s.user_id.as_str().to_owned()),
            token_hash: Set(s.token_hash.as_str().to_owned()),
            created_at: Set(s.created_at),
            last_seen_at: Set(s.last_seen_at),
            auth_time: Set(s.auth_time),
            methods: Set(s.methods.to_string()),
            user_agent: Set(s.user_agent.clone()),
            ip: Set(s.ip.clone()),
            ended_at: Set(s.ended_at),
        }
    }
}
