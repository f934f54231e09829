//! The housekeeping sweep, a bounded batch at a time. Every statement
//! touches at most `limit` rows, chosen by a subquery on the primary key:
//! `DELETE FROM t WHERE <rule> AND pk IN (SELECT pk FROM t WHERE <rule>
//! LIMIT n)`, which SQLite and Postgres both accept (neither takes a
//! `LIMIT` on `DELETE` itself). The rule is repeated outside the subquery so
//! that a row changed by a concurrent request between the two (a code
//! redeemed, a family rotated) is re-checked before it goes.

use latchkey_domain::{RevokeReason, StoreResult, Sweep, SweepRepository};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, Iterable, PrimaryKeyToColumn, QueryFilter};

use crate::entities::factors::challenges;
use crate::entities::refresh_families::newest_token;
use crate::entities::registration::{client_assertions, initial_access_tokens as iat};
use crate::entities::{
    authorization_codes as codes, browser_sessions as sessions, device_authorizations as device,
    logout_deliveries as outbox, pending_authorizations as pending, pushed_requests,
    refresh_families as families, refresh_tokens as tokens, revoked_tokens as revoked,
};
use crate::error::db_err;
use crate::SeaStore;

/// `revoked_reason` of the families the sweeper retires.
const EXPIRED: &str = RevokeReason::Expired.as_str();

/// `pk IN (SELECT pk FROM t WHERE rule LIMIT limit)`; a composite key is
/// compared as a row value.
fn first_matching<E: EntityTrait>(rule: Condition, limit: u64) -> SimpleExpr {
    let cols: Vec<E::Column> = E::PrimaryKey::iter()
        .map(PrimaryKeyToColumn::into_column)
        .collect();
    let mut pick = Query::select();
    for col in &cols {
        pick.column((E::default(), *col));
    }
    pick.from(E::default()).cond_where(rule).limit(limit);
    let key = match cols.as_slice() {
        [one] => Expr::col((E::default(), *one)),
        many => Expr::tuple(
            many.iter()
                .map(|c| SimpleExpr::from(Expr::col((E::default(), *c)))),
        ),
    };
    key.in_subquery(pick.to_owned())
}

/// Deletes at most `limit` rows of `E` that `rule` selects.
pub(crate) async fn delete_bounded<E: EntityTrait>(
    db: &crate::gate::Db,
    rule: Condition,
    limit: u64,
    op: &'static str,
) -> StoreResult<u64> {
    if limit == 0 {
        return Ok(0);
    }
    let res = E::delete_many()
        .filter(rule.clone())
        .filter(first_matching::<E>(rule, limit))
        .exec(db)
        .await
        .map_err(db_err(op))?;
    Ok(res.rows_affected)
}

/// `expires_at <= now`, the rule of most kinds.
fn expired(col: impl ColumnTrait, now: i64) -> Condition {
    Condition::all().add(col.lte(now))
}

