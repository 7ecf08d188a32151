//! `droplet store info|migrate`: where the repo's records are, and moving them between RocksDB
//! under the repo and a MySQL/MariaDB or PostgreSQL database. The daemon must be stopped (the
//! repo's lock says so otherwise), and no other droplet may be acting on the database (its
//! lease says so).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use droplet::config::Config;
use droplet::repo::Repo;
use droplet::store::Store;
use droplet::store::sql::Schema;
use droplet::store::sql::lease::Claim;
use piece_store::index::PieceIndex;

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Where the records are, and how many of each kind.
    Info,
    /// Copy every record into another store and point config.toml at it. The old store is
    /// left as it was.
    Migrate {
        /// Where to: a Go MySQL DSN or a mysql:// or postgres:// URL, or `rocksdb` for the
        /// repo's own RocksDB (`<repo>/db`).
        #[arg(long)]
        to: String,
        /// Copy even if the destination already holds records: they are removed first (a
        /// migration cut short is run again this way, as is one back into a repo's old RocksDB).
        #[arg(long)]
        force: bool,
    },
}

/// Open the repo's store as config.toml says, taking the repo's lock.
fn open_configured(cfg: &Config, repo: &Repo) -> Result<Store> {
    Ok(match cfg.mysql.store() {
        Some(db) => Store::open_sql(&repo.db_path(), &db)?,
        None => Store::open(&repo.db_path())?,
    })
}

fn schema_line(schema: Schema) -> String {
    match schema {
        Schema::Missing => "schema: none yet (droplet creates it when it first starts on this database)".into(),
        Schema::Current { version } => format!("schema: version {version}, this droplet's"),
        Schema::Behind { version, latest } => format!(
            "schema: version {version}, older than this droplet's {latest} (droplet brings it up to date when it starts)"
        ),
        Schema::Ahead { version, latest } => format!(
            "schema: version {version}, newer than this droplet's {latest}: a newer droplet set it up, and this one will not open it"
        ),
    }
}

fn counts(store: &Store) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    store.for_each_record(&mut |table, _, _| {
        *out.entry(table.to_string()).or_default() += 1;
        Ok(())
    })?;
    Ok(out)
}

/// Hold the database for the copy: no droplet acts on it meanwhile. The migration's own lease
/// is taken first and the droplets' leases read after, as droplets take theirs and read the
/// migration's after, so that of a droplet starting and a migration one always sees the other.
fn hold_lease(store: &Store, holder: &str) -> Result<()> {
    let Some(sql) = store.sql() else { return Ok(()) };
    if let Claim::Taken { holder, .. } = sql.claim(droplet::lease::EXCLUSIVE, holder, Duration::from_secs(3600))? {
        bail!("{holder} is migrating {} already", store.describe());
    }
    let acting: Vec<_> = sql
        .live()?
        .into_iter()
        .filter(|l| l.name != droplet::lease::EXCLUSIVE)
        .collect();
    if let Some(l) = acting.first() {
        release_lease(store, holder);
        bail!(
            "droplet {} is acting on {} ({} and {} more lease(s), lapsing in {} s unless renewed): stop every droplet on it first",
            l.holder,
            store.describe(),
            l.name,
            acting.len() - 1,
            l.expires_in.as_secs()
        );
    }
    Ok(())
}

fn release_lease(store: &Store, holder: &str) {
    if let Some(sql) = store.sql() {
        let _ = sql.release(droplet::lease::EXCLUSIVE, holder);
    }
}

pub fn run(repo: &Repo, cmd: StoreCmd) -> Result<()> {
    let cfg = Config::load(&repo.config_path()).with_context(|| format!("reading {}", repo.config_path().display()))?;
    match cmd {
        StoreCmd::Info => {
            match cfg.mysql.store() {
                Some(db) => {
                    let dsn = droplet::store::sql::dsn::parse(&db.connection)?;
                    println!("{} at {}", dsn.dialect.name(), dsn.shown);
                }
                None => println!("RocksDB at {}", repo.db_path().display()),
            }
            // The counts read the store: RocksDB only while the daemon is stopped; a shared
            // database beside the droplets on it.
            let opened = match cfg.mysql.store() {
                Some(db) => Store::open_sql_shared(&db).map_err(anyhow::Error::from),
                None => open_configured(&cfg, repo),
            };
            match opened {
                Ok(store) => {
                    // Read only: the schema is left as it is (a droplet migrates it when it
                    // starts), so asking never changes a database other droplets run on.
                    if let Some(sql) = store.sql() {
                        let schema = sql.schema()?;
                        println!("{}", schema_line(schema));
                        if schema == Schema::Missing {
                            return Ok(());
                        }
                    }
                    for (table, n) in counts(&store)? {
                        println!("{n:>10}  {table}");
                    }
                    // Which droplet acts for what, when droplets share the database.
                    if let Some(sql) = store.sql() {
                        for l in sql.live()? {
                            println!(
                                "lease {} held by {} ({} s left unless renewed)",
                                l.name,
                                l.holder,
                                l.expires_in.as_secs()
                            );
                        }
                    }
                }
                Err(e) => println!("(no counts: {e})"),
            }
            Ok(())
        }
        StoreCmd::Migrate { to, force } => migrate(repo, cfg, &to, force),
    }
}

