//! Latchkey's black-box tests: one test binary that starts the real server
//! on 127.0.0.1:0 with a fresh database and drives it over HTTP, with the
//! `openidconnect` and `oauth2` crates as independent relying parties.

mod support;

mod attacks;
mod cache;
mod claims;
mod claims_request;
mod cli;
mod cluster;
mod compat;
mod conformance;
mod conformance_plans;
mod console;
mod device;
mod dpop;
mod fapi;
mod faults;
mod flows;
mod fuzz;
mod housekeeping;
mod interop;
mod keys;
mod logout;
mod mfa;
mod operations;
mod par;
mod passkeys;
mod profile;
mod proofs;
mod registration;
mod resources;
mod ssrf;
mod throttle;
mod tokens;
mod vocabulary;
