//! The Latchkey server assembled: this crate is the only place that names
//! concrete adapters (sea-orm storage, josekit keys, actix-web). `main.rs`
//! is the command line; [`Application`] is what `latchkey serve` runs and
//! what the integration tests start on a random port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use latchkey_config::Config;
use latchkey_core::passwords::Argon2Params;
use latchkey_core::{KeyRing, Latchkey, Parts, Settings};
use latchkey_domain::keys::{KeyState, TokenSigner};
use latchkey_domain::{Clock, KeyRepository, OsRandom, Random, Store, SystemClock};
use latchkey_keys::{Alg, Kek, KeySet};
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
        schema: None,
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

/// Loads the published keys, creating the first signing key on a fresh
/// database.
pub async fn load_keys(
    store: &dyn KeyRepository,
    kek: &Kek,
    clock: &dyn Clock,
    random: &dyn Random,
) -> anyhow::Result<KeySet> {
    let records = store
        .list_keys()
        .await
        .context("cannot read signing keys")?;
    if records.iter().any(|r| r.state == KeyState::Current) {
        return KeySet::from_records(&records, kek)
            .context("cannot load signing keys (is this the right key-encryption key?)");
    }
    let kid = random.id();
    let now = clock.unix();
    let kek2 = kek.clone();
    // RSA key generation takes a while: keep it off the async executor.
    let record = tokio::task::spawn_blocking(move || {
        latchkey_keys::seal_new_key(&kek2, Alg::RS256, kid, now, now, KeyState::Current)
    })
    .await
    .context("key generation task failed")?
    .context("cannot generate a signing key")?;
    store
        .insert_key(&record)
        .await
        .context("cannot store the new signing key")?;
    tracing::info!(kid = %record.kid, alg = %record.alg, "generated the first signing key");
    let records = store
        .list_keys()
        .await
        .context("cannot read signing keys")?;
    KeySet::from_records(&records, kek).context("cannot load signing keys")
}

/// Builds the core from configuration with the given clock (tests pass a
/// mock clock).
pub async fn build_core(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Latchkey> {
    let store = open_store(config).await?;
    if config.migrate_on_start {
        store.migrate().await.context("database migration failed")?;
    }
    let kek = Kek::load_or_create(&config.kek_file)?;
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let keys = load_keys(&store, &kek, &*clock, &*random).await?;
    let signer: Arc<dyn TokenSigner> = Arc::new(keys);
    let mut settings = Settings::for_issuer(&config.issuer);
    settings.access_token_ttl = config.tokens.access_token_ttl;
    settings.id_token_ttl = config.tokens.id_token_ttl;
    settings.code_ttl = config.tokens.code_ttl;
    settings.session_ttl = config.tokens.session_ttl;
    if let Some(aud) = &config.tokens.access_token_audience {
        settings.access_token_audience = aud.clone();
    }
    settings.argon2 = Argon2Params {
        memory_kib: config.passwords.argon2_memory_kib,
        iterations: config.passwords.argon2_iterations,
        parallelism: config.passwords.argon2_parallelism,
    };
    let store: Arc<dyn Store> = Arc::new(store);
    Ok(Latchkey::new(Parts {
        store,
        keys: KeyRing::new(signer),
        clock,
        random,
        settings,
        secret_pepper: kek.derive("client-secret-pepper"),
        csrf_key: kek.derive("csrf"),
    }))
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
        spawn_sweeper(core.clone());
        let data = core.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(latchkey_http::security_headers())
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

/// Deletes expired codes, pending requests and revocations now and then.
fn spawn_sweeper(core: web::Data<Latchkey>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            match core.store.sweep_expired(core.clock.unix()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "swept expired rows"),
                Err(e) => tracing::warn!(error = %e, "sweep failed"),
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