/// The piece index of `store`: in its database, or under the repo (None when a RocksDB repo
/// has none yet).
fn piece_index_of(repo: &Repo, store: &std::sync::Arc<Store>, create: bool) -> Result<Option<PieceIndex>> {
    if store.sql().is_some() {
        return Ok(Some(PieceIndex::in_database(store.clone())?));
    }
    let path = repo.root.join("piece-index");
    if !create && !path.join("CURRENT").exists() {
        return Ok(None);
    }
    Ok(Some(PieceIndex::open(&path).with_context(|| {
        format!("opening the piece index at {}", path.display())
    })?))
}

/// Copy the piece index from `from`'s place to `into`'s.
fn copy_piece_index(repo: &Repo, from: &std::sync::Arc<Store>, into: &std::sync::Arc<Store>) -> Result<()> {
    let Some(source) = piece_index_of(repo, from, false)? else {
        return Ok(());
    };
    let target = piece_index_of(repo, into, true)?.context("the destination's piece index")?;
    println!(
        "copying the piece index ({}) into {}",
        source.describe(),
        target.describe()
    );
    let mut last = std::time::Instant::now();
    let pieces = source.copy_into(&target, &mut |n| {
        if last.elapsed() >= Duration::from_secs(2) {
            println!("  {n} pieces' index entries copied");
            last = std::time::Instant::now();
        }
    })?;
    println!(
        "  piece index copied: {pieces} piece{}",
        if pieces == 1 { "" } else { "s" }
    );
    Ok(())
}

fn migrate(repo: &Repo, mut cfg: Config, to: &str, force: bool) -> Result<()> {
    let holder = format!(
        "store migrate (pid {}) on {}",
        std::process::id(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
    );
    let to_rocks = to.eq_ignore_ascii_case("rocksdb");
    let from_sql = cfg.mysql.store();
    if to_rocks && from_sql.is_none() {
        bail!("the store is RocksDB under the repo already");
    }
    // Both stores are opened before anything is copied; the repo's lock is taken by whichever
    // of them is the repo's RocksDB, so a running daemon stops the migration here.
    let scratch = repo.root.join("store-migrate");
    let (from, into) = if to_rocks {
        let into = Store::open(&repo.db_path())?;
        let db = from_sql.context("the store is not SQL")?;
        (Store::open_sql(&scratch, &db)?, into)
    } else {
        if cfg.mysql.connection_string.trim() == to.trim() {
            bail!("the store is {} already", to.trim());
        }
        // The destination with the repo's own [Mysql] pool settings.
        let db = droplet::config::MysqlConfig {
            connection_string: to.trim().to_string(),
            ..cfg.mysql.clone()
        }
        .store()
        .context("--to names no database")?;
        let from = open_configured(&cfg, repo)?;
        (from, Store::open_sql(&scratch, &db)?)
    };
    let (from, into) = (std::sync::Arc::new(from), std::sync::Arc::new(into));
    let there = counts(&into)?;
    let held: u64 = there.values().sum();
    // The destination's piece index counts as held too: entries left there would outlive the
    // records they came with.
    let index_there = piece_index_of(repo, &into, false)?;
    let indexed = match &index_there {
        Some(index) => index.pieces()?.len() as u64,
        None => 0,
    };
    if (held > 0 || indexed > 0) && !force {
        bail!(
            "{} already holds {held} records and {indexed} indexed pieces: migrate into an empty store, or pass --force to replace them",
            into.describe()
        );
    }
    hold_lease(&from, &holder)?;
    if let Err(e) = hold_lease(&into, &holder) {
        release_lease(&from, &holder);
        return Err(e);
    }
    if held > 0 || indexed > 0 {
        println!(
            "removing the {held} records and {indexed} indexed pieces {} holds",
            into.describe()
        );
        let cleared = into
            .clear()
            .map_err(anyhow::Error::from)
            .and_then(|_| match &index_there {
                Some(index) => index.clear().map(drop).map_err(anyhow::Error::from),
                None => Ok(()),
            });
        if let Err(e) = cleared {
            release_lease(&from, &holder);
            release_lease(&into, &holder);
            return Err(e);
        }
    }
    drop(index_there);
    println!("copying {} into {}", from.describe(), into.describe());
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let copied = from.copy_into(&into, 1000, &mut |n| {
        if last.elapsed() >= Duration::from_secs(2) {
            println!("  {n} records copied");
            last = std::time::Instant::now();
        }
    });
    // The piece index goes with the records (a droplet would otherwise index every stored
    // piece again from piece storage at its next start).
    let copied = copied.map_err(anyhow::Error::from).and_then(|n| {
        copy_piece_index(repo, &from, &into)?;
        Ok(n)
    });
    release_lease(&from, &holder);
    release_lease(&into, &holder);
    let copied = copied?;
    // Checked, not assumed: every kind of record is there in the number copied.
    let want = counts(&from)?;
    let got = counts(&into)?;
    for (table, n) in &want {
        let have = got.get(table).copied().unwrap_or(0);
        if have < *n {
            bail!(
                "{table}: {n} records in {} but {have} in {}: the copy is short; run it again with --force",
                from.describe(),
                into.describe()
            );
        }
    }
    let (old, new) = (from.describe(), into.describe());
    drop(from);
    drop(into);
    cfg.mysql.connection_string = if to_rocks { String::new() } else { to.trim().to_string() };
    cfg.save(&repo.config_path())?;
    let _ = std::fs::remove_file(repo.root.join("store-migrate.lock"));
    println!(
        "copied {copied} records in {:.1} s; {} now points at {new}. {old} is left as it was: remove it once droplet runs well on the new store.",
        started.elapsed().as_secs_f64(),
        repo.config_path().display()
    );
    Ok(())
}
