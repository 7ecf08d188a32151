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

mod commit;
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
    #[error(
        "the database {at} has schema version {version}, newer than this program's {latest}: a newer droplet set it up; run that version (or a later one) on it"
    )]
    SchemaAhead { at: String, version: i64, latest: i64 },
    #[error("database {at}: {source}")]
    Query { at: String, source: sqlx::Error },
    #[error("starting the database runtime: {0}")]
    Runtime(std::io::Error),
}

/// Statements in each dialect (MySQL binds `?`, PostgreSQL `$n`). Writes are built per batch
/// by [`Plan`] from the pieces here.
struct Statements {
    get: &'static str,
    scan_to: &'static str,
    scan_open: &'static str,
    page_first: &'static str,
    page_next: &'static str,
    /// The head of a many-row upsert, its rows following.
    put_head: &'static str,
    /// What follows the rows of an upsert.
    put_tail: &'static str,
    /// The head of a delete of many keys of one table: `tbl` bound first, the keys follow in
    /// a parenthesised list.
    delete_head: &'static str,
    dialect: Dialect,
}

const MYSQL: Statements = Statements {
    get: "SELECT v FROM market_records WHERE tbl = ? AND k = ?",
    scan_to: "SELECT k, v FROM market_records WHERE tbl = ? AND k >= ? AND k < ? ORDER BY k",
    scan_open: "SELECT k, v FROM market_records WHERE tbl = ? AND k >= ? ORDER BY k",
    page_first: "SELECT tbl, k, v FROM market_records ORDER BY tbl, k LIMIT 1000",
    page_next: "SELECT tbl, k, v FROM market_records WHERE tbl > ? OR (tbl = ? AND k > ?) ORDER BY tbl, k LIMIT 1000",
    put_head: "INSERT INTO market_records (tbl, k, v) VALUES ",
    put_tail: " ON DUPLICATE KEY UPDATE v = VALUES(v)",
    delete_head: "DELETE FROM market_records WHERE tbl = ? AND k IN ",
    dialect: Dialect::MySql,
};

const POSTGRES: Statements = Statements {
    get: "SELECT v FROM market_records WHERE tbl = $1 AND k = $2",
    scan_to: "SELECT k, v FROM market_records WHERE tbl = $1 AND k >= $2 AND k < $3 ORDER BY k",
    scan_open: "SELECT k, v FROM market_records WHERE tbl = $1 AND k >= $2 ORDER BY k",
    page_first: "SELECT tbl, k, v FROM market_records ORDER BY tbl, k LIMIT 1000",
    page_next: "SELECT tbl, k, v FROM market_records WHERE tbl > $1 OR (tbl = $2 AND k > $3) ORDER BY tbl, k LIMIT 1000",
    put_head: "INSERT INTO market_records (tbl, k, v) VALUES ",
    put_tail: " ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
    delete_head: "DELETE FROM market_records WHERE tbl = $1 AND k IN ",
    dialect: Dialect::Postgres,
};

/// The most rows one write statement carries, and (past its first row) the most value bytes:
/// well inside both servers' bind limits (65,535) and MariaDB's default packet (16 MiB).
const ROWS_PER_STATEMENT: usize = 500;
const BYTES_PER_STATEMENT: usize = 4 << 20;

/// One statement of a write: its text (built from the constants above only) and its rows.
enum Statement<'a> {
    /// Upsert these (table, key, value) rows.
    Put(Vec<(&'a str, &'a [u8], &'a [u8])>),
    /// Delete these keys of one table.
    Delete(&'a str, Vec<&'a [u8]>),
}

impl Statement<'_> {
    /// The statement's text: `?` placeholders for MySQL, `$1, $2, …` for PostgreSQL.
    fn text(&self, sql: &Statements) -> String {
        let mut n = 0usize;
        let mut mark = || {
            n += 1;
            match sql.dialect {
                Dialect::MySql => "?".to_string(),
                Dialect::Postgres => format!("${n}"),
            }
        };
        match self {
            Statement::Put(rows) => {
                let mut s = String::from(sql.put_head);
                for (i, _) in rows.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    s.push_str(&format!("({}, {}, {})", mark(), mark(), mark()));
                }
                s.push_str(sql.put_tail);
                s
            }
            Statement::Delete(_, keys) => {
                mark(); // the table, bound in the head
                let marks: Vec<String> = keys.iter().map(|_| mark()).collect();
                format!("{}({})", sql.delete_head, marks.join(", "))
            }
        }
    }
}

