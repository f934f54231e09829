//! Latchkey's signing keys: the key-encryption key that seals them at rest,
//! key generation, and the in-memory [`KeySet`] that signs and verifies
//! Latchkey's own JWTs and serves the JWKS, the verifier of JWTs signed
//! with a client's registered keys, and [`JoseKeyFactory`], the domain's
//! `KeyFactory`. This is the only crate that uses
//! josekit (and OpenSSL directly); nothing else hand-rolls JOSE or crypto.
//! It implements `latchkey_domain::keys::TokenSigner` and must not depend on
//! storage, HTTP, configuration or the core: it is given records and a KEK,
//! and does no I/O beyond reading or creating the KEK file.

mod dpop;
mod factory;
mod foreign;
mod generate;
mod kek;
mod keyset;
#[cfg(test)]
mod properties;

pub use dpop::verify_proof as verify_dpop_proof;
pub use factory::JoseKeyFactory;
pub use foreign::verify_with_jwks;
pub use generate::{generate_signing_key, seal_new_key, Alg, GeneratedKey};
pub use kek::{Kek, KekError};
pub use keyset::KeySet;
