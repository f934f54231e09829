//! `latchkey backup` and `latchkey restore`: an online, consistent copy of
//! the SQLite database, and putting one back. PostgreSQL is backed up with
//! its own tools (docs/deployment.md).

use std::path::Path;

use anyhow::{bail, Context};
use latchkey_config::Config;
use latchkey_storage::PoolOptions;

/// The key-encryption key is not in the copy: without it the signing keys
/// in the database cannot be opened.
fn kek_reminder(config: &Config) -> String {
    format!(
        "keep it with a copy of the key-encryption key ({}): the signing keys in it are sealed under that key",
        config.storage.kek_file.display()
    )
}

pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<()> {
    let Some(db) = config.storage.sqlite_file() else {
        bail!("latchkey backup copies the SQLite database; back PostgreSQL up with pg_dump (docs/deployment.md)");
    };
    if !db.is_file() {
        bail!("there is no database at {} to back up", db.display());
    }
    if to.exists() {
        bail!(
            "{} exists; a backup is never written over a file",
            to.display()
        );
    }
    let store = latchkey::open_store(config).await?;
    store
        .backup_into(to)
        .await
        .with_context(|| format!("cannot write the backup to {}", to.display()))?;
    private(to)?;
    println!("backed up to {}; {}", to.display(), kek_reminder(config));
    Ok(())
}

pub async fn restore(config: &Config, from: &Path, force: bool) -> anyhow::Result<()> {
    let Some(db) = config.storage.sqlite_file() else {
        bail!("latchkey restore puts back a SQLite backup; restore PostgreSQL with pg_restore (docs/deployment.md)");
    };
    if !from.is_file() {
        bail!("{}: no such backup file", from.display());
    }
    if db.exists() && !force {
        bail!(
            "{} exists: stop the server, then run again with --force to replace it",
            db.display()
        );
    }
    // A copy beside the database, checked to be a sound Latchkey database
    // before anything is replaced (the backup itself is only read), then
    // renamed into place. A write-ahead log of the replaced database
    // belongs to it, not to the backup.
    let dir = db.parent().context("the database path has no directory")?;
    std::fs::create_dir_all(dir)?;
    let staged = dir.join(".latchkey-restore.tmp");
    std::fs::copy(from, &staged).with_context(|| format!("cannot copy {}", from.display()))?;
    private(&staged)?;
    let checked = async {
        let copy = latchkey_storage::connect(
            &format!("sqlite://{}", staged.display()),
            &PoolOptions::default(),
        )
        .await?;
        let migrations = copy.check_latchkey_database().await?;
        copy.close().await;
        Ok::<usize, latchkey_domain::StoreError>(migrations)
    }
    .await;
    let migrations = match checked {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!(".latchkey-restore.tmp{suffix}")));
            }
            return Err(anyhow::Error::new(e)
                .context(format!("{} is not a sound Latchkey backup", from.display())));
        }
    };
    std::fs::File::open(&staged)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let side = db.with_file_name(format!(
            "{}{suffix}",
            db.file_name().unwrap_or_default().to_string_lossy()
        ));
        if side.exists() {
            std::fs::remove_file(&side)?;
        }
    }
    std::fs::rename(&staged, &db)?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!(".latchkey-restore.tmp{suffix}")));
    }
    println!(
        "restored {} from {} ({migrations} migrations; `latchkey migrate` or `serve` applies newer ones); {}",
        db.display(),
        from.display(),
        kek_reminder(config)
    );
    Ok(())
}

/// The copy holds what the database holds: readable by its owner only.
fn private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    let _ = path;
    Ok(())
}