/// A batch as the database applies it: the last write to each record wins (a batch applies in
/// order), then the deletes a statement per table and the puts a few statements of many rows,
/// in (table, key) order so that two writers lock shared rows in the same order.
fn plan<O: std::borrow::Borrow<Op>>(ops: &[O]) -> Vec<Statement<'_>> {
    let op = |i: usize| -> &Op { ops[i].borrow() };
    let mut last: Vec<&Op> = Vec::with_capacity(ops.len());
    let mut order: Vec<usize> = (0..ops.len()).collect();
    // Stable: writes to one record keep their order, and the last of them is kept.
    order.sort_by(|&a, &b| op(a).address().cmp(&op(b).address()));
    for i in order {
        match last.last_mut() {
            Some(prev) if prev.address() == op(i).address() => *prev = op(i),
            _ => last.push(op(i)),
        }
    }
    let mut out: Vec<Statement<'_>> = Vec::new();
    for op in &last {
        if let Op::Delete { table, key } = op {
            match out.last_mut() {
                Some(Statement::Delete(t, keys)) if *t == table.as_ref() && keys.len() < ROWS_PER_STATEMENT => {
                    keys.push(key.as_bytes())
                }
                _ => out.push(Statement::Delete(table.as_ref(), vec![key.as_bytes()])),
            }
        }
    }
    let mut bytes = 0usize;
    for op in &last {
        if let Op::Put { table, key, value } = op {
            match out.last_mut() {
                Some(Statement::Put(rows))
                    if rows.len() < ROWS_PER_STATEMENT && bytes + value.len() <= BYTES_PER_STATEMENT =>
                {
                    bytes += value.len();
                    rows.push((table.as_ref(), key.as_bytes(), value.as_slice()));
                }
                _ => {
                    bytes = value.len();
                    out.push(Statement::Put(vec![(table.as_ref(), key.as_bytes(), value.as_slice())]));
                }
            }
        }
    }
    out
}

