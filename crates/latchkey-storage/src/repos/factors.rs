use latchkey_domain::{
    FactorRepository, LoginChallenge, PasskeyRecord, StoreResult, TotpCredential, UserId,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::entities::factors::{challenges, passkeys, recovery, totp};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl FactorRepository for SeaStore {
    async fn find_totp(&self, user_id: &UserId) -> StoreResult<Option<TotpCredential>> {
        let row = totp::Entity::find_by_id(user_id.as_str())
            .one(&self.db)
            .await
            .map_err(db_err("totp_credentials.find"))?;
        Ok(row.map(totp::Model::into_domain))
    }

    async fn save_totp(&self, t: &TotpCredential) -> StoreResult<()> {
        totp::Entity::insert(totp::Model::from_domain(t).into_active_model())
            .on_conflict(
                OnConflict::column(totp::Column::UserId)
                    .update_columns([
                        totp::Column::Secret,
                        totp::Column::LastStep,
                        totp::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("totp_credentials.save"))?;
        Ok(())
    }

    async fn delete_totp(&self, user_id: &UserId) -> StoreResult<bool> {
        let res = totp::Entity::delete_by_id(user_id.as_str())
            .exec(&self.db)
            .await
            .map_err(db_err("totp_credentials.delete"))?;
        Ok(res.rows_affected == 1)
    }

    /// One conditional UPDATE: the step only moves forward.
    async fn use_totp_step(&self, user_id: &UserId, step: i64) -> StoreResult<bool> {
        let res = totp::Entity::update_many()
            .col_expr(totp::Column::LastStep, Expr::value(step))
            .filter(totp::Column::UserId.eq(user_id.as_str()))
            .filter(totp::Column::LastStep.lt(step))
            .exec(&self.db)
            .await
            .map_err(db_err("totp_credentials.use_step"))?;
        Ok(res.rows_affected == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &UserId,
        hashes: &[String],
        at: i64,
    ) -> StoreResult<()> {
        let op = db_err("recovery_codes.replace");
        let tx = self.db.begin().await.map_err(&op)?;
        recovery::Entity::delete_many()
            .filter(recovery::Column::UserId.eq(user_id.as_str()))
            .exec(&tx)
            .await
            .map_err(&op)?;
        if !hashes.is_empty() {
            recovery::Entity::insert_many(hashes.iter().map(|h| recovery::ActiveModel {
                code_hash: Set(h.clone()),
                user_id: Set(user_id.as_str().to_owned()),
                created_at: Set(at),
                used_at: Set(None),
            }))
            .exec_without_returning(&tx)
            .await
            .map_err(&op)?;
        }
        tx.commit().await.map_err(&op)
    }

    /// One conditional UPDATE: of concurrent uses of one code, one wins.
    async fn use_recovery_code(&self, user_id: &UserId, hash: &str, at: i64) -> StoreResult<bool> {
        let res = recovery::Entity::update_many()
            .col_expr(recovery::Column::UsedAt, Expr::value(at))
            .filter(recovery::Column::CodeHash.eq(hash))
            .filter(recovery::Column::UserId.eq(user_id.as_str()))
            .filter(recovery::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(db_err("recovery_codes.use"))?;
        Ok(res.rows_affected == 1)
    }

    async fn unused_recovery_codes(&self, user_id: &UserId) -> StoreResult<u64> {
        recovery::Entity::find()
            .filter(recovery::Column::UserId.eq(user_id.as_str()))
            .filter(recovery::Column::UsedAt.is_null())
            .count(&self.db)
            .await
            .map_err(db_err("recovery_codes.count"))
    }

    async fn list_passkeys(&self, user_id: &UserId) -> StoreResult<Vec<PasskeyRecord>> {
        let rows = passkeys::Entity::find()
            .filter(passkeys::Column::UserId.eq(user_id.as_str()))
            .order_by_asc(passkeys::Column::CreatedAt)
            .order_by_asc(passkeys::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("passkeys.list"))?;
        Ok(rows.into_iter().map(passkeys::Model::into_domain).collect())
    }

    async fn find_passkey(&self, id: &str) -> StoreResult<Option<PasskeyRecord>> {
        let row = passkeys::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err("passkeys.find"))?;
        Ok(row.map(passkeys::Model::into_domain))
    }

    async fn insert_passkey(&self, p: &PasskeyRecord) -> StoreResult<()> {
        passkeys::Entity::insert(passkeys::Model::from_domain(p).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("passkeys.insert"))?;
        Ok(())
    }

    async fn rename_passkey(&self, user_id: &UserId, id: &str, name: &str) -> StoreResult<bool> {
        let res = passkeys::Entity::update_many()
            .col_expr(passkeys::Column::Name, Expr::value(name))
            .filter(passkeys::Column::Id.eq(id))
            .filter(passkeys::Column::UserId.eq(user_id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("passkeys.rename"))?;
        Ok(res.rows_affected == 1)
    }

    async fn delete_passkey(&self, user_id: &UserId, id: &str) -> StoreResult<bool> {
        let res = passkeys::Entity::delete_many()
            .filter(passkeys::Column::Id.eq(id))
            .filter(passkeys::Column::UserId.eq(user_id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("passkeys.delete"))?;
        Ok(res.rows_affected == 1)
    }

    async fn passkey_used(&self, id: &str, credential: &str, at: i64) -> StoreResult<()> {
        passkeys::Entity::update_many()
            .col_expr(passkeys::Column::Credential, Expr::value(credential))
            .col_expr(passkeys::Column::LastUsedAt, Expr::value(at))
            .filter(passkeys::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("passkeys.used"))?;
        Ok(())
    }

    async fn reset_factors(&self, user_id: &UserId) -> StoreResult<u64> {
        let op = db_err("factors.reset");
        let tx = self.db.begin().await.map_err(&op)?;
        let t = totp::Entity::delete_many()
            .filter(totp::Column::UserId.eq(user_id.as_str()))
            .exec(&tx)
            .await
            .map_err(&op)?;
        let r = recovery::Entity::delete_many()
            .filter(recovery::Column::UserId.eq(user_id.as_str()))
            .exec(&tx)
            .await
            .map_err(&op)?;
        let p = passkeys::Entity::delete_many()
            .filter(passkeys::Column::UserId.eq(user_id.as_str()))
            .exec(&tx)
            .await
            .map_err(&op)?;
        // Sign-ins in progress may have proved a factor that is gone now.
        challenges::Entity::delete_many()
            .filter(challenges::Column::UserId.eq(user_id.as_str()))
            .exec(&tx)
            .await
            .map_err(&op)?;
        tx.commit().await.map_err(&op)?;
        Ok(t.rows_affected + r.rows_affected + p.rows_affected)
    }

    async fn insert_challenge(&self, c: &LoginChallenge) -> StoreResult<()> {
        challenges::Entity::insert(challenges::Model::from_domain(c).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("login_challenges.insert"))?;
        Ok(())
    }

    async fn find_challenge(&self, id: &str) -> StoreResult<Option<LoginChallenge>> {
        let row = challenges::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err("login_challenges.find"))?;
        row.map(challenges::Model::into_domain).transpose()
    }

    async fn update_challenge(&self, c: &LoginChallenge) -> StoreResult<bool> {
        let row = challenges::Model::from_domain(c);
        let res = challenges::Entity::update_many()
            .col_expr(challenges::Column::UserId, Expr::value(row.user_id))
            .col_expr(challenges::Column::Methods, Expr::value(row.methods))
            .col_expr(
                challenges::Column::PasswordHash,
                Expr::value(row.password_hash),
            )
            .col_expr(challenges::Column::Ceremony, Expr::value(row.ceremony))
            .filter(challenges::Column::Id.eq(c.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("login_challenges.update"))?;
        Ok(res.rows_affected == 1)
    }

    async fn take_ceremony(&self, id: &str, ceremony: &str) -> StoreResult<bool> {
        let res = challenges::Entity::update_many()
            .col_expr(
                challenges::Column::Ceremony,
                Expr::value(Option::<String>::None),
            )
            .filter(challenges::Column::Id.eq(id))
            .filter(challenges::Column::Ceremony.eq(ceremony))
            .exec(&self.db)
            .await
            .map_err(db_err("login_challenges.take_ceremony"))?;
        Ok(res.rows_affected == 1)
    }

    /// An atomic increment, then a read: the read sees at least this
    /// try's own increment.
    async fn count_challenge_try(&self, id: &str) -> StoreResult<i64> {
        let op = db_err("login_challenges.count_try");
        challenges::Entity::update_many()
            .col_expr(
                challenges::Column::Failures,
                Expr::col(challenges::Column::Failures).add(1),
            )
            .filter(challenges::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(&op)?;
        let row = challenges::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(&op)?;
        Ok(row.map_or(0, |r| r.failures))
    }

    async fn delete_user_challenges(
        &self,
        user_id: &UserId,
        except: Option<&str>,
    ) -> StoreResult<u64> {
        let mut q = challenges::Entity::delete_many()
            .filter(challenges::Column::UserId.eq(user_id.as_str()));
        if let Some(id) = except {
            q = q.filter(challenges::Column::Id.ne(id));
        }
        let res = q
            .exec(&self.db)
            .await
            .map_err(db_err("login_challenges.delete_for_user"))?;
        Ok(res.rows_affected)
    }

    async fn delete_challenge(&self, id: &str) -> StoreResult<bool> {
        let res = challenges::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(db_err("login_challenges.delete"))?;
        Ok(res.rows_affected == 1)
    }
}
