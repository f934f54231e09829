//! `latchkey serve` and `latchkey migrate`.

use anyhow::Context;
use latchkey::{system_clock, Application};
use latchkey_config::Config;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config, system_clock()).await?;
    let issuer = app.issuer().to_owned();
    eprintln!(
        "Latchkey is listening on port {port}; issuer {issuer}\n\
         Discovery: {issuer}/.well-known/openid-configuration\n\
         Next, in another terminal:\n  \
         echo 'a-long-password' | cargo run -q -- user add alice --password-stdin\n  \
         cargo run -q -- client add --name 'My app' --redirect-uri http://127.0.0.1:3000/callback --json",
        port = app.port
    );
    app.run().await.context("server failed")
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = latchkey::open_store(config).await?;
    store.migrate().await.context("migration failed")?;
    println!("database is up to date");
    Ok(())
}
