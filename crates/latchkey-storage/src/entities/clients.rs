use latchkey_domain::{Client, ClientAuthMethod, GrantType, Requirement, StoreError};
use latchkey_protocol::{RedirectUri, SigningAlg};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::NotSet, Set};

use super::{corrupt, list_from_json, list_to_json, parse_client_id, parse_scope};

const TABLE: &str = "clients";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub auth_method: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub secret_hash: Option<String>,
    pub secret_expires_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub redirect_uris: String,
    #[sea_orm(column_type = "Text")]
    pub post_logout_redirect_uris: String,
    #[sea_orm(column_type = "Text")]
    pub grant_types: String,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub backchannel_logout_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub id_token_signed_response_alg: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub allowed_cors_origins: String,
    pub introspect: bool,
    #[sea_orm(column_type = "Text")]
    pub pkce: String,
    #[sea_orm(column_type = "Text")]
    pub nonce: String,
    pub require_mfa: bool,
    /// Migration `m20261205_000014_pushed_and_bound`.
    pub require_par: bool,
    pub dpop_bound: bool,
    /// Space separated (migration `m20261205_000015_resources`).
    #[sea_orm(column_type = "Text")]
    pub resources: String,
    /// Migration `m20261205_000016_fapi2`.
    pub fapi2: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<Client, StoreError> {
        let uris =
            |column: &str, text: &str| list_from_json(TABLE, column, text, RedirectUri::parse);
        Ok(Client {
            id: parse_client_id(TABLE, "id", &self.id)?,
            name: self.name,
            auth_method: ClientAuthMethod::parse(&self.auth_method)
                .map_err(|_| corrupt(TABLE, "auth_method", "unknown auth method"))?,
            secret_hash: self.secret_hash,
            secret_expires_at: self.secret_expires_at,
            previous_secret_hash: self.previous_secret_hash,
            previous_secret_expires_at: self.previous_secret_expires_at,
            redirect_uris: uris("redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: uris(
                "post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            grant_types: list_from_json(TABLE, "grant_types", &self.grant_types, GrantType::parse)?,
            scope: parse_scope(TABLE, "scope", &self.scope)?,
            backchannel_logout_uri: self.backchannel_logout_uri,
            id_token_signed_response_alg: self
                .id_token_signed_response_alg
                .as_deref()
                .map(SigningAlg::parse)
                .transpose()
                .map_err(|_| corrupt(TABLE, "id_token_signed_response_alg", "unknown algorithm"))?,
            allowed_cors_origins: list_from_json(
                TABLE,
                "allowed_cors_origins",
                &self.allowed_cors_origins,
                super::any_text,
            )?,
            introspect: self.introspect,
            pkce: Requirement::parse(&self.pkce)
                .map_err(|_| corrupt(TABLE, "pkce", "unknown requirement"))?,
            nonce: Requirement::parse(&self.nonce)
                .map_err(|_| corrupt(TABLE, "nonce", "unknown requirement"))?,
            require_mfa: self.require_mfa,
            require_par: self.require_par,
            dpop_bound: self.dpop_bound,
            resources: super::parse_resources(TABLE, &self.resources)?,
            fapi2: self.fapi2,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// Every column set, for an insert.
    pub(crate) fn from_domain(c: &Client) -> ActiveModel {
        ActiveModel {
            id: Set(c.id.as_str().to_owned()),
            created_at: Set(c.created_at),
            ..Self::changes(c)
        }
    }

    /// The columns an update may change: everything but the id and
    /// `created_at`.
    pub(crate) fn changes(c: &Client) -> ActiveModel {
        ActiveModel {
            id: NotSet,
            name: Set(c.name.clone()),
            auth_method: Set(c.auth_method.as_str().to_owned()),
            secret_hash: Set(c.secret_hash.clone()),
            secret_expires_at: Set(c.secret_expires_at),
            previous_secret_hash: Set(c.previous_secret_hash.clone()),
            previous_secret_expires_at: Set(c.previous_secret_expires_at),
            redirect_uris: Set(list_to_json(c.redirect_uris.iter().map(|u| u.as_str()))),
            post_logout_redirect_uris: Set(list_to_json(
                c.post_logout_redirect_uris.iter().map(|u| u.as_str()),
            )),
            grant_types: Set(list_to_json(c.grant_types.iter().map(|g| g.as_str()))),
            scope: Set(c.scope.to_string()),
            backchannel_logout_uri: Set(c.backchannel_logout_uri.clone()),
            id_token_signed_response_alg: Set(c
                .id_token_signed_response_alg
                .map(|a| a.as_str().to_owned())),
            allowed_cors_origins: Set(list_to_json(
                c.allowed_cors_origins.iter().map(|s| s.as_str()),
            )),
            introspect: Set(c.introspect),
            pkce: Set(c.pkce.as_str().to_owned()),
            nonce: Set(c.nonce.as_str().to_owned()),
            require_mfa: Set(c.require_mfa),
            require_par: Set(c.require_par),
            dpop_bound: Set(c.dpop_bound),
            resources: Set(c.resources.to_stored()),
            fapi2: Set(c.fapi2),
            created_at: NotSet,
            updated_at: Set(c.updated_at),
        }
    }
}
