//! The Latchkey server assembled: this crate is the only place that names
//! concrete adapters (sea-orm storage, josekit keys, actix-web). `main.rs`
//! is the command line; [`Application`] is what `latchkey serve` runs and
//! what the integration tests start on a random port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

pub mod backchannel;
pub mod egress;
pub mod jwks_fetch;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use latchkey_config::Config;
use latchkey_core::keys::KeySettings;
use latchkey_core::passwords::Argon2Params;
use latchkey_core::{KeyRing, Latchkey, Parts, Settings};
use latchkey_domain::keys::{KeyFactory, SigningAlg};
use latchkey_domain::{AttemptCounter, Clock, KeyRepository, OsRandom, Random, Store, SystemClock};
use latchkey_keys::{JoseKeyFactory, Kek, KeySet};
use latchkey_storage::{PoolOptions, SeaStore};

/// Connects to the configured database.
pub async fn open_store(config: &Config) -> anyhow::Result<SeaStore> {
    let opts = PoolOptions {
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_secs(config.database.connect_timeout_secs),
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        statement_timeout: config
            .database
            .statement_timeout_secs
            .map(Duration::from_secs),
        schema: config.database.schema.clone(),
        generic_plans: config.database.generic_plans,
    };
    latchkey_storage::connect(&config.database_url, &opts)
        .await
        .with_context(|| {
            format!(
                "cannot open the database ({})",
                redact_url(&config.database_url)
            )
        })
}

/// Reads the key-encryption key. It is created only while the database
/// holds no signing key: a new KEK next to keys sealed under another one
/// would orphan them, so a missing file is an error then.
async fn open_kek(config: &Config, store: &dyn KeyRepository) -> anyhow::Result<Kek> {
    let stored = store
        .list_keys()
        .await
        .context("cannot read signing keys")?;
    if stored.is_empty() {
        Ok(Kek::load_or_create(&config.kek_file)?)
    } else {
        Kek::load(&config.kek_file)
            .context("the database holds signing keys sealed under a key-encryption key")
    }
}

/// The `[keys]` settings as the core reads them (validated by the
/// configuration layer, so every algorithm name parses).
pub fn key_settings(config: &Config) -> anyhow::Result<KeySettings> {
    let k = &config.keys;
    Ok(KeySettings {
        algorithms: k
            .algorithms
            .iter()
            .map(|a| SigningAlg::parse(a).map_err(|e| anyhow::anyhow!("keys.algorithms: {e}")))
            .collect::<anyhow::Result<_>>()?,
        rotation_period: k.rotation_period as i64,
        propagation: k.propagation() as i64,
        jwks_max_age: k.jwks_max_age as i64,
        check_interval: k.check_interval as i64,
        clock_skew: k.clock_skew as i64,
    })
}

/// The `[registration]` settings as the core reads them.
pub fn registration_settings(
    config: &Config,
) -> anyhow::Result<latchkey_core::registration::RegistrationSettings> {
    let r = &config.registration;
    Ok(latchkey_core::registration::RegistrationSettings {
        open: r.open,
        allowed_scope: latchkey_protocol::Scope::parse(&r.allowed_scopes.join(" "))
            .map_err(|e| anyhow::anyhow!("registration.allowed_scopes: {e}"))?,
        secret_grace: r.secret_grace,
        secret_lifetime: r.secret_lifetime,
        assertion_max_lifetime: r.assertion_max_lifetime,
        allow_internal_uris: r.allow_internal_uris,
    })
}

