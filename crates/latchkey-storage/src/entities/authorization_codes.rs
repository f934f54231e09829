use latchkey_domain::{
    AuthorizationCode, CodeState, FamilyId, IssuedFromCode, Jti, RequestedClaims, SessionId,
    StoreError, TokenHash, UserId,
};
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::user_claims::ClaimNames;
use latchkey_protocol::Nonce;
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::{corrupt, parse_client_id, parse_redirect_uri, parse_scope};

const TABLE: &str = "authorization_codes";

/// How a code issued without a PKCE challenge is stored: a real challenge
/// is 43 characters, so the empty text cannot be one (migration
/// `m20261203_000009_client_compat`).
pub(crate) const NO_CHALLENGE: &str = "";

/// The stored form of a challenge or its absence.
pub(crate) fn stored_challenge(c: Option<&CodeChallenge>) -> &str {
    c.map_or(NO_CHALLENGE, CodeChallenge::as_str)
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub code_hash: String,
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    #[sea_orm(column_type = "Text")]
    pub session_id: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    /// The S256 challenge, or the empty text for a code issued without
    /// PKCE (see [`NO_CHALLENGE`]).
    #[sea_orm(column_type = "Text")]
    pub code_challenge: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub nonce: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    /// [`ClaimNames`], space separated (migration
    /// `m20261203_000011_claims_request`).
    #[sea_orm(column_type = "Text")]
    pub userinfo_claims: String,
    #[sea_orm(column_type = "Text")]
    pub id_token_claims: String,
    pub auth_time: i64,
    /// [`Methods`](latchkey_domain::Methods), stored form (migration
    /// `m20261204_000012_second_factors`).
    #[sea_orm(column_type = "Text")]
    pub methods: String,
    #[sea_orm(column_type = "Text")]
    pub acr: String,
    /// Migration `m20261205_000014_pushed_and_bound`.
    #[sea_orm(column_type = "Text", nullable)]
    pub dpop_jkt: Option<String>,
    /// Space separated (migration `m20261205_000015_resources`).
    #[sea_orm(column_type = "Text")]
    pub resources: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub access_token_jti: Option<String>,
    pub access_token_expires_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub family_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<AuthorizationCode, StoreError> {
        let nonce = match self.nonce {
            Some(n) => {
                Some(Nonce::parse(&n).map_err(|_| corrupt(TABLE, "nonce", "invalid nonce"))?)
            }
            None => None,
        };
        Ok(AuthorizationCode {
            code_hash: TokenHash::new(self.code_hash),
            client_id: parse_client_id(TABLE, "client_id", &self.client_id)?,
            user_id: UserId::new(self.user_id),
            session_id: SessionId::new(self.session_id),
            redirect_uri: parse_redirect_uri(TABLE, "redirect_uri", &self.redirect_uri)?,
            code_challenge: (self.code_challenge != NO_CHALLENGE)
                .then(|| CodeChallenge::from_stored(self.code_challenge)),
            nonce,
            scope: parse_scope(TABLE, "scope", &self.scope)?,
            claims: RequestedClaims {
                userinfo: ClaimNames::from_stored(&self.userinfo_claims),
                id_token: ClaimNames::from_stored(&self.id_token_claims),
            },
            auth_time: self.auth_time,
            methods: super::parse_methods(TABLE, &self.methods)?,
            acr: self.acr,
            dpop_jkt: super::parse_jkt(TABLE, self.dpop_jkt)?,
            resources: super::parse_resources(TABLE, &self.resources)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            state: match (
                self.consumed_at,
                self.access_token_jti,
                self.access_token_expires_at,
            ) {
                (None, None, None) => CodeState::Issued,
                (Some(at), Some(jti), Some(exp)) => CodeState::Redeemed {
                    at,
                    issued: IssuedFromCode {
                        access_token_jti: Jti::new(jti),
                        access_token_expires_at: exp,
                        family_id: self.family_id.map(FamilyId::new),
                    },
                },
                _ => {
                    return Err(super::corrupt(
                        TABLE,
                        "consumed_at",
                        "redemption columns disagree",
                    ))
                }
            },
        })
    }

    pub(crate) fn from_domain(c: &AuthorizationCode) -> ActiveModel {
        let mut row = ActiveModel {
            code_hash: Set(c.code_hash.as_str().to_owned()),
            client_id: Set(c.client_id.as_str().to_owned()),
            user_id: Set(c.user_id.as_str().to_owned()),
            session_id: Set(c.session_id.as_str().to_owned()),
            redirect_uri: Set(c.redirect_uri.as_str().to_owned()),
            code_challenge: Set(stored_challenge(c.code_challenge.as_ref()).to_owned()),
            nonce: Set(c.nonce.as_ref().map(|n| n.as_str().to_owned())),
            scope: Set(c.scope.to_string()),
            userinfo_claims: Set(c.claims.userinfo.to_string()),
            id_token_claims: Set(c.claims.id_token.to_string()),
            auth_time: Set(c.auth_time),
            methods: Set(c.methods.to_string()),
            acr: Set(c.acr.clone()),
            dpop_jkt: Set(c.dpop_jkt.as_ref().map(|j| j.as_str().to_owned())),
            resources: Set(c.resources.to_stored()),
            created_at: Set(c.created_at),
            expires_at: Set(c.expires_at),
            consumed_at: Set(None),
            access_token_jti: Set(None),
            access_token_expires_at: Set(None),
            family_id: Set(None),
        };
        if let CodeState::Redeemed { at, issued } = &c.state {
            row.consumed_at = Set(Some(*at));
            row.access_token_jti = Set(Some(issued.access_token_jti.as_str().to_owned()));
            row.access_token_expires_at = Set(Some(issued.access_token_expires_at));
            row.family_id = Set(issued.family_id.as_ref().map(|f| f.as_str().to_owned()));
        }
        row
    }
}
