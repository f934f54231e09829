//! The Latchkey server assembled: this crate is the only place that names
//! concrete adapters (sea-orm storage, josekit keys, actix-web). `main.rs`
//! is the command line; [`Application`] is what `latchkey serve` runs and
//! what the integration tests start on a random port.

use latchkey_core::admin::Actor;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

pub mod backchannel;
pub mod egress;
pub mod jwks_fetch;
pub mod telemetry;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use latchkey_config::Config;
use latchkey_core::{KeyRing, Latchkey, Parts, Settings};
use latchkey_domain::keys::KeyFactory;
use latchkey_domain::{AttemptCounter, Clock, KeyRepository, OsRandom, Random, Store, SystemClock};
use latchkey_keys::{JoseKeyFactory, Kek, KeySet};
use latchkey_storage::{PoolOptions, SeaStore};

/// Connects to the configured database.
pub async fn open_store(config: &Config) -> anyhow::Result<SeaStore> {
    let db = &config.database;
    let opts = PoolOptions {
        max_connections: db.max_connections,
        connect_timeout: db.connect_timeout(),
        acquire_timeout: db.acquire_timeout(),
        statement_timeout: db.statement_timeout(),
        schema: db.schema.clone(),
        generic_plans: db.generic_plans,
    };
    let url = &config.storage.database_url;
    latchkey_storage::connect(url, &opts)
        .await
        .with_context(|| format!("cannot open the database ({})", redact_url(url)))
}

/// Reads the key-encryption key. It is created only while the database
/// holds no signing key: a new KEK next to keys sealed under another one
/// would orphan them, so a missing file is an error then.
async fn open_kek(config: &Config, store: &dyn KeyRepository) -> anyhow::Result<Kek> {
    let stored = store
        .list_keys()
        .await
        .context("cannot read signing keys")?;
    let file = &config.storage.kek_file;
    if stored.is_empty() {
        Ok(Kek::load_or_create(file)?)
    } else {
        Kek::load(file).context("the database holds signing keys sealed under a key-encryption key")
    }
}

