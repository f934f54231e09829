//! Second factors (`totp_credentials`, `recovery_codes`, `passkeys`) and
//! sign-ins in progress (`login_challenges`).

use latchkey_domain::{
    LoginChallenge, PasskeyRecord, SessionId, StoreError, TotpCredential, UserId,
};

pub(crate) mod totp {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "totp_credentials")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub user_id: String,
        #[sea_orm(column_type = "Text")]
        pub secret: String,
        pub last_step: i64,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod recovery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recovery_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub code_hash: String,
        #[sea_orm(column_type = "Text")]
        pub user_id: String,
        pub created_at: i64,
        pub used_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod passkeys {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "passkeys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(column_type = "Text")]
        pub user_id: String,
        #[sea_orm(column_type = "Text")]
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub credential: String,
        pub synced: bool,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod challenges {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_challenges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub user_id: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub browser_hash: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub pending_id: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub session_id: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub methods: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub password_hash: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub ceremony: Option<String>,
        pub failures: i64,
        pub created_at: i64,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl totp::Model {
    pub(crate) fn into_domain(self) -> TotpCredential {
        TotpCredential {
            user_id: UserId::new(self.user_id),
            secret: self.secret,
            last_step: self.last_step,
            created_at: self.created_at,
        }
    }

    pub(crate) fn from_domain(t: &TotpCredential) -> totp::Model {
        totp::Model {
            user_id: t.user_id.as_str().to_owned(),
            secret: t.secret.clone(),
            last_step: t.last_step,
            created_at: t.created_at,
        }
    }
}

impl passkeys::Model {
    pub(crate) fn into_domain(self) -> PasskeyRecord {
        PasskeyRecord {
            id: self.id,
            user_id: UserId::new(self.user_id),
            name: self.name,
            credential: self.credential,
            synced: self.synced,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }

    pub(crate) fn from_domain(p: &PasskeyRecord) -> passkeys::Model {
        passkeys::Model {
            id: p.id.clone(),
            user_id: p.user_id.as_str().to_owned(),
            name: p.name.clone(),
            credential: p.credential.clone(),
            synced: p.synced,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

impl challenges::Model {
    pub(crate) fn into_domain(self) -> Result<LoginChallenge, StoreError> {
        Ok(LoginChallenge {
            id: self.id,
            user_id: self.user_id.map(UserId::new),
            browser_hash: self.browser_hash,
            pending_id: self.pending_id,
            session_id: self.session_id.map(SessionId::new),
            methods: super::parse_methods("login_challenges", &self.methods)?,
            password_hash: self.password_hash,
            ceremony: self.ceremony,
            failures: self.failures,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }

    pub(crate) fn from_domain(c: &LoginChallenge) -> challenges::Model {
        challenges::Model {
            id: c.id.clone(),
            user_id: c.user_id.as_ref().map(|u| u.as_str().to_owned()),
            browser_hash: c.browser_hash.clone(),
            pending_id: c.pending_id.clone(),
            session_id: c.session_id.as_ref().map(|s| s.as_str().to_owned()),
            methods: c.methods.to_string(),
            password_hash: c.password_hash.clone(),
            ceremony: c.ceremony.clone(),
            failures: c.failures,
            created_at: c.created_at,
            expires_at: c.expires_at,
        }
    }
}
