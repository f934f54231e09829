//! The signing ceiling: how many access tokens per second the server's own
//! signing code (a `latchkey_keys::KeySet` over a freshly sealed key, the
//! same claims) can sign on one core and on every core. No token endpoint
//! can issue JWTs faster than this.

use std::time::{Duration, Instant};

use anyhow::Context;
use latchkey_domain::keys::{KeyState, TokenSigner};
use latchkey_domain::{Kid, OsRandom, Random};
use latchkey_keys::{seal_new_key, Alg, Kek, KeySet};
use latchkey_protocol::claims::{AccessTokenClaims, ACCESS_TOKEN_TYP};
use serde_json::{Map, Value};

use crate::load::interrupted;
use crate::procfs;

/// An upper bound on iterations per thread, whatever the clock says.
const MAX_ITERATIONS: u64 = 50_000_000;
const WINDOWS: u32 = 4;

#[derive(Debug, Clone, Copy)]
pub struct SigningCeiling {
    pub alg: Alg,
    pub sign_one_thread: f64,
    pub sign_all_threads: f64,
    pub verify_all_threads: f64,
    pub threads: usize,
}

/// A key set holding one new current key of `alg`, as the server builds it.
pub fn key_set(alg: Alg) -> anyhow::Result<KeySet> {
    let mut kek = [0u8; 32];
    OsRandom.fill(&mut kek);
    let kek = Kek::from_bytes(kek);
    let record = seal_new_key(
        &kek,
        alg,
        Kid::new(format!("bench-{}", alg.as_str())),
        0,
        0,
        KeyState::Current,
    )?;
    Ok(KeySet::from_records(&[record], &kek)?)
}

/// Claims shaped like a client_credentials access token.
pub fn access_token_claims() -> Map<String, Value> {
    let claims = AccessTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "bench-machine-client-0123456789".into(),
        aud: latchkey_protocol::resource::Audience::One("http://127.0.0.1:8080".into()),
        client_id: "bench-machine-client-0123456789".into(),
        scope: "api:read api:write".into(),
        jti: "Yk3f9Qm2Lr8xWv1Tz5Ns0A".into(),
        iat: 1_750_000_000,
        exp: 1_750_000_300,
        auth_time: None,
        sid: None,
        fid: None,
        ucl: None,
        cnf: None,
    };
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Runs `op` on `threads` threads for about `time`; returns operations per
/// second over all threads.
fn rate_once(threads: usize, time: Duration, op: &(impl Fn() + Sync)) -> f64 {
    let (total, secs) = count_once(threads, time, op);
    total as f64 / secs
}

/// Runs `op` on `threads` threads for about `time`; returns the operations
/// over all threads and the seconds they took.
fn count_once(threads: usize, time: Duration, op: &(impl Fn() + Sync)) -> (u64, f64) {
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while n < MAX_ITERATIONS && start.elapsed() < time && !interrupted() {
                        op();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    (total, start.elapsed().as_secs_f64())
}

/// The best of four windows of `time / 4`: a ceiling is what the machine can
/// do, and a window shared with other work on the machine says less.
fn rate(threads: usize, time: Duration, op: impl Fn() + Sync) -> f64 {
    (0..WINDOWS)
        .map(|_| rate_once(threads, time / WINDOWS, &op))
        .fold(0.0, f64::max)
}

pub fn measure(alg: Alg, threads: usize, time: Duration) -> anyhow::Result<SigningCeiling> {
    measure_with(alg, threads, time, true)
}

/// Signing alone (no verification figure), as measured again just before
/// a scenario that signs.
pub fn measure_signing(alg: Alg, threads: usize, time: Duration) -> anyhow::Result<SigningCeiling> {
    measure_with(alg, threads, time, false)
}

fn measure_with(
    alg: Alg,
    threads: usize,
    time: Duration,
    with_verify: bool,
) -> anyhow::Result<SigningCeiling> {
    let keys = key_set(alg)?;
    let claims = access_token_claims();
    let token = keys
        .sign(ACCESS_TOKEN_TYP, &claims)
        .context("the signing key cannot sign")?
        .token;
    keys.verify(&token, Some(ACCESS_TOKEN_TYP))
        .context("the signing key cannot verify its own token")?;
    let sign = || {
        let _ = std::hint::black_box(keys.sign(ACCESS_TOKEN_TYP, std::hint::black_box(&claims)));
    };
    let verify = || {
        let _ = std::hint::black_box(keys.verify(std::hint::black_box(&token), Some("at+jwt")));
    };
    Ok(SigningCeiling {
        alg,
        sign_one_thread: rate(1, time, sign),
        sign_all_threads: rate(threads, time, sign),
        verify_all_threads: if with_verify {
            rate(threads, time / 2, verify)
        } else {
            0.0
        },
        threads,
    })
}

/// An operation measured on every core: its best rate, and the CPU it
/// took per operation (this process's CPU time over the operations of all
/// windows, which other work on the machine does not inflate).
#[derive(Debug, Clone, Copy)]
pub struct OpCost {
    pub per_second: f64,
    pub cpu_us: Option<f64>,
}

fn op_cost(threads: usize, time: Duration, op: impl Fn() + Sync) -> OpCost {
    let before = procfs::cpu_seconds(None);
    let (mut best, mut total) = (0.0_f64, 0_u64);
    for _ in 0..WINDOWS {
        let (n, secs) = count_once(threads, time / WINDOWS, &op);
        total += n;
        if secs > 0.0 {
            best = best.max(n as f64 / secs);
        }
    }
    let cpu = procfs::cpu_seconds(None).zip(before).map(|(a, b)| a - b);
    OpCost {
        per_second: best,
        cpu_us: cpu.filter(|_| total > 0).map(|c| c * 1e6 / total as f64),
    }
}

/// ES256 verification by the server's code (`KeySet::verify` of an access
/// token), on `threads` threads.
pub fn es256_verify_cost(threads: usize, time: Duration) -> anyhow::Result<OpCost> {
    let keys = key_set(Alg::ES256)?;
    let token = keys
        .sign(ACCESS_TOKEN_TYP, &access_token_claims())
        .context("the signing key cannot sign")?
        .token;
    keys.verify(&token, Some(ACCESS_TOKEN_TYP))
        .context("the signing key cannot verify its own token")?;
    Ok(op_cost(threads, time, || {
        let _ =
            std::hint::black_box(keys.verify(std::hint::black_box(&token), Some(ACCESS_TOKEN_TYP)));
    }))
}

/// DPoP proofs checked by the server's own proof verification (the
/// `KeyFactory` the server uses: the header, the public key, imported once
/// and then kept, the signature, the thumbprint), on one ES256 `proof`:
/// the signature part of a proof check, without the claim rules, the nonce
/// and the replay record.
pub fn proof_verify_cost(proof: &str, threads: usize, time: Duration) -> anyhow::Result<OpCost> {
    use latchkey_domain::keys::KeyFactory;
    let factory = latchkey_keys::JoseKeyFactory::new(Kek::from_bytes([7; 32]));
    factory
        .verify_dpop_proof(proof, &[Alg::ES256])
        .context("the server's proof verification refuses the bench's proof")?;
    Ok(op_cost(threads, time, || {
        let _ = std::hint::black_box(
            factory.verify_dpop_proof(std::hint::black_box(proof), &[Alg::ES256]),
        );
    }))
}
