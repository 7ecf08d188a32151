//! The SQL backend: MySQL/MariaDB or PostgreSQL through sqlx's `Any` pool. The records are
//! those RocksDB holds, one row each in `market_records` (table, key, value), so every part of
//! a daemon that persists works on either backend unchanged, and a repo moves between them by
//! copying rows. The schema is versioned: the migrations under `migrations/<dialect>/` run at
//! open, under the database's advisory lock, so daemons starting together migrate once.
//!
//! The store's interface is synchronous (RocksDB's is); this backend runs its queries on a
//! small runtime of its own and waits for them, and [`Sql::write_async`] lets async callers
//! await a batch without holding a worker.

use std::future::Future;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Row};

use crate::{Op, StoreError, Table};

pub mod dsn;
pub mod lease;

pub use dsn::Dialect;

/// How to reach the database (droplet's `[Mysql]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlConfig {
    /// A Go MySQL DSN or a `mysql://` / `postgres://` URL.
    pub connection: String,
    /// `MaxOpenConn`: the most connections open at once (0: no limit of the pool's own).
    pub max_open: u32,
    /// `MaxIdleConn`: when below `max_open`, idle connections are closed after a short while
    /// instead of being kept for reuse.
    pub max_idle: u32,
    /// `ConnMaxLifeTime`: a connection is closed once this old (None: kept for ever).
    pub max_lifetime: Option<Duration>,
    /// `Debug`: every statement logged at info level.
    pub debug: bool,
}

/// Why the SQL store failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("[Mysql] ConnectionString: {0}")]
    Dsn(#[from] dsn::DsnError),
    #[error(
        "cannot reach the {} database {at}: {source} (is the server running, and do the user, password and database exist?)",
        dialect.name()
    )]
    Connect {
        dialect: Dialect,
        at: String,
        source: sqlx::Error,
    },
    #[error("migrating the database {at} to this droplet's schema: {source}")]
    Migrate {
        at: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database {at}: {source}")]
    Query { at: String, source: sqlx::Error },
    #[error("starting the database runtime: {0}")]
    Runtime(std::io::Error),
}

/// Statements in each dialect (MySQL binds `?`, PostgreSQL `$n`).
struct Statements {
    get: &'static str,
    scan_to: &'static str,
    scan_open: &'static str,
    put: &'static str,
    delete: &'static str,
    page_first: &'static str,
    page_next: &'static str,
}

const MYSQL: Statements = Statements {
    get: "SELECT v FROM market_records WHERE tbl = ? AND k = ?",
    scan_to: "SELECT k, v FROM market_records WHERE tbl = ? AND k >= ? AND k < ? ORDER BY k",
    scan_open: "SELECT k, v FROM market_records WHERE tbl = ? AND k >= ? ORDER BY k",
    put: "INSERT INTO market_records (tbl, k, v) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
    delete: "DELETE FROM market_records WHERE tbl = ? AND k = ?",
    page_first: "SELECT tbl, k, v FROM market_records ORDER BY tbl, k LIMIT 1000",
    page_next: "SELECT tbl, k, v FROM market_records WHERE tbl > ? OR (tbl = ? AND k > ?) ORDER BY tbl, k LIMIT 1000",
};

const POSTGRES: Statements = Statements {
    get: "SELECT v FROM market_records WHERE tbl = $1 AND k = $2",
    scan_to: "SELECT k, v FROM market_records WHERE tbl = $1 AND k >= $2 AND k < $3 ORDER BY k",
    scan_open: "SELECT k, v FROM market_records WHERE tbl = $1 AND k >= $2 ORDER BY k",
    put: "INSERT INTO market_records (tbl, k, v) VALUES ($1, $2, $3) ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
    delete: "DELETE FROM market_records WHERE tbl = $1 AND k = $2",
    page_first: "SELECT tbl, k, v FROM market_records ORDER BY tbl, k LIMIT 1000",
    page_next: "SELECT tbl, k, v FROM market_records WHERE tbl > $1 OR (tbl = $2 AND k > $3) ORDER BY tbl, k LIMIT 1000",
};

