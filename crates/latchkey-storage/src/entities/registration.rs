//! The tables of client registration: registration records, initial access
//! tokens, admin tokens and used assertion `jti`s. One module, one
//! sea-orm entity per table.

pub(crate) mod client_registrations {
    use latchkey_domain::{ClientRegistration, StoreError};
    use sea_orm::entity::prelude::*;
    use sea_orm::Set;

    use crate::entities::{list_from_json, list_to_json};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_registrations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub client_id: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub registration_token_hash: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub jwks: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub jwks_uri: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub client_uri: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub logo_uri: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub policy_uri: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub tos_uri: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub contacts: String,
        pub by_operator: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub(crate) fn into_domain(self) -> Result<ClientRegistration, StoreError> {
            Ok(ClientRegistration {
                registration_token_hash: self.registration_token_hash,
                jwks: self.jwks,
                jwks_uri: self.jwks_uri,
                client_uri: self.client_uri,
                logo_uri: self.logo_uri,
                policy_uri: self.policy_uri,
                tos_uri: self.tos_uri,
                contacts: list_from_json(
                    "client_registrations",
                    "contacts",
                    &self.contacts,
                    crate::entities::any_text,
                )?,
                by_operator: self.by_operator,
            })
        }

        pub(crate) fn from_domain(client_id: &str, r: &ClientRegistration) -> ActiveModel {
            ActiveModel {
                client_id: Set(client_id.to_owned()),
                registration_token_hash: Set(r.registration_token_hash.clone()),
                jwks: Set(r.jwks.clone()),
                jwks_uri: Set(r.jwks_uri.clone()),
                client_uri: Set(r.client_uri.clone()),
                logo_uri: Set(r.logo_uri.clone()),
                policy_uri: Set(r.policy_uri.clone()),
                tos_uri: Set(r.tos_uri.clone()),
                contacts: Set(list_to_json(r.contacts.iter().map(String::as_str))),
                by_operator: Set(r.by_operator),
            }
        }
    }
}

pub(crate) mod initial_access_tokens {
    use latchkey_domain::InitialAccessToken;
    use sea_orm::entity::prelude::*;
    use sea_orm::Set;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "initial_access_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(column_type = "Text", unique)]
        pub token_hash: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub uses_left: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub(crate) fn into_domain(self) -> InitialAccessToken {
            InitialAccessToken {
                id: self.id,
                token_hash: self.token_hash,
                created_at: self.created_at,
                expires_at: self.expires_at,
                uses_left: self.uses_left,
            }
        }

        pub(crate) fn from_domain(t: &InitialAccessToken) -> ActiveModel {
            ActiveModel {
                id: Set(t.id.clone()),
                token_hash: Set(t.token_hash.clone()),
                created_at: Set(t.created_at),
                expires_at: Set(t.expires_at),
                uses_left: Set(t.uses_left),
            }
        }
    }
}

pub(crate) mod admin_tokens {
    use latchkey_domain::AdminToken;
    use sea_orm::entity::prelude::*;
    use sea_orm::Set;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "admin_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub id: String,
        #[sea_orm(column_type = "Text", unique)]
        pub token_hash: String,
        #[sea_orm(column_type = "Text")]
        pub name: String,
        pub created_at: i64,
        /// NULL for tokens created before tokens expired: they get the
        /// default lifetime from their creation.
        pub expires_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub(crate) fn into_domain(self) -> AdminToken {
            AdminToken {
                id: self.id,
                token_hash: self.token_hash,
                name: self.name,
                created_at: self.created_at,
                expires_at: self
                    .expires_at
                    .unwrap_or(self.created_at + AdminToken::DEFAULT_LIFETIME),
            }
        }

        pub(crate) fn from_domain(t: &AdminToken) -> ActiveModel {
            ActiveModel {
                id: Set(t.id.clone()),
                token_hash: Set(t.token_hash.clone()),
                name: Set(t.name.clone()),
                created_at: Set(t.created_at),
                expires_at: Set(Some(t.expires_at)),
            }
        }
    }
}

pub(crate) mod client_assertions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "client_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub client_id: String,
        #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
        pub jti: String,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
