use latchkey_domain::{
    AdminToken, Client, ClientRegistration, InitialAccessToken, RegistrationRepository,
    RegistrationTokenRotation, RevokedToken, SecretRotation, StoreResult,
};
use latchkey_protocol::ClientId;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::read_opt;
use crate::entities::clients;
use crate::entities::registration::{
    admin_tokens, client_assertions, client_registrations as regs, initial_access_tokens as iat,
};
use crate::entities::revoked_tokens;
use crate::error::db_err;
use crate::SeaStore;

/// Inserts or replaces a registration record (inside the caller's
/// transaction). A replaced record keeps its registration access token
/// hash: only [`swap_token`] changes it.
async fn upsert_registration(
    db: &impl sea_orm::ConnectionTrait,
    client_id: &str,
    r: &ClientRegistration,
) -> Result<(), sea_orm::DbErr> {
    regs::Entity::insert(regs::Model::from_domain(client_id, r))
        .on_conflict(
            OnConflict::column(regs::Column::ClientId)
                .update_columns([
                    regs::Column::Jwks,
                    regs::Column::JwksUri,
                    regs::Column::ClientUri,
                    regs::Column::LogoUri,
                    regs::Column::PolicyUri,
                    regs::Column::TosUri,
                    regs::Column::Contacts,
                    regs::Column::ByOperator,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The registration access token's compare-and-swap: one conditional
/// UPDATE, applied only while the presented token's hash is the stored
/// one (`new_hash` None spends the token). On Postgres a concurrent swap waits for the row and then finds the
/// new hash; SQLite runs writers one at a time. Either way one caller wins.
async fn swap_token(
    db: &impl sea_orm::ConnectionTrait,
    client_id: &str,
    seen_hash: &str,
    new_hash: Option<&str>,
) -> Result<bool, sea_orm::DbErr> {
    let res = regs::Entity::update_many()
        .col_expr(regs::Column::RegistrationTokenHash, Expr::value(new_hash))
        .filter(regs::Column::ClientId.eq(client_id))
        .filter(regs::Column::RegistrationTokenHash.eq(seen_hash))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

#[async_trait::async_trait]
impl RegistrationRepository for SeaStore {
    async fn insert_registered_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
    ) -> StoreResult<()> {
        let op = db_err("clients.register");
        let txn = self.db.begin().await.map_err(&op)?;
        clients::Entity::insert(clients::Model::from_domain(client))
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        upsert_registration(&txn, client.id.as_str(), registration)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)
    }

    async fn update_registered_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
        rotation: Option<&RegistrationTokenRotation>,
    ) -> StoreResult<bool> {
        let op = db_err("clients.update_registered");
        let txn = self.db.begin().await.map_err(&op)?;
        let res = clients::Entity::update_many()
            .set(clients::Model::changes(client))
            .filter(clients::Column::Id.eq(client.id.as_str()))
            .exec(&txn)
            .await
            .map_err(&op)?;
        if res.rows_affected != 1 {
            txn.rollback().await.map_err(&op)?;
            return Ok(false);
        }
        // The client's row before the registration's, as every write here
        // takes them, so concurrent writers wait instead of deadlocking.
        if let Some(r) = rotation {
            if !swap_token(&txn, client.id.as_str(), &r.seen_hash, Some(&r.new_hash))
                .await
                .map_err(&op)?
            {
                txn.rollback().await.map_err(&op)?;
                return Ok(false);
            }
        }
        upsert_registration(&txn, client.id.as_str(), registration)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)?;
        Ok(true)
    }

    async fn rotate_registration_token(
        &self,
        id: &ClientId,
        rotation: &RegistrationTokenRotation,
    ) -> StoreResult<bool> {
        swap_token(
            &self.db,
            id.as_str(),
            &rotation.seen_hash,
            Some(&rotation.new_hash),
        )
        .await
        .map_err(db_err("client_registrations.rotate_token"))
    }

    async fn find_registration(&self, id: &ClientId) -> StoreResult<Option<ClientRegistration>> {
        let row = regs::Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await
            .map_err(db_err("client_registrations.find"))?;
        read_opt(row, regs::Model::into_domain)
    }

    /// `SET previous = secret_hash` reads the row's value before the
    /// update on both backends, so the move is one statement.
    async fn rotate_client_secret(&self, id: &ClientId, r: &SecretRotation) -> StoreResult<bool> {
        let seen = match &r.seen_hash {
            Some(h) => clients::Column::SecretHash.eq(h.as_str()),
            None => clients::Column::SecretHash.is_null(),
        };
        let res = clients::Entity::update_many()
            .col_expr(
                clients::Column::PreviousSecretHash,
                Expr::col(clients::Column::SecretHash).into(),
            )
            .col_expr(
                clients::Column::PreviousSecretExpiresAt,
                Expr::value(r.previous_expires_at),
            )
            .col_expr(
                clients::Column::SecretHash,
                Expr::value(r.new_hash.as_str()),
            )
            .col_expr(
                clients::Column::SecretExpiresAt,
                Expr::value(r.new_expires_at),
            )
            .col_expr(clients::Column::UpdatedAt, Expr::value(r.now))
            .filter(clients::Column::Id.eq(id.as_str()))
            .filter(seen)
            .exec(&self.db)
            .await
            .map_err(db_err("clients.rotate_secret"))?;
        Ok(res.rows_affected == 1)
    }

    async fn delete_client_revoking(
        &self,
        id: &ClientId,
        revocation: &RevokedToken,
        token_hash: Option<&str>,
    ) -> StoreResult<bool> {
        let op = db_err("clients.delete_revoking");
        let txn = self.db.begin().await.map_err(&op)?;
        // The registrant's token is spent first, by the same conditional
        // UPDATE a rotation uses: a token rotated away (or spent by a
        // concurrent delete) deletes nothing. The client's row is taken
        // before the registration's (a no-op write locks it), the order
        // every write here follows, so concurrent writers cannot deadlock.
        if let Some(seen) = token_hash {
            let locked = clients::Entity::update_many()
                .col_expr(
                    clients::Column::UpdatedAt,
                    Expr::col(clients::Column::UpdatedAt).into(),
                )
                .filter(clients::Column::Id.eq(id.as_str()))
                .exec(&txn)
                .await
                .map_err(&op)?;
            if locked.rows_affected != 1
                || !swap_token(&txn, id.as_str(), seen, None)
                    .await
                    .map_err(&op)?
            {
                txn.rollback().await.map_err(&op)?;
                return Ok(false);
            }
        }
        revoked_tokens::Entity::insert(revoked_tokens::Model::from_domain(revocation))
            .on_conflict(
                OnConflict::column(revoked_tokens::Column::Jti)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(&op)?;
        let res = clients::Entity::delete_many()
            .filter(clients::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(&op)?;
        if res.rows_affected != 1 {
            txn.rollback().await.map_err(&op)?;
            return Ok(false);
        }
        txn.commit().await.map_err(&op)?;
        Ok(true)
    }

    async fn insert_initial_token(&self, token: &InitialAccessToken) -> StoreResult<()> {
        iat::Entity::insert(iat::Model::from_domain(token))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("initial_access_tokens.insert"))?;
        Ok(())
    }

    async fn find_initial_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<InitialAccessToken>> {
        let row = iat::Entity::find()
            .filter(iat::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(db_err("initial_access_tokens.find"))?;
        Ok(row.map(iat::Model::into_domain))
    }

    async fn consume_initial_token(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
        let res = iat::Entity::update_many()
            .col_expr(
                iat::Column::UsesLeft,
                Expr::col(iat::Column::UsesLeft).sub(1),
            )
            .filter(iat::Column::TokenHash.eq(token_hash))
            .filter(iat::Column::UsesLeft.gt(0))
            .filter(iat::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(db_err("initial_access_tokens.consume"))?;
        Ok(res.rows_affected == 1)
    }

    async fn list_initial_tokens(&self) -> StoreResult<Vec<InitialAccessToken>> {
        let rows = iat::Entity::find()
            .order_by_asc(iat::Column::CreatedAt)
            .order_by_asc(iat::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("initial_access_tokens.list"))?;
        Ok(rows.into_iter().map(iat::Model::into_domain).collect())
    }

    async fn delete_initial_token(&self, id: &str) -> StoreResult<bool> {
        let res = iat::Entity::delete_many()
            .filter(iat::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("initial_access_tokens.delete"))?;
        Ok(res.rows_affected == 1)
    }

    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        admin_tokens::Entity::insert(admin_tokens::Model::from_domain(token))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("admin_tokens.insert"))?;
        Ok(())
    }

    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        let row = admin_tokens::Entity::find()
            .filter(admin_tokens::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(db_err("admin_tokens.find"))?;
        Ok(row.map(admin_tokens::Model::into_domain))
    }

    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>> {
        let rows = admin_tokens::Entity::find()
            .order_by_asc(admin_tokens::Column::CreatedAt)
            .order_by_asc(admin_tokens::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("admin_tokens.list"))?;
        Ok(rows
            .into_iter()
            .map(admin_tokens::Model::into_domain)
            .collect())
    }

    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool> {
        let res = admin_tokens::Entity::delete_many()
            .filter(admin_tokens::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("admin_tokens.delete"))?;
        Ok(res.rows_affected == 1)
    }

    async fn record_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
    ) -> StoreResult<bool> {
        use sea_orm::Set;
        let row = client_assertions::ActiveModel {
            client_id: Set(client_id.as_str().to_owned()),
            jti: Set(jti.to_owned()),
            expires_at: Set(expires_at),
        };
        let inserted = client_assertions::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    client_assertions::Column::ClientId,
                    client_assertions::Column::Jti,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("client_assertions.insert"))?;
        Ok(inserted == 1)
    }
}