/// The schema, version by version. A version once released is never edited (sqlx checks the
/// checksums); a change is a new version.
fn migrations(dialect: Dialect) -> Vec<Migration> {
    let files: &[(i64, &str, &'static str)] = match dialect {
        Dialect::MySql => &[
            (1, "records", include_str!("../../migrations/mysql/0001_records.sql")),
            (2, "leases", include_str!("../../migrations/mysql/0002_leases.sql")),
        ],
        Dialect::Postgres => &[
            (1, "records", include_str!("../../migrations/postgres/0001_records.sql")),
            (2, "leases", include_str!("../../migrations/postgres/0002_leases.sql")),
        ],
    };
    files
        .iter()
        .map(|(v, what, sql)| {
            Migration::new(
                *v,
                (*what).into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect()
}

/// The table sqlx records applied migrations in.
const MIGRATIONS_TABLE: &str = "market_schema_migrations";

pub struct Sql {
    pool: AnyPool,
    dialect: Dialect,
    shown: String,
    sql: &'static Statements,
    /// The runtime the queries run on (taken out on drop, which must not block).
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql").field("at", &self.shown).finish()
    }
}

impl Drop for Sql {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Sql {
    /// Connect, and bring the schema up to date.
    pub fn open(cfg: &SqlConfig) -> Result<Sql, StoreError> {
        let sql = Sql::connect(cfg)?;
        sql.migrate()?;
        tracing::info!(database = %sql.shown, "SQL store open, schema up to date");
        Ok(sql)
    }

    /// Connect without touching the schema: for reading another program's tables (the Go
    /// droplet's, to take its deals over).
    pub fn connect(cfg: &SqlConfig) -> Result<Sql, StoreError> {
        let dsn = dsn::parse(&cfg.connection).map_err(SqlError::from)?;
        sqlx::any::install_default_drivers();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sql")
            .enable_all()
            .build()
            .map_err(SqlError::Runtime)?;
        let options: AnyConnectOptions = dsn.url.parse().map_err(|e| SqlError::Connect {
            dialect: dsn.dialect,
            at: dsn.shown.clone(),
            source: e,
        })?;
        let options = options.log_statements(if cfg.debug {
            log::LevelFilter::Info
        } else {
            log::LevelFilter::Trace
        });
        let pool_options = AnyPoolOptions::new()
            .max_connections(if cfg.max_open == 0 { 10_000 } else { cfg.max_open })
            .min_connections(0)
            .max_lifetime(cfg.max_lifetime)
            .idle_timeout(if cfg.max_idle < cfg.max_open || cfg.max_idle == 0 {
                Some(Duration::from_secs(5))
            } else {
                Some(Duration::from_secs(600))
            })
            .acquire_timeout(Duration::from_secs(30));
        let shown = dsn.shown.clone();
        let dialect = dsn.dialect;
        // One connection first, so an unreachable server or a refused login is told at once
        // with the server's own error, not after the pool's acquire timeout.
        let pool = run_on(&rt, async move {
            let first = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options).await?;
            sqlx::Connection::close(first).await?;
            Ok::<_, sqlx::Error>(pool_options.connect_lazy_with(options))
        })
        .map_err(|source| SqlError::Connect {
            dialect,
            at: shown.clone(),
            source,
        })?;
        Ok(Sql {
            pool,
            dialect,
            shown: dsn.shown,
            sql: match dialect {
                Dialect::MySql => &MYSQL,
                Dialect::Postgres => &POSTGRES,
            },
            rt: Some(rt),
        })
    }

    /// Bring the schema up to date under the database's lock.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = Migrator::with_migrations(migrations(self.dialect));
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        let p = self.pool.clone();
        let dialect = self.dialect;
        run_on(self.runtime(), async move {
            let mut conn = p.acquire().await?;
            // sqlx locks MySQL with GET_LOCK(name, -1), which MariaDB takes as "do not wait":
            // daemons starting together on a new database would each migrate it. A lock with
            // a real timeout, checked, keeps them one at a time.
            if dialect == Dialect::MySql {
                let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK('market_schema_migrations', 300)")
                    .fetch_one(&mut *conn)
                    .await?;
                if got != Some(1) {
                    return Err(sqlx::migrate::MigrateError::Execute(sqlx::Error::Protocol(
                        "another daemon has been migrating this database's schema for 5 minutes; see whether it is stuck"
                            .into(),
                    )));
                }
            }
            // `run_direct` is `run` on a connection we hold (the lock is the connection's).
            let done = migrator.run_direct(None, &mut *conn, false).await;
            if dialect == Dialect::MySql {
                sqlx::query("SELECT RELEASE_LOCK('market_schema_migrations')")
                    .execute(&mut *conn)
                    .await?;
            }
            done
        })
        .map_err(|source| SqlError::Migrate {
            at: self.shown.clone(),
            source,
        })?;
        Ok(())
    }

    /// Run a query whose every column is text (cast in the query) and hand back its rows,
    /// NULL as None: for reading another program's tables column by column. The query is the
    /// caller's own (built from its constants), never outside input.
    pub fn text_rows(&self, query: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let pool = self.pool.clone();
        let query = query.to_string();
        self.block(async move {
            // The caller builds the query from its own constants, never from outside input.
            let rows = sqlx::query(sqlx::AssertSqlSafe(query)).fetch_all(&pool).await?;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect())
                .collect()
        })
    }

    pub fn describe(&self) -> String {
        format!("{} at {}", self.dialect.name(), self.shown)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool, for the parts that keep rows of their own (leases).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("the runtime lives as long as the store")
    }

    /// Run a query on the store's runtime and wait for it.
    pub fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
    ) -> Result<T, StoreError> {
        run_on(self.runtime(), fut).map_err(|source| self.query_error(source))
    }

    /// Run a query on the store's runtime and await it from another runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.runtime().spawn(fut).await {
            Ok(r) => r.map_err(|source| self.query_error(source)),
            Err(e) => Err(StoreError::Task(e.to_string())),
        }
    }

    fn query_error(&self, source: sqlx::Error) -> StoreError {
        StoreError::Sql(SqlError::Query {
            at: self.shown.clone(),
            source,
        })
    }

    /// A batch as one transaction. Its rows are written in (table, key) order, so that two
    /// batches touching the same rows lock them in the same order and cannot deadlock (the
    /// sort is stable: writes to one key keep their order). A transaction the database still
    /// aborts as a deadlock or a serialization failure is run again.
    fn write_future(&self, mut ops: Vec<Op>) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'static {
        let pool = self.pool.clone();
        let sql = self.sql;
        ops.sort_by(|a, b| a.address().cmp(&b.address()));
        async move {
            let mut tries = 0;
            loop {
                match write_once(&pool, sql, &ops).await {
                    Err(e) if retryable(&e) && tries < 5 => {
                        tries += 1;
                        tracing::debug!(error = %e, tries, "a store write collided with another; running it again");
                        tokio::time::sleep(std::time::Duration::from_millis(5 << tries)).await;
                    }
                    done => return done,
                }
            }
        }
    }

    /// Apply writes in one transaction.
    pub(crate) fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.block(self.write_future(ops))
    }

    pub(crate) async fn write_async(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.run(self.write_future(ops)).await
    }

    pub(crate) fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let pool = self.pool.clone();
        let q = self.sql.get;
        let key = key.as_bytes().to_vec();
        self.block(async move {
            let row = sqlx::query(q).bind(table.0).bind(key).fetch_optional(&pool).await?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()
        })
    }

    pub(crate) fn scan(&self, table: Table, prefix: &str, start: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let pool = self.pool.clone();
        let upper = successor(prefix.as_bytes());
        let q = if upper.is_some() {
            self.sql.scan_to
        } else {
            self.sql.scan_open
        };
        let start = start.as_bytes().to_vec();
        let rows = self.block(async move {
            let mut query = sqlx::query(q).bind(table.0).bind(start);
            if let Some(upper) = upper {
                query = query.bind(upper);
            }
            let rows = query.fetch_all(&pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<Vec<u8>, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect())
    }

    /// Every record, a page at a time, in (table, key) order.
    pub(crate) fn for_each(&self, each: &mut crate::EachRecord<'_>) -> Result<(), StoreError> {
        let mut after: Option<(String, Vec<u8>)> = None;
        loop {
            let pool = self.pool.clone();
            let sql = self.sql;
            let from = after.clone();
            let page = self.block(async move {
                let rows = match from {
                    None => sqlx::query(sql.page_first).fetch_all(&pool).await?,
                    Some((tbl, k)) => {
                        sqlx::query(sql.page_next)
                            .bind(tbl.clone())
                            .bind(tbl)
                            .bind(k)
                            .fetch_all(&pool)
                            .await?
                    }
                };
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<String, _>(0)?,
                            r.try_get::<Vec<u8>, _>(1)?,
                            r.try_get::<Vec<u8>, _>(2)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })?;
            let Some((tbl, k, _)) = page.last() else { return Ok(()) };
            after = Some((tbl.clone(), k.clone()));
            for (tbl, k, v) in &page {
                each(tbl, &String::from_utf8_lossy(k), v)?;
            }
        }
    }
}

async fn write_once(pool: &AnyPool, sql: &Statements, ops: &[Op]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for op in ops {
        match op {
            Op::Put { table, key, value } => {
                sqlx::query(sql.put)
                    .bind(table.as_ref())
                    .bind(key.as_bytes())
                    .bind(value.as_slice())
                    .execute(&mut *tx)
                    .await?;
            }
            Op::Delete { table, key } => {
                sqlx::query(sql.delete)
                    .bind(table.as_ref())
                    .bind(key.as_bytes())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await
}

/// A transaction the database aborted so that another could go on: SQLSTATE 40001
/// (serialization failure; MySQL's deadlock 1213 reports it too) or 40P01 (PostgreSQL's
/// deadlock), or MySQL's lock wait timeout (1205, SQLSTATE HY000).
fn retryable(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    match db.code().as_deref() {
        Some("40001" | "40P01") => true,
        Some("HY000") => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| m.number() == 1205),
        _ => false,
    }
}

/// Run `fut` on `rt` from a thread that may itself be a runtime's worker (where `block_on`
/// would panic), waiting on a channel.
fn run_on<T: Send + 'static, E: Send + 'static + From<sqlx::Error>>(
    rt: &tokio::runtime::Runtime,
    fut: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().unwrap_or_else(|_| Err(E::from(sqlx::Error::WorkerCrashed)))
}

/// The least byte string greater than every string starting with `prefix` (None: there is
/// none, or the prefix is empty and every key matches).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut up = prefix.to_vec();
    while let Some(last) = up.pop() {
        if last < 0xff {
            up.push(last + 1);
            return Some(up);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_scan_stops_at_the_prefixs_successor() {
        assert_eq!(successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
        assert_eq!(successor(b""), None);
    }

    #[test]
    fn both_dialects_have_every_migration() {
        let my: Vec<i64> = migrations(Dialect::MySql).iter().map(|m| m.version).collect();
        let pg: Vec<i64> = migrations(Dialect::Postgres).iter().map(|m| m.version).collect();
        assert_eq!(my, pg);
        assert_eq!(my, (1..=my.len() as i64).collect::<Vec<_>>());
    }
}