/// Builds the core from configuration with the given clock (tests pass a
/// mock clock).
pub async fn build_core(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Latchkey> {
    let store = open_store(config).await?;
    if config.migrate_on_start {
        store.migrate().await.context("database migration failed")?;
    }
    let kek = open_kek(config, &store).await?;
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let mut settings = Settings::for_issuer(&config.issuer);
    settings.access_token_ttl = config.tokens.access_token_ttl;
    settings.id_token_ttl = config.tokens.id_token_ttl;
    settings.code_ttl = config.tokens.code_ttl;
    settings.keys = key_settings(config)?;
    settings.session_ttl = config.tokens.session_ttl;
    settings.refresh_family_lifetime = config.refresh.family_lifetime;
    settings.refresh_idle_timeout = config.refresh.idle_timeout;
    settings.refresh_recovery_window = config.refresh.recovery_window;
    settings.revocation_mirror_staleness = config.revocations.max_staleness_secs;
    settings.registration = registration_settings(config)?;
    if let Some(aud) = &config.tokens.access_token_audience {
        settings.access_token_audience = aud.clone();
    }
    settings.argon2 = Argon2Params {
        memory_kib: config.passwords.argon2_memory_kib,
        iterations: config.passwords.argon2_iterations,
        parallelism: config.passwords.argon2_parallelism,
    };
    let redis = match &config.redis_url {
        Some(url) => Some(
            latchkey_cache::RedisRevocations::connect(url, &config.redis_prefix)
                .await
                .with_context(|| format!("cannot reach Redis at {}", redact_url(url)))?,
        ),
        None => None,
    };
    // Sign-in attempts are counted where every instance sees them: Redis,
    // else a shared Postgres; a SQLite server is one instance, and counts
    // in memory.
    let attempt_counter: Option<Arc<dyn AttemptCounter>> = match &redis {
        Some(r) => Some(Arc::new(r.attempts())),
        None if !config.is_sqlite() => Some(Arc::new(store.clone())),
        None => None,
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
        revocation_cache: redis
            .clone()
            .map(|r| Arc::new(r) as Arc<dyn latchkey_domain::RevocationCache>),
        jwks_fetcher: Some(Arc::new(jwks_fetch::HttpJwksFetcher::new(
            config,
            Arc::new(egress::SystemLookup),
        )?)),
        attempt_counter,
    });
    core.tick_keys().await.with_context(|| {
        format!(
            "cannot load the signing keys with the key-encryption key {}",
            config.kek_file.display()
        )
    })?;
    Ok(core)
}

/// A running HTTP server and what it serves.
pub struct Application {
    pub port: u16,
    pub core: web::Data<Latchkey>,
    server: Server,
}

impl Application {
    /// Binds `config.bind` (port 0 picks a free port; the issuer is then
    /// rewritten to that port if it pointed at port 0) and builds the app.
    pub async fn build(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        if config.issuer.ends_with(":0") {
            config.issuer = format!("{}{}", config.issuer.trim_end_matches('0'), port);
        }
        let core = web::Data::new(build_core(&config, clock).await?);
        core.sync_revocations()
            .await
            .context("cannot load revocations")?;
        let deliverer =
            backchannel::Deliverer::new(core.clone().into_inner(), Arc::new(egress::SystemLookup))?;
        spawn_background(
            core.clone(),
            Duration::from_millis(config.revocations.sync_interval_ms),
            deliverer,
        );
        if let Some(url) = &config.redis_url {
            // Other instances' revocations arrive here within milliseconds.
            let subscriber = latchkey_cache::RedisRevocations::connect(url, &config.redis_prefix)
                .await
                .with_context(|| format!("cannot reach Redis at {}", redact_url(url)))?;
            let mirror = core.clone();
            tokio::spawn(subscriber.subscribe(move |batch| mirror.revocations.insert(&batch)));
        }
        spawn_key_checks(core.clone());
        let data = core.clone();
        let grants = web::Data::new(latchkey_http::GrantRuntime(
            tokio::runtime::Handle::current(),
        ));
        let https = core.settings.secure_cookies();
        let proxies = web::Data::new(latchkey_http::TrustedProxies::new(
            config.trusted_proxy_networks(),
        ));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(grants.clone())
                .app_data(proxies.clone())
                .wrap(latchkey_http::security_headers(https))
                .configure(latchkey_http::configure)
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        Ok(Application {
            port,
            core,
            server: server.run(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.core.settings.issuer
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Runs the server on the current runtime in the background.
    pub fn spawn(self) -> (u16, web::Data<Latchkey>) {
        let port = self.port;
        let core = self.core.clone();
        tokio::spawn(self.server);
        (port, core)
    }
}

/// The server's background work: sweeping expired rows, keeping the
/// revocation mirror in sync, and delivering back-channel logouts.
fn spawn_background(
    core: web::Data<Latchkey>,
    sync_every: Duration,
    deliverer: backchannel::Deliverer,
) {
    let sweeper = core.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match sweeper.sweep().await {
                Ok(0) => {}
                Ok(rows) => tracing::debug!(rows, "swept expired rows"),
                Err(e) => tracing::warn!(error = %e, "sweep failed"),
            }
        }
    });
    let sync = core.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sync_every);
        loop {
            tick.tick().await;
            if let Err(e) = sync.sync_revocations().await {
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
    let every = Duration::from_secs(core.settings.keys.check_interval.max(1) as u64);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = core.tick_keys().await {
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
