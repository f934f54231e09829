//! Latchkey's database schema, as sea-orm migrations that run unchanged on
//! SQLite and Postgres. This crate owns table and index definitions only: it
//! must not depend on Latchkey's domain or protocol crates, and nothing here
//! reads or writes rows. Every migration is built with sea-query so the same
//! definition renders for both backends.
//!
//! Conventions: times are BIGINT Unix seconds, ids are TEXT, lists are TEXT
//! holding a JSON array of strings. A change to the schema is a new
//! migration, never an edit of one that has shipped.

use sea_orm_migration::prelude::*;
// What a caller needs to run the migrations (`Migrator::up`).
pub use sea_orm_migration::MigratorTrait;

pub mod m20261124_000001_initial;
pub mod m20261124_000002_tokens;
pub mod m20261124_000003_keys_rotation;
pub mod m20261124_000004_registration;
pub mod m20261201_000005_rotation_by_insert;
pub mod m20261202_000006_side_doors;
pub mod m20261202_000007_registration_by_operator;
pub mod m20261202_000008_login_attempts;
pub mod m20261203_000009_client_compat;
pub mod m20261203_000010_user_claims;
pub mod m20261203_000011_claims_request;
pub mod m20261204_000012_second_factors;
pub mod m20261205_000013_device_authorizations;
pub mod m20261205_000014_pushed_and_bound;
pub mod m20261205_000015_resources;
pub mod m20261205_000016_fapi2;
pub mod m20261206_000017_user_roles;
pub mod m20261207_000018_audit_actor;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_tokens::Migration),
            Box::new(m20261124_000003_keys_rotation::Migration),
            Box::new(m20261124_000004_registration::Migration),
            Box::new(m20261201_000005_rotation_by_insert::Migration),
            Box::new(m20261202_000006_side_doors::Migration),
            Box::new(m20261202_000007_registration_by_operator::Migration),
            Box::new(m20261202_000008_login_attempts::Migration),
            Box::new(m20261203_000009_client_compat::Migration),
            Box::new(m20261203_000010_user_claims::Migration),
            Box::new(m20261203_000011_claims_request::Migration),
            Box::new(m20261204_000012_second_factors::Migration),
            Box::new(m20261205_000013_device_authorizations::Migration),
            Box::new(m20261205_000014_pushed_and_bound::Migration),
            Box::new(m20261205_000015_resources::Migration),
            Box::new(m20261205_000016_fapi2::Migration),
            Box::new(m20261206_000017_user_roles::Migration),
            Box::new(m20261207_000018_audit_actor::Migration),
        ]
    }
}