/// Builds the core from configuration with the given clock (tests pass a
/// mock clock).
pub async fn build_core(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Latchkey> {
    let store = open_store(config).await?;
    if config.storage.migrate_on_start {
        store.migrate().await.context("database migration failed")?;
    }
    let kek = open_kek(config, &store).await?;
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let settings = Settings::new(config);
    let redis = match &config.storage.redis_url {
        Some(url) => Some(connect_redis(url, config).await?),
        None => None,
    };
    // Sign-in attempts are counted where every instance sees them: Redis,
    // else a shared Postgres; a SQLite server is one instance, and counts
    // in memory.
    let attempt_counter: Option<Arc<dyn AttemptCounter>> = match &redis {
        Some(r) => Some(Arc::new(r.attempts())),
        None if !config.storage.is_sqlite() => Some(Arc::new(store.clone())),
        None => None,
    };
    // DPoP proof jtis: Redis, else the database (SQLite too: one write per
    // proof, and nothing lost across a restart).
    let used_once: Arc<dyn latchkey_domain::UsedOnce> = match &redis {
        Some(r) => Arc::new(r.attempts()),
        None => Arc::new(store.clone()),
    };
    let store: Arc<dyn Store> = Arc::new(store);
    // No key is loaded yet: the key service's first tick opens the stored
    // keys (failing on a wrong KEK before it changes anything) or, on a
    // fresh database, creates the first one.
    let empty = KeySet::for_algorithms(&[], &kek, &settings.keys.algorithms)?;
    let key_factory: Arc<dyn KeyFactory> = Arc::new(JoseKeyFactory::new(kek.clone()));
    let core = Latchkey::new(Parts {
        store,
        keys: KeyRing::new(Arc::new(empty)),
        key_factory,
        clock,
        random,
        settings,
        secret_pepper: kek.derive("client-secret-pepper"),
        csrf_key: kek.derive("csrf"),
        factor_key: kek.derive("second-factor-secrets"),
        revocation_cache: redis
            .clone()
            .map(|r| Arc::new(r) as Arc<dyn latchkey_domain::RevocationCache>),
        jwks_fetcher: Some(Arc::new(jwks_fetch::HttpJwksFetcher::new(
            config,
            Arc::new(egress::SystemLookup),
        )?)),
        attempt_counter,
        used_once,
        dpop_nonce_key: kek.derive("dpop-nonce"),
    });
    core.signing_keys().tick().await.with_context(|| {
        format!(
            "cannot load the signing keys with the key-encryption key {}",
            config.storage.kek_file.display()
        )
    })?;
    Ok(core)
}

async fn connect_redis(
    url: &str,
    config: &Config,
) -> anyhow::Result<latchkey_cache::RedisRevocations> {
    latchkey_cache::RedisRevocations::connect(url, &config.storage.redis_prefix)
        .await
        .with_context(|| format!("cannot reach Redis at {}", redact_url(url)))
}

/// A running HTTP server and what it serves.
pub struct Application {
    pub port: u16,
    /// The metrics listener's port, when `metrics_bind` is set.
    pub metrics_port: Option<u16>,
    pub core: web::Data<Latchkey>,
    server: Server,
    metrics: Option<Server>,
}

impl Application {
    /// Binds `bind` (port 0 picks a free port; the issuer is then
    /// rewritten to that port if it pointed at port 0) and builds the app.
    pub async fn build(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let bind = config.server.bind;
        let listener =
            TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match config.server.metrics_bind {
            Some(at) => Some(
                TcpListener::bind(at)
                    .with_context(|| format!("cannot listen on {at} (metrics_bind)"))?,
            ),
            None => None,
        };
        config.server.issuer = config.server.issuer.with_bound_port(port);
        let core = web::Data::new(build_core(&config, clock).await?);
        core.revocations()
            .sync()
            .await
            .context("cannot load revocations")?;
        let deliverer =
            backchannel::Deliverer::new(core.clone().into_inner(), Arc::new(egress::SystemLookup))?;
        spawn_background(
            core.clone(),
            Duration::from_millis(config.revocations.sync_interval_ms),
            deliverer,
        );
        if let Some(url) = &config.storage.redis_url {
            // Other instances' revocations arrive here within milliseconds.
            let subscriber = connect_redis(url, &config).await?;
            let mirror = core.clone();
            tokio::spawn(subscriber.subscribe(move |batch| mirror.revocations().receive(&batch)));
        }
        spawn_key_checks(core.clone());
        warn_compat(&core).await?;
        let data = core.clone();
        let grants = web::Data::new(latchkey_http::GrantRuntime(
            tokio::runtime::Handle::current(),
        ));
        let https = core.settings().secure_cookies();
        let proxies = web::Data::new(latchkey_http::TrustedProxies::new(
            config.server.trusted_proxies.clone(),
        ));
        let trace_context = web::Data::new(latchkey_http::observe::TraceContext(Box::new(
            telemetry::adopt_parent,
        )));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(grants.clone())
                .app_data(proxies.clone())
                .app_data(trace_context.clone())
                .wrap(latchkey_http::security_headers(https))
                .wrap(actix_web::middleware::from_fn(
                    latchkey_http::observe::observe,
                ))
                .configure(latchkey_http::configure)
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        let (metrics, metrics_port) = match metrics_listener {
            Some(l) => {
                let port = l.local_addr()?.port();
                (Some(metrics_server(core.clone(), l)?), Some(port))
            }
            None => (None, None),
        };
        Ok(Application {
            port,
            metrics_port,
            core,
            server: server.run(),
            metrics,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.core.settings().issuer
    }

    /// Serves until the public server stops (the metrics listener, if
    /// any, stops with it).
    pub async fn run(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|m| {
            let handle = m.handle();
            (tokio::spawn(m), handle)
        });
        let served = self.server.await;
        if let Some((task, handle)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        served
    }

    /// Runs the server on the current runtime in the background.
    pub fn spawn(self) -> (u16, web::Data<Latchkey>) {
        let port = self.port;
        let core = self.core.clone();
        tokio::spawn(self.server);
        if let Some(m) = self.metrics {
            tokio::spawn(m);
        }
        (port, core)
    }
}

/// The metrics listener: `GET /metrics` and nothing else, on one worker,
/// with none of the public routes.
fn metrics_server(core: web::Data<Latchkey>, listener: TcpListener) -> anyhow::Result<Server> {
    async fn scrape(core: web::Data<Latchkey>) -> actix_web::HttpResponse {
        match core.scrape().render().await {
            Ok(body) => actix_web::HttpResponse::Ok()
                .content_type(latchkey_core::support::metrics::CONTENT_TYPE)
                .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
                .body(body),
            Err(e) => {
                tracing::warn!(error = %e, "metrics scrape failed");
                actix_web::HttpResponse::ServiceUnavailable().finish()
            }
        }
    }
    let server = HttpServer::new(move || {
        App::new()
            .app_data(core.clone())
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}

/// One warning per client whose operator opted it out of the strict
/// defaults (PKCE, nonce), so an opt-out never goes unnoticed.
async fn warn_compat(core: &Latchkey) -> anyhow::Result<()> {
    let clients = core
        .admin(Actor::CommandLine)
        .clients()
        .compat_warnings()
        .await
        .context("cannot list the clients")?;
    for c in clients {
        tracing::warn!(
            client_id = %c.client_id,
            client_name = %c.name,
            "client opted out of strict defaults: {}",
            c.warnings.join("; ")
        );
    }
    // A client on the FAPI 2.0 profile needs a signing algorithm the
    // profile allows; without one its tokens stay RS256.
    let settings = core.settings();
    let fapi2 = settings.fapi2.required
        || core
            .admin(Actor::CommandLine)
            .clients()
            .list()
            .await
            .context("cannot list the clients")?
            .iter()
            .any(|c| c.fapi2);
    let strong = settings
        .keys
        .algorithms
        .iter()
        .any(|a| *a != latchkey_protocol::SigningAlg::RS256);
    if fapi2 && !strong {
        tracing::warn!(
            "clients follow the FAPI 2.0 profile but only RS256 is enabled: enable PS256, ES256 or EdDSA (LATCHKEY_KEYS__ALGORITHMS) for their tokens"
        );
    }
    Ok(())
}

/// How often each kind of expired row is swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Rows per sweep statement: each holds its locks only that long.
const SWEEP_BATCH: u64 = 1000;
/// Batches per run and kind: a backlog drains over several runs rather
/// than in one long burst (at most 10 000 rows a minute per kind).
const SWEEP_MAX_BATCHES: u32 = 10;

/// The server's background work: sweeping expired rows (one task per
/// kind, so a failing kind does not hold up the others), keeping the
/// revocation mirror in sync, and delivering back-channel logouts.
fn spawn_background(
    core: web::Data<Latchkey>,
    sync_every: Duration,
    deliverer: backchannel::Deliverer,
) {
    let kinds = latchkey_domain::SweepKind::ALL;
    for (i, kind) in kinds.into_iter().enumerate() {
        let sweeper = core.clone();
        // Staggered across the interval, so the kinds do not all hit the
        // database at once.
        let first = tokio::time::Instant::now() + SWEEP_EVERY * (i as u32 + 1) / kinds.len() as u32;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(first, SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let run = sweeper.housekeeping();
                match run.sweep_run(kind, SWEEP_BATCH, SWEEP_MAX_BATCHES).await {
                    Ok(o) if o.rows == 0 => {}
                    Ok(o) => tracing::debug!(kind = kind.as_str(), rows = o.rows, "swept"),
                    Err(e) => tracing::warn!(kind = kind.as_str(), error = %e, "sweep failed"),
                }
            }
        });
    }
    let sync = core.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sync_every);
        loop {
            tick.tick().await;
            if let Err(e) = sync.revocations().sync().await {
                tracing::warn!(error = %e, "revocation sync failed; checks fall back to the database");
            }
        }
    });
    tokio::spawn(deliverer.run(Duration::from_secs(1)));
}

/// Every `[keys] check_interval`: applies due rotations and picks up keys
/// that other instances or the command line changed. The first check ran
/// in `build_core`.
fn spawn_key_checks(core: web::Data<Latchkey>) {
    let every = Duration::from_secs(core.settings().keys.check_interval.max(1) as u64);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = core.signing_keys().tick().await {
                tracing::warn!(error = %e, "key rotation check failed; keeping the current keys");
            }
        }
    });
}

/// A database URL fit for a log line: no password.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The real clock, as the server uses it.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
