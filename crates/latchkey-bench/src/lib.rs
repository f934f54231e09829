//! `latchkey-bench`: loads a real `latchkey serve` over loopback and reads
//! every figure against the machine's ceilings measured in the same run (the
//! server's own signing code, and a trivial handler on the same actix-web).
//! It can load another OpenID provider the same way (`--target`).
//!
//! It starts only processes it owns (the server, its command line, and its
//! own ceiling server), talks only to loopback, and bounds every loop in
//! count and time. It uses the server's crates only as a client would, plus
//! `latchkey-keys` for the signing ceiling; nothing depends on it. See
//! docs/benchmarks.md.

pub mod dpop;
pub mod load;
pub mod procfs;
pub mod report;
pub mod runner;
mod scenarios;
pub mod server;
pub mod signing;
pub mod workloads;
