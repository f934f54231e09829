//! Operator actions on users, clients, sessions and tokens, shared by the
//! command line and the admin API so both follow the same rules. One file
//! per resource; [`AdminError`] is how all of them fail.

pub mod clients;
pub mod console;
pub mod keys;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use clients::{AdminClients, ClientChanges, ClientSettings, CompatWarning, NewClient};
pub use console::{AdminConsole, AuditQuery, ConsoleAccess};
pub use keys::AdminKeys;
pub use sessions::AdminSessions;
pub use tokens::AdminTokens;
pub use users::{AdminUsers, UserChanges};

use latchkey_domain::StoreError;

use crate::error::CoreError;
use crate::passwords::PasswordError;
use crate::Latchkey;

pub use crate::audit::Actor;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Exists(&'static str),
    /// Client metadata that broke a registration rule (RFC 7591 §3.2.2).
    #[error("{0}")]
    Metadata(latchkey_protocol::OAuthError),
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Too many password checks: try again after this many seconds.
    #[error("too many attempts; try again in {wait_secs} seconds")]
    Throttled { wait_secs: i64 },
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Core(e.into())
    }
}

impl From<PasswordError> for AdminError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::BadLength => AdminError::Invalid(e.to_string()),
            PasswordError::Hash(m) => AdminError::Core(CoreError::Internal(m)),
        }
    }
}

/// A random (version 4) UUID from the injected source, for user ids.
fn uuid_like(random: &dyn latchkey_domain::Random) -> latchkey_domain::UserId {
    let mut b = [0u8; 16];
    random.fill(&mut b);
    latchkey_domain::UserId::new(uuid::Builder::from_random_bytes(b).into_uuid().to_string())
}

/// The operator's services, one per resource, for one named operator:
/// every audit event they cause says who acted.
#[derive(Clone, Copy)]
pub struct Admin<'a> {
    app: &'a Latchkey,
    actor: Actor<'a>,
}

impl<'a> Admin<'a> {
    pub(crate) fn new(app: &'a Latchkey, actor: Actor<'a>) -> Admin<'a> {
        Admin { app, actor }
    }

    pub fn users(&self) -> AdminUsers<'a> {
        AdminUsers::new(self.app).acting_for(self.actor)
    }

    pub fn clients(&self) -> AdminClients<'a> {
        AdminClients::new(self.app).acting_for(self.actor)
    }

    pub fn sessions(&self) -> AdminSessions<'a> {
        AdminSessions::new(self.app).acting_for(self.actor)
    }

    pub fn tokens(&self) -> AdminTokens<'a> {
        AdminTokens::new(self.app).acting_for(self.actor)
    }

    pub fn keys(&self) -> AdminKeys<'a> {
        AdminKeys::new(self.app).acting_for(self.actor)
    }

    pub fn console(&self) -> AdminConsole<'a> {
        AdminConsole::new(self.app).acting_for(self.actor)
    }
}

/// Where an operator is recognised, before anyone acts: an admin API
/// token, a console user's role and second factor.
#[derive(Clone, Copy)]
pub struct Doors<'a> {
    app: &'a Latchkey,
}

impl<'a> Doors<'a> {
    pub(crate) fn new(app: &'a Latchkey) -> Doors<'a> {
        Doors { app }
    }

    /// The admin token a request presents, if it is a live one.
    pub async fn api_token(
        &self,
        token: &str,
    ) -> Result<Option<latchkey_domain::AdminToken>, CoreError> {
        AdminTokens::new(self.app).check_admin_token(token).await
    }

    /// Whether `me` may use the console now.
    pub async fn console(
        &self,
        me: &crate::authorize::SignedIn,
    ) -> Result<ConsoleAccess, AdminError> {
        AdminConsole::new(self.app).access(me).await
    }
}

/// A new registration (initial access) or admin token: the value is shown
/// once; only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub struct IssuedToken<T> {
    pub token: String,
    pub record: T,
}

/// Initial access tokens start with this, admin tokens with `lka_`, so a
/// token pasted in the wrong place is recognisable (and refused).
const REGISTRATION_TOKEN_PREFIX: &str = "lkr_";
const ADMIN_TOKEN_PREFIX: &str = "lka_";

impl AdminError {
    /// The wire error for the admin API.
    pub fn to_oauth(&self) -> latchkey_protocol::OAuthError {
        use latchkey_protocol::{ErrorCode, OAuthError};
        match self {
            AdminError::Invalid(m) => OAuthError::invalid_request(m.clone()),
            AdminError::NotFound(what) => {
                OAuthError::new(ErrorCode::NotFound, format!("no such {what}"))
            }
            AdminError::Exists(what) => {
                OAuthError::invalid_request(format!("{what} already exists"))
            }
            AdminError::Metadata(e) => e.clone(),
            AdminError::Core(e) => e.to_oauth(),
            AdminError::Throttled { .. } => OAuthError::invalid_request(self.to_string()),
        }
    }
}