/// The schema, version by version. A version once released is never edited (sqlx checks the
/// checksums); a change is a new version.
fn migrations(dialect: Dialect) -> Vec<Migration> {
    let files: &[(i64, &str, &'static str)] = match dialect {
        Dialect::MySql => &[
            (1, "records", include_str!("../../migrations/mysql/0001_records.sql")),
            (2, "leases", include_str!("../../migrations/mysql/0002_leases.sql")),
            (
                3,
                "piece index",
                include_str!("../../migrations/mysql/0003_piece_index.sql"),
            ),
        ],
        Dialect::Postgres => &[
            (1, "records", include_str!("../../migrations/postgres/0001_records.sql")),
            (2, "leases", include_str!("../../migrations/postgres/0002_leases.sql")),
            (
                3,
                "piece index",
                include_str!("../../migrations/postgres/0003_piece_index.sql"),
            ),
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

/// Where a database's schema stands against this program's, read without changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// No schema of ours yet: the daemon creates it when it first opens the database.
    Missing,
    /// Every migration this program has, and none other, is applied.
    Current { version: i64 },
    /// Older: the daemon brings it up to `latest` when it starts.
    Behind { version: i64, latest: i64 },
    /// Written by a newer program: this one refuses to open it.
    Ahead { version: i64, latest: i64 },
}

pub struct Sql {
    pool: AnyPool,
    dialect: Dialect,
    shown: String,
    sql: &'static Statements,
    /// The runtime the queries run on (taken out on drop, which must not block).
    rt: Option<tokio::runtime::Runtime>,
    /// Concurrent batches committed together.
    group: std::sync::Arc<commit::GroupCommit>,
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
        // sqlx refuses too, naming a migration it lacks; this says what to do about it.
        if let Schema::Ahead { version, latest } = sql.schema()? {
            return Err(SqlError::SchemaAhead {
                at: sql.shown.clone(),
                version,
                latest,
            }
            .into());
        }
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
            group: Default::default(),
        })
    }

    /// Where the database's schema stands, read without changing it (`droplet store info`
    /// beside running daemons, or before a newer droplet's first start).
    pub fn schema(&self) -> Result<Schema, StoreError> {
        let known: Vec<i64> = migrations(self.dialect).iter().map(|m| m.version).collect();
        let latest = known.iter().copied().max().unwrap_or(0);
        let exists = match self.dialect {
            Dialect::MySql => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
            }
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let pool = self.pool.clone();
        let applied = self.block(async move {
            let n: i64 = sqlx::query_scalar(exists)
                .bind(MIGRATIONS_TABLE)
                .fetch_one(&pool)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            let versions: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT version FROM {MIGRATIONS_TABLE} WHERE success"
            )))
            .fetch_all(&pool)
            .await?;
            Ok(Some(versions))
        })?;
        Ok(match applied {
            None => Schema::Missing,
            Some(v) if v.is_empty() => Schema::Missing,
            Some(v) => {
                let version = v.iter().copied().max().unwrap_or(0);
                if v.iter().any(|a| !known.contains(a)) {
                    Schema::Ahead { version, latest }
                } else if known.iter().all(|k| v.contains(k)) {
                    Schema::Current { version }
                } else {
                    Schema::Behind { version, latest }
                }
            }
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

    /// A batch as one transaction, or as one statement when [`plan`] makes it one (a deal's
    /// new record and its index keys are one upsert: one round trip). Rows are written in
    /// (table, key) order, so that two batches touching the same rows lock them in the same
    /// order. A write the database still aborts as a deadlock or a serialization failure is
    /// run again.
    /// Batches written at the same moment are committed together ([`commit`]).
    fn write_future(&self, ops: Vec<Op>) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'static {
        let pool = self.pool.clone();
        let sql = self.sql;
        let group = self.group.clone();
        async move { group.write(&pool, sql, ops).await }
    }

    /// Apply writes in one transaction.
    pub(crate) fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.block(self.write_future(ops))
    }

    pub(crate) async fn write_async(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.run(self.write_future(ops)).await
    }

    pub(crate) fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(self.get_future(table, key))
    }

    pub(crate) async fn get_async(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(self.get_future(table, key)).await
    }

    fn get_future(
        &self,
        table: Table,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, sqlx::Error>> + Send + 'static {
        let pool = self.pool.clone();
        let q = self.sql.get;
        let key = key.as_bytes().to_vec();
        async move {
            let row = sqlx::query(q).bind(table.0).bind(key).fetch_optional(&pool).await?;
            row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()
        }
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

/// [`write_once`], run again (after a short pause) when the database aborted it as a
/// deadlock or a serialization failure.
async fn write_retrying<O: std::borrow::Borrow<Op>>(
    pool: &AnyPool,
    sql: &Statements,
    ops: &[O],
) -> Result<(), sqlx::Error> {
    let mut tries = 0;
    loop {
        match write_once(pool, sql, ops).await {
            Err(e) if retryable(&e) && tries < 5 => {
                tries += 1;
                tracing::debug!(error = %e, tries, "a store write collided with another; running it again");
                tokio::time::sleep(std::time::Duration::from_millis(5 << tries)).await;
            }
            done => return done,
        }
    }
}

async fn write_once<O: std::borrow::Borrow<Op>>(
    pool: &AnyPool,
    sql: &Statements,
    ops: &[O],
) -> Result<(), sqlx::Error> {
    let statements = plan(ops);
    match statements.as_slice() {
        [] => Ok(()),
        // One statement is atomic on its own: no transaction's round trips.
        [one] => execute(pool, sql, one).await,
        many => {
            let mut tx = pool.begin().await?;
            for s in many {
                execute(&mut *tx, sql, s).await?;
            }
            tx.commit().await
        }
    }
}

/// Run one write statement.
async fn execute<'c, E>(on: E, sql: &Statements, s: &Statement<'_>) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    // The text is built from this module's constants and placeholders, never outside input.
    let text = sqlx::AssertSqlSafe(s.text(sql));
    let mut q = sqlx::query(text);
    match s {
        Statement::Put(rows) => {
            for (table, key, value) in rows {
                q = q.bind(*table).bind(*key).bind(*value);
            }
        }
        Statement::Delete(table, keys) => {
            q = q.bind(*table);
            for key in keys {
                q = q.bind(*key);
            }
        }
    }
    q.execute(on).await.map(|_| ())
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

    fn put(table: &'static str, key: &str, value: &[u8]) -> Op {
        Op::Put {
            table: table.into(),
            key: key.into(),
            value: value.to_vec(),
        }
    }

    fn delete(table: &'static str, key: &str) -> Op {
        Op::Delete {
            table: table.into(),
            key: key.into(),
        }
    }

    #[test]
    fn a_batch_becomes_few_statements_with_the_last_write_to_each_record_kept() {
        let ops = vec![
            put("deal/", "b", b"1"),
            delete("deal-by-state/", "010/b"),
            put("deal-by-state/", "020/b", b""),
            put("deal/", "b", b"2"),
            put("deal/", "a", b"x"),
            delete("deal/", "a"),
            delete("deal-by-state/", "011/b"),
        ];
        let plan = plan(&ops);
        let shown: Vec<String> = plan
            .iter()
            .map(|s| match s {
                Statement::Delete(t, keys) => format!(
                    "delete {t} {:?}",
                    keys.iter()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .collect::<Vec<_>>()
                ),
                Statement::Put(rows) => format!(
                    "put {:?}",
                    rows.iter()
                        .map(|(t, k, v)| format!("{t}{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
                        .collect::<Vec<_>>()
                ),
            })
            .collect();
        assert_eq!(
            shown,
            [
                r#"delete deal-by-state/ ["010/b", "011/b"]"#,
                r#"delete deal/ ["a"]"#,
                r#"put ["deal-by-state/020/b=", "deal/b=2"]"#,
            ]
        );
        assert_eq!(
            plan[0].text(&POSTGRES),
            "DELETE FROM market_records WHERE tbl = $1 AND k IN ($2, $3)"
        );
        assert_eq!(
            plan[2].text(&POSTGRES),
            "INSERT INTO market_records (tbl, k, v) VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v"
        );
        assert_eq!(
            plan[2].text(&MYSQL),
            "INSERT INTO market_records (tbl, k, v) VALUES (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)"
        );
        assert!(super::plan::<Op>(&[]).is_empty());
    }

    #[test]
    fn a_statement_carries_at_most_its_rows_and_bytes() {
        let big = vec![0u8; BYTES_PER_STATEMENT];
        let mut ops: Vec<Op> = (0..ROWS_PER_STATEMENT + 1)
            .map(|i| put("t/", &format!("{i:04}"), b"v"))
            .collect();
        ops.push(put("u/", "big1", &big));
        ops.push(put("u/", "big2", &big));
        let sizes: Vec<usize> = plan(&ops)
            .iter()
            .map(|s| match s {
                Statement::Put(rows) => rows.len(),
                Statement::Delete(_, keys) => keys.len(),
            })
            .collect();
        assert_eq!(
            sizes,
            [ROWS_PER_STATEMENT, 1, 1, 1],
            "a value past the bytes starts a statement"
        );
    }

    #[test]
    fn both_dialects_have_every_migration() {
        let my: Vec<i64> = migrations(Dialect::MySql).iter().map(|m| m.version).collect();
        let pg: Vec<i64> = migrations(Dialect::Postgres).iter().map(|m| m.version).collect();
        assert_eq!(my, pg);
        assert_eq!(my, (1..=my.len() as i64).collect::<Vec<_>>());
    }
}
