//! Client registration and management (RFC 7591/7592, the admin API): the
//! registration record kept beside a client, the tokens that open
//! registration and the admin API, and the storage port for all of it.
//!
//! The registration record holds the metadata that is read only when a
//! client is registered, shown or authenticated with its own keys
//! (`private_key_jwt`), so the [`Client`] read on every token request
//! stays as it is. Every token here is a 256-bit random value stored as
//! its SHA-256.

use async_trait::async_trait;
use latchkey_protocol::ClientId;

use crate::entities::{Client, LogoutDelivery, RevokedToken};
use crate::store_error::StoreResult;

/// What a client registered beyond what the token endpoint reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRegistration {
    /// SHA-256 of the registration access token (RFC 7592), for clients
    /// registered through `POST /register`; None for clients created by an
    /// operator.
    pub registration_token_hash: Option<String>,
    /// The client's JWK Set as JSON text (`private_key_jwt`).
    pub jwks: Option<String>,
    /// Where the client publishes its JWK Set (`private_key_jwt`).
    pub jwks_uri: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub contacts: Vec<String>,
    /// An operator (command line, admin API) created or last changed the
    /// client's metadata, so the URLs Latchkey connects to for it may lead
    /// into its own network ([`Reach::Anywhere`]). False for metadata a
    /// client sent itself (RFC 7591/7592).
    pub by_operator: bool,
}

/// Which addresses a request Latchkey makes for a client (fetching its
/// `jwks_uri`, posting to its `backchannel_logout_uri`) may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only, over https: every address a host name
    /// resolves to is checked, and the checked address is the one used.
    PublicOnly,
    /// Any address: an operator vouched for the client, or allows
    /// internal URLs for every client.
    Anywhere,
}

/// An initial access token (RFC 7591 §3): lets its bearer register
/// clients, `uses_left` more times, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessToken {
    /// A public id, for listing and deleting.
    pub id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: i64,
}

impl InitialAccessToken {
    pub fn usable(&self, now: i64) -> bool {
        now < self.expires_at && self.uses_left > 0
    }
}

/// A token for the admin API (`latchkey admin-token create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: String,
    pub token_hash: String,
    pub name: String,
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
}

impl AdminToken {
    /// The lifetime of a token created before tokens had one.
    pub const DEFAULT_LIFETIME: i64 = 90 * 86_400;
}

/// A secret rotation: the current secret becomes the previous one, valid
/// until `previous_expires_at`, and `new_hash` becomes the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRotation {
    /// The current secret hash the caller read; the rotation applies only
    /// if it is still the current one, so of two concurrent rotations one
    /// wins and no secret is lost without its grace period.
    pub seen_hash: Option<String>,
    pub new_hash: String,
    pub new_expires_at: Option<i64>,
    pub previous_expires_at: i64,
    pub now: i64,
}

/// A registration access token rotation (RFC 7592 §3: every read and
/// update answers with a new token). It applies only while `seen_hash` is
/// still the stored hash, so of concurrent calls presenting the same token
/// exactly one gets a working new token, and the presented one stops
/// working at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTokenRotation {
    /// The hash of the token the caller presented.
    pub seen_hash: String,
    /// The hash of the token it gets back.
    pub new_hash: String,
}

#[async_trait]
pub trait RegistrationRepository: Send + Sync {
    /// Inserts a client and its registration record in one transaction.
    async fn insert_registered_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
    ) -> StoreResult<()>;
    /// Replaces a client's metadata and its registration record (created if
    /// missing) in one transaction; false, changing nothing, if the client
    /// does not exist or `rotation` no longer applies. An existing record
    /// keeps its registration access token hash (whatever `registration`
    /// says): only a rotation changes it, so a metadata change written from
    /// an older read cannot bring back a rotated-away token.
    async fn update_registered_client(
        &self,
        client: &Client,
        registration: &ClientRegistration,
        rotation: Option<&RegistrationTokenRotation>,
    ) -> StoreResult<bool>;
    /// Applies a rotation with one conditional UPDATE; false, changing
    /// nothing, if the client is gone or its token changed meanwhile.
    async fn rotate_registration_token(
        &self,
        id: &ClientId,
        rotation: &RegistrationTokenRotation,
    ) -> StoreResult<bool>;
    /// The client's registration record, if it has one.
    async fn find_registration(&self, id: &ClientId) -> StoreResult<Option<ClientRegistration>>;
    /// Applies a rotation with one conditional UPDATE; false, changing
    /// nothing, if the client is gone or its secret changed meanwhile.
    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        rotation: &SecretRotation,
    ) -> StoreResult<bool>;
    /// Records `revocation` and deletes the client (its codes, consents,
    /// refresh families and registration go with it) in one transaction.
    /// With `token_hash`, only while that is still the client's
    /// registration access token hash. False, changing nothing, otherwise
    /// or if there is no such client.
    async fn delete_client_revoking(
        &self,
        id: &ClientId,
        revocation: &RevokedToken,
        token_hash: Option<&str>,
    ) -> StoreResult<bool>;

    async fn insert_initial_token(&self, token: &InitialAccessToken) -> StoreResult<()>;
    async fn find_initial_token(&self, token_hash: &str)
        -> StoreResult<Option<InitialAccessToken>>;
    /// Uses the token once: one conditional UPDATE that decrements
    /// `uses_left` only while it is positive and the token unexpired. Of
    /// concurrent calls, at most `uses_left` succeed.
    async fn consume_initial_token(&self, token_hash: &str, now: i64) -> StoreResult<bool>;
    async fn list_initial_tokens(&self) -> StoreResult<Vec<InitialAccessToken>>;
    async fn delete_initial_token(&self, id: &str) -> StoreResult<bool>;

    async fn insert_admin_token(&self, token: &AdminToken) -> StoreResult<()>;
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>>;
    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>>;
    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool>;

    /// Records a client assertion's `jti` until `expires_at`: true the
    /// first time, false if the client already used it (a replay). One
    /// insert against a unique key, so of concurrent uses exactly one wins.
    async fn record_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
    ) -> StoreResult<bool>;
}

/// Fetches a client's JWK Set from the `jwks_uri` it registered (an
/// outbound HTTPS GET, done by the binary's HTTP client): https only, no
/// redirects, bounded in time and size, to the addresses `reach` allows.
/// Returns the document's text.
#[async_trait]
pub trait JwksFetcher: Send + Sync {
    async fn fetch_jwks(&self, uri: &str, reach: Reach) -> Result<String, String>;
}

/// Why a back-channel logout delivery failed, and whether another attempt
/// may succeed: a receiver that is down may come back, a refused address
/// stays refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub error: String,
    pub again: bool,
}

/// Sends one back-channel logout token to its receiver (OIDC Back-Channel
/// Logout 1.0 §2.5), connecting only where `reach` allows. The HTTP work is
/// the binary's; the outbox rules (claims, retries, backoff) are the core's.
#[async_trait]
pub trait LogoutSender: Send + Sync {
    async fn send_logout(&self, delivery: &LogoutDelivery, reach: Reach)
        -> Result<(), SendFailure>;
}
