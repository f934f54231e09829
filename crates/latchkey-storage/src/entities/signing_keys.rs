use latchkey_domain::keys::{KeyState, SigningAlg, SigningKeyRecord};
use latchkey_domain::{Kid, StoreError};
use sea_orm::entity::prelude::*;
use sea_orm::Set;

use super::corrupt;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub kid: String,
    #[sea_orm(column_type = "Text")]
    pub alg: String,
    #[sea_orm(column_type = "Text")]
    pub state: String,
    #[sea_orm(column_type = "Blob")]
    pub encrypted_private_key: Vec<u8>,
    #[sea_orm(column_type = "Text")]
    pub public_jwk: String,
    pub created_at: i64,
    pub activates_at: i64,
    pub retired_at: Option<i64>,
    pub removed_at: Option<i64>,
}

// Hand-written so the (encrypted) private key stays out of logs, as in
// `SigningKeyRecord`.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("signing_keys::Model")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Result<SigningKeyRecord, StoreError> {
        Ok(SigningKeyRecord {
            state: KeyState::parse(&self.state)
                .ok_or_else(|| corrupt("signing_keys", "state", "unknown key state"))?,
            alg: SigningAlg::parse(&self.alg)
                .map_err(|_| corrupt("signing_keys", "alg", "unknown algorithm"))?,
            kid: Kid::new(self.kid),
            encrypted_private_key: self.encrypted_private_key,
            public_jwk: self.public_jwk,
            created_at: self.created_at,
            activates_at: self.activates_at,
            retired_at: self.retired_at,
            removed_at: self.removed_at,
        })
    }

    pub(crate) fn from_domain(k: &SigningKeyRecord) -> ActiveModel {
        ActiveModel {
            kid: Set(k.kid.as_str().to_owned()),
            alg: Set(k.alg.as_str().to_owned()),
            state: Set(k.state.as_str().to_owned()),
            encrypted_private_key: Set(k.encrypted_private_key.clone()),
            public_jwk: Set(k.public_jwk.clone()),
            created_at: Set(k.created_at),
            activates_at: Set(k.activates_at),
            retired_at: Set(k.retired_at),
            removed_at: Set(k.removed_at),
        }
    }
}
