//! Latchkey's domain: entities and their state machines, the clock and
//! randomness the rest of the server is given, and the storage ports (traits)
//! that adapters implement. Nothing here knows about HTTP, SQL or JOSE
//! libraries; the only outside world it touches is the system clock and the
//! OS random source, both behind traits so tests can replace them.

pub mod attempts;
pub mod clock;
pub mod device;
pub mod entities;
pub mod events;
pub mod ids;
pub mod keys;
pub mod ports;
pub mod registration;
pub mod rotation;
pub mod store_error;
pub mod sweep;

pub use attempts::{AttemptCounter, CounterError, Hit, UsedOnce};
pub use clock::{Clock, MockClock, OsRandom, Random, SystemClock};
pub use device::{DeviceApproval, DeviceAuthorization, DeviceRepository, DeviceState};
pub use entities::*;
pub use events::{AuditEvent, RevokeReason};
pub use ids::{FamilyId, Jti, Kid, SessionId, TokenHash, UserId};
pub use ports::*;
pub use registration::*;
pub use sweep::{Sweep, SweepKind, SweepRepository};