#[async_trait::async_trait]
impl SweepRepository for SeaStore {
    async fn sweep_batch(&self, sweep: &Sweep, limit: u64) -> StoreResult<u64> {
        let db = &self.db;
        match *sweep {
            Sweep::PendingRequests { now } => {
                let rule = expired(pending::Column::ExpiresAt, now);
                delete_bounded::<pending::Entity>(db, rule, limit, "pending_authorizations.sweep")
                    .await
            }
            Sweep::PushedRequests { now } => {
                let rule = expired(pushed_requests::Column::ExpiresAt, now);
                delete_bounded::<pushed_requests::Entity>(db, rule, limit, "pushed_requests.sweep")
                    .await
            }
            // A consumed code is kept while the access token issued from it
            // is alive, so a replay can still find and revoke that token.
            Sweep::Codes { now } => {
                let rule = expired(codes::Column::ExpiresAt, now).add(
                    Condition::any()
                        .add(codes::Column::AccessTokenExpiresAt.is_null())
                        .add(codes::Column::AccessTokenExpiresAt.lte(now)),
                );
                delete_bounded::<codes::Entity>(db, rule, limit, "authorization_codes.sweep").await
            }
            Sweep::Revocations { now } => {
                let rule = expired(revoked::Column::ExpiresAt, now);
                delete_bounded::<revoked::Entity>(db, rule, limit, "revoked_tokens.sweep").await
            }
            Sweep::LoginChallenges { now } => {
                let rule = expired(challenges::Column::ExpiresAt, now);
                delete_bounded::<challenges::Entity>(db, rule, limit, "login_challenges.sweep")
                    .await
            }
            Sweep::DeviceRequests { now } => {
                let rule = expired(device::Column::ExpiresAt, now);
                delete_bounded::<device::Entity>(db, rule, limit, "device_authorizations.sweep")
                    .await
            }
            Sweep::RefreshFamilies {
                now,
                idle_timeout,
                purge_before,
            } => {
                self.sweep_families(now, idle_timeout, purge_before, limit)
                    .await
            }
            // Their `session_clients` rows go with them (ON DELETE CASCADE).
            Sweep::Sessions {
                ended_before,
                started_before,
            } => {
                let rule = Condition::any()
                    .add(sessions::Column::EndedAt.lt(ended_before))
                    .add(sessions::Column::CreatedAt.lt(started_before));
                delete_bounded::<sessions::Entity>(db, rule, limit, "browser_sessions.sweep").await
            }
            Sweep::RegistrationTokens { now } => {
                let rule = Condition::any()
                    .add(iat::Column::ExpiresAt.lte(now))
                    .add(iat::Column::UsesLeft.lte(0));
                delete_bounded::<iat::Entity>(db, rule, limit, "initial_access_tokens.sweep").await
            }
            Sweep::AssertionJtis { now } => {
                let rule = expired(client_assertions::Column::ExpiresAt, now);
                delete_bounded::<client_assertions::Entity>(
                    db,
                    rule,
                    limit,
                    "client_assertions.sweep",
                )
                .await
            }
            // A pending delivery (a `next_attempt_at`) stays however old.
            Sweep::Outbox { settled_before } => {
                let rule = Condition::any()
                    .add(
                        Condition::all()
                            .add(outbox::Column::DeliveredAt.is_not_null())
                            .add(outbox::Column::DeliveredAt.lt(settled_before)),
                    )
                    .add(
                        Condition::all()
                            .add(outbox::Column::DeliveredAt.is_null())
                            .add(outbox::Column::NextAttemptAt.is_null())
                            .add(outbox::Column::CreatedAt.lt(settled_before)),
                    );
                delete_bounded::<outbox::Entity>(db, rule, limit, "logout_deliveries.sweep").await
            }
        }
    }
}

impl SeaStore {
    /// Two independent statements sharing the limit, revocation first: each
    /// is atomic, and a crash between them leaves work for the next batch,
    /// nothing wrong. The revocation uses the same limits as
    /// `RefreshFamily::unusable`; a family is only deleted once revoked (or
    /// long expired), so none disappears while still usable.
    async fn sweep_families(
        &self,
        now: i64,
        idle_timeout: i64,
        purge_before: i64,
        limit: u64,
    ) -> StoreResult<u64> {
        if limit == 0 {
            return Ok(0);
        }
        let stale = Condition::all()
            .add(families::Column::Revoked.eq(false))
            .add(
                Condition::any()
                    .add(families::Column::ExpiresAt.lte(now))
                    .add(
                        Expr::expr(newest_token(tokens::Column::CreatedAt))
                            .lt(now.saturating_sub(idle_timeout)),
                    ),
            );
        let revoked = families::Entity::update_many()
            .col_expr(families::Column::Revoked, Expr::value(true))
            .col_expr(families::Column::RevokedAt, Expr::value(now))
            .col_expr(families::Column::RevokedReason, Expr::value(EXPIRED))
            .filter(stale.clone())
            .filter(first_matching::<families::Entity>(stale, limit))
            .exec(&self.db)
            .await
            .map_err(db_err("refresh_families.sweep_revoke"))?
            .rows_affected;
        // Their tokens go with them (ON DELETE CASCADE).
        let old = Condition::any()
            .add(
                Condition::all()
                    .add(families::Column::Revoked.eq(true))
                    .add(families::Column::RevokedAt.lt(purge_before)),
            )
            .add(families::Column::ExpiresAt.lt(purge_before));
        let purged = delete_bounded::<families::Entity>(
            &self.db,
            old,
            limit.saturating_sub(revoked),
            "refresh_families.sweep_purge",
        )
        .await?;
        Ok(revoked + purged)
    }
}
