use latchkey_domain::{
    AuthorizationCode, AuthorizationRepository, CodePresenter, CodeRedemption, Consent,
    IssuedFromCode, PendingAuthorization, PushedRequest, SessionId, StoreResult, TokenHash, UserId,
};
use latchkey_protocol::ClientId;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::read_opt;
use crate::entities::{
    authorization_codes as codes, consents, pending_authorizations as pending, pushed_requests,
};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl AuthorizationRepository for SeaStore {
    async fn insert_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        pending::Entity::insert(pending::Model::from_domain(p))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("pending_authorizations.insert"))?;
        Ok(())
    }

    async fn find_pending(&self, id: &str) -> StoreResult<Option<PendingAuthorization>> {
        let row = pending::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db_err("pending_authorizations.find"))?;
        read_opt(row, pending::Model::into_domain)
    }

    async fn attach_session(&self, pending_id: &str, session_id: &SessionId) -> StoreResult<bool> {
        let res = pending::Entity::update_many()
            .col_expr(pending::Column::SessionId, Expr::value(session_id.as_str()))
            .filter(pending::Column::Id.eq(pending_id))
            .exec(&self.db)
            .await
            .map_err(db_err("pending_authorizations.attach_session"))?;
        Ok(res.rows_affected == 1)
    }

    async fn delete_pending(&self, id: &str) -> StoreResult<bool> {
        let done = pending::Entity::delete_many()
            .filter(pending::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(db_err("pending_authorizations.delete"))?;
        Ok(done.rows_affected == 1)
    }

    async fn insert_pushed(&self, p: &PushedRequest) -> StoreResult<()> {
        pushed_requests::Entity::insert(pushed_requests::Model::from_domain(p))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("pushed_requests.insert"))?;
        Ok(())
    }

    /// A pushed row never changes, so it is read first; the delete decides
    /// who gets it: only the caller whose delete removed the row.
    async fn take_pushed(&self, request_hash: &TokenHash) -> StoreResult<Option<PushedRequest>> {
        let op = db_err("pushed_requests.take");
        let row = pushed_requests::Entity::find_by_id(request_hash.as_str())
            .one(&self.db)
            .await
            .map_err(&op)?;
        if row.is_none() {
            return Ok(None);
        }
        let gone = pushed_requests::Entity::delete_many()
            .filter(pushed_requests::Column::RequestHash.eq(request_hash.as_str()))
            .exec(&self.db)
            .await
            .map_err(&op)?;
        match row {
            Some(row) if gone.rows_affected == 1 => Ok(Some(row.into_domain()?)),
            _ => Ok(None),
        }
    }

    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        codes::Entity::insert(codes::Model::from_domain(code))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("authorization_codes.insert"))?;
        Ok(())
    }

    /// The single-use rule is the `consumed_at IS NULL` guard: the database
    /// lets exactly one UPDATE match, and its affected-row count says which
    /// caller won. The read-back shares the transaction so the row cannot be
    /// swept between the two.
    ///
    /// The presenter (client, redirect URI, PKCE challenge) is part of the
    /// guard, so a wrong one consumes nothing and costs no extra round
    /// trip; the read-back tells it from a replay.
    async fn redeem_code(
        &self,
        code_hash: &TokenHash,
        presenter: &CodePresenter<'_>,
        now: i64,
        issued: &IssuedFromCode,
    ) -> StoreResult<CodeRedemption> {
        let op = db_err("authorization_codes.redeem");
        let txn = self.db.begin().await.map_err(&op)?;
        let res = codes::Entity::update_many()
            .col_expr(codes::Column::ConsumedAt, Expr::value(now))
            .col_expr(
                codes::Column::AccessTokenJti,
                Expr::value(issued.access_token_jti.as_str()),
            )
            .col_expr(
                codes::Column::AccessTokenExpiresAt,
                Expr::value(issued.access_token_expires_at),
            )
            .col_expr(
                codes::Column::FamilyId,
                Expr::value(issued.family_id.as_ref().map(|f| f.as_str().to_owned())),
            )
            .filter(codes::Column::CodeHash.eq(code_hash.as_str()))
            .filter(codes::Column::ConsumedAt.is_null())
            .filter(codes::Column::ClientId.eq(presenter.client_id.as_str()))
            .filter(codes::Column::RedirectUri.eq(presenter.redirect_uri))
            .filter(
                codes::Column::CodeChallenge.eq(codes::stored_challenge(presenter.code_challenge)),
            )
            // A code bound to a DPoP key goes only to a proof of that key.
            .filter(match presenter.dpop_jkt {
                Some(jkt) => Condition::any()
                    .add(codes::Column::DpopJkt.is_null())
                    .add(codes::Column::DpopJkt.eq(jkt.as_str())),
                None => Condition::all().add(codes::Column::DpopJkt.is_null()),
            })
            .exec(&txn)
            .await
            .map_err(&op)?;
        let row = codes::Entity::find_by_id(code_hash.as_str())
            .one(&txn)
            .await
            .map_err(&op)?;
        txn.commit().await.map_err(&op)?;
        let Some(row) = row else {
            return Ok(CodeRedemption::NotFound);
        };
        let code = row.into_domain()?;
        Ok(if res.rows_affected == 1 {
            CodeRedemption::Redeemed(code)
        } else if !presenter.matches(&code) {
            CodeRedemption::WrongPresenter
        } else {
            CodeRedemption::AlreadyUsed(code)
        })
    }

    async fn find_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> StoreResult<Option<Consent>> {
        let row = consents::Entity::find_by_id((
            user_id.as_str().to_owned(),
            client_id.as_str().to_owned(),
        ))
        .one(&self.db)
        .await
        .map_err(db_err("consents.find"))?;
        read_opt(row, consents::Model::into_domain)
    }

    /// Replaces any earlier consent of the user for the client.
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
        consents::Entity::insert(consents::Model::from_domain(consent))
            .on_conflict(
                OnConflict::columns([consents::Column::UserId, consents::Column::ClientId])
                    .update_columns([consents::Column::Scope, consents::Column::GrantedAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("consents.save"))?;
        Ok(())
    }
}
