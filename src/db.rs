//! The database: one binary speaks SQLite (embedded default) and PostgreSQL (real
//! clusters), chosen by the URL scheme. Owns the pool, per-connection setup, embedded
//! migrations run under a cross-node lock, and the write-transaction helper.

pub mod dialect;
pub mod schema;
pub mod stored_time;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseLocation, Settings, redact_url};
use crate::error::{Error, Result};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary constant naming Baton's migration lock among PostgreSQL advisory locks.
const POSTGRES_MIGRATION_LOCK_KEY: i64 = 0x6261_746f_6e00;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A connection of the pool, with what the pool knows of its health. Dereferences to the
/// `DbConnection`.
pub struct ManagedConnection {
    connection: DbConnection,
    /// When it last proved alive: opened, or answered a check.
    proven_at: Instant,
    /// Found closed after a failed query: the pool drops it instead of taking it back.
    closed: bool,
}

impl std::ops::Deref for ManagedConnection {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for ManagedConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.connection
    }
}

impl ManagedConnection {
    /// Whether the server still answers on this connection (a round trip: only after a
    /// failure, never on every checkout).
    fn answers(&mut self) -> bool {
        let answered = self.connection.batch_execute("SELECT 1").is_ok();
        if answered {
            self.proven_at = Instant::now();
        }
        answered
    }
}

/// The first row of a typed query (an expression, built once per backend), run on the
/// concrete backend connection. Through the multi-backend connection diesel writes out a
/// query's SQL text on every call to find its cached prepared statement; on the concrete
/// connection a static query's type is the key, which saves about a third of a single-row
/// lookup. For hot paths only.
macro_rules! first_by_type {
    ($connection:expr, $query:expr) => {
        match $connection {
            $crate::db::DbConnection::Sqlite(inner) => diesel::RunQueryDsl::first($query, inner),
            $crate::db::DbConnection::Postgresql(inner) => diesel::RunQueryDsl::first($query, inner),
        }
    };
}
pub(crate) use first_by_type;

/// The rows of a typed query (an expression, built once per backend) run on the concrete
/// backend connection: for a query the multi-backend connection cannot write (a `UNION`).
macro_rules! load_by_type {
    ($connection:expr, $query:expr) => {
        match $connection {
            $crate::db::DbConnection::Sqlite(inner) => diesel::RunQueryDsl::load($query, inner),
            $crate::db::DbConnection::Postgresql(inner) => diesel::RunQueryDsl::load($query, inner),
        }
    };
}
pub(crate) use load_by_type;

/// Opens connections for the configured backend and prepares each one.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    location: DatabaseLocation,
    session: SessionLimits,
}

/// What PostgreSQL itself enforces on the sessions of one pool (SQLite has no server and
/// ignores them). The cluster agent and the master duties get their own pools with limits
/// derived from the cluster timing, so that the server ends a stuck master's transactions
/// and a takeover never waits long behind them (docs/cluster.md, "Locks and timeouts").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionLimits {
    /// Shown in `pg_stat_activity`, so an operator (and the tests) can tell the sessions apart.
    pub application_name: Option<String>,
    /// Longest wait for a lock before the statement fails (`lock_timeout`).
    pub lock_timeout: Option<Duration>,
    /// Longest statement (`statement_timeout`).
    pub statement_timeout: Option<Duration>,
    /// Longest pause of the client inside an open transaction before the server ends the
    /// session and rolls the transaction back (`idle_in_transaction_session_timeout`).
    pub idle_in_transaction_timeout: Option<Duration>,
    /// How soon the server gives up on a client that went silent (TCP keepalives every
    /// second, `tcp_user_timeout`) and how often a running statement checks that its client
    /// is still connected (`client_connection_check_interval`).
    pub silent_client_timeout: Option<Duration>,
}

impl SessionLimits {
    /// The `SET` statements for the limits (all numbers, so written into the text).
    fn set_statements(&self) -> String {
        let millis = |duration: Duration| duration.as_millis().max(1);
        let mut statements = String::new();
        for (parameter, limit) in [
            ("lock_timeout", self.lock_timeout),
            ("statement_timeout", self.statement_timeout),
            ("idle_in_transaction_session_timeout", self.idle_in_transaction_timeout),
        ] {
            if let Some(limit) = limit {
                statements.push_str(&format!("SET {parameter} = '{}ms'; ", millis(limit)));
            }
        }
        if let Some(timeout) = self.silent_client_timeout {
            // Probes every second (the setting's unit and minimum); tcp_user_timeout then
            // decides when unanswered probes or unacknowledged data end the connection.
            statements.push_str(&format!(
                "SET tcp_keepalives_idle = 1; SET tcp_keepalives_interval = 1; SET tcp_user_timeout = {}; \
                 SET client_connection_check_interval = '{}ms'; ",
                millis(timeout),
                millis(timeout / 4)
            ));
        }
        statements
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = ManagedConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<ManagedConnection, Self::Error> {
        let connection = self.open()?;
        Ok(ManagedConnection { connection, proven_at: Instant::now(), closed: false })
    }

    fn is_valid(&self, connection: &mut ManagedConnection) -> Result<(), Self::Error> {
        connection.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut ManagedConnection) -> bool {
        connection.closed || DbConnection::is_broken_transaction_manager(&mut connection.connection)
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, diesel::r2d2::Error> {
        match &self.location {
            DatabaseLocation::Sqlite(path) => {
                let mut connection = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                connection
                    .batch_execute(
                        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                         PRAGMA wal_autocheckpoint = 10000;",
                    )
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(connection))
            }
            DatabaseLocation::Postgres(url) => {
                let mut connection =
                    diesel::PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
                // Timestamps are stored as UTC wall time; the session zone makes CURRENT_TIMESTAMP UTC.
                // Prepared statements keep one plan made without their parameters: PostgreSQL
                // otherwise plans a list page anew on every request (its custom plans look
                // cheaper than a generic plan that cannot know the LIMIT), 2-3 ms of planning
                // for a 0.5 ms execution of the same plan. Floats written as text (the view
                // `item_field_values_now` that says what an item's row keeps of its values)
                // give back the same number, whatever the server's, database's or role's default.
                connection
                    .batch_execute(&format!(
                        "SET TIME ZONE 'UTC'; SET plan_cache_mode = force_generic_plan; SET extra_float_digits = 1; {}",
                        self.session.set_statements()
                    ))
                    .map_err(diesel::r2d2::Error::QueryError)?;
                if let Some(name) = &self.session.application_name {
                    // A bound value: a node's name needs no quoting.
                    diesel::sql_query("SELECT set_config('application_name', $1, false)")
                        .bind::<diesel::sql_types::Text, _>(name)
                        .execute(&mut connection)
                        .map_err(diesel::r2d2::Error::QueryError)?;
                }
                Ok(DbConnection::Postgresql(connection))
            }
        }
    }
}

/// Shared handle to the pools; cheap to clone.
///
/// On SQLite, writes go through a pool of exactly one connection: SQLite admits one
/// writer at a time anyway, and queueing in-process writers on the pool (a condition
/// variable) is far faster than letting them poll the file lock through `busy_timeout`
/// (measured: p99 of item creation under 32 clients fell from ~1 s to a few ms).
/// Other processes on the same file still wait through `busy_timeout`.
///
/// Each pool comes with a semaphore of its size: a request waits for a permit on the async
/// side before it takes a blocking thread, so no more threads run database work than there
/// are connections (instead of dozens of threads parked on the pool's lock).
///
/// On SQLite a thread of its own copies the write-ahead log back into the database file
/// (`Checkpointer`), so the writer does not.
#[derive(Clone)]
pub struct Database {
    pool: BoundedPool,
    writer: BoundedPool,
    location: DatabaseLocation,
    _checkpointer: Option<Arc<Checkpointer>>,
}

/// How often the checkpoint thread copies the write-ahead log into a SQLite database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Copies SQLite's write-ahead log into the database file every `CHECKPOINT_INTERVAL`, on a
/// connection of its own and without waiting for readers or the writer (a passive
/// checkpoint), until the last handle of the `Database` is dropped.
///
/// Left to SQLite, the commit that takes the log past its threshold copies it, on the one
/// writing connection every writer queues for: with 32 clients creating items, that copy and
/// its file sync were a third of each commit. The connections' own threshold
/// (`wal_autocheckpoint`, 10,000 pages) remains as a backstop should this thread fall behind.
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Checkpointer {
    fn start(manager: ConnectionManager) -> Result<Arc<Checkpointer>> {
        use std::sync::atomic::Ordering;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut connection: Option<DbConnection> = None;
                let mut failing = false;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_INTERVAL);
                    let outcome = match connection.as_mut() {
                        Some(open) => open.batch_execute("PRAGMA wal_checkpoint(PASSIVE)").map_err(|e| e.to_string()),
                        None => manager.open().map(|open| connection = Some(open)).map_err(|e| e.to_string()),
                    };
                    // Said once when it starts failing and once when it works again, not every
                    // 100 ms; meanwhile the connections' own threshold checkpoints.
                    match outcome {
                        Err(error) => {
                            if !failing {
                                tracing::warn!(%error, "checkpointing the SQLite write-ahead log failed; retrying");
                            }
                            failing = true;
                            connection = None;
                        }
                        Ok(()) if failing => {
                            tracing::info!("checkpointing the SQLite write-ahead log works again");
                            failing = false;
                        }
                        Ok(()) => {}
                    }
                }
            })
            .map_err(|error| Error::internal("cannot start the SQLite checkpoint thread", error))?;
        Ok(Arc::new(Checkpointer { stop }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A pool with a semaphore of its size (see `Database`).
///
/// No connection is tested on checkout: on PostgreSQL that would be a round trip before
/// every piece of work. A connection the server closed (a restart, a terminated session, a
/// cut network) shows itself as the failure of the query that used it; the connection is
/// then checked, dropped when it does not answer, and every connection that last proved
/// alive before that moment is checked on its next checkout (`suspect_before`): after a
/// restart they all are dead, and none is handed out again. A read that failed on a closed
/// connection runs once more on a sound one; a write is not repeated (it may have been
/// applied before the connection closed), its caller gets the error.
#[derive(Clone)]
struct BoundedPool {
    /// `main`, or `writer` for SQLite's single writing connection (metrics label).
    name: &'static str,
    pool: r2d2::Pool<ConnectionManager>,
    permits: Arc<tokio::sync::Semaphore>,
    /// Whether connections can close under the pool (PostgreSQL's; SQLite's are file handles).
    remote: bool,
    /// The moment connections became suspect, in nanoseconds after `opened_at`.
    suspect_since: Arc<AtomicU64>,
    opened_at: Instant,
}

/// How busy a connection pool is, for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolFigures {
    pub name: &'static str,
    pub in_use: usize,
    pub size: usize,
}

impl BoundedPool {
    fn new(name: &'static str, pool: r2d2::Pool<ConnectionManager>, remote: bool) -> BoundedPool {
        let permits = Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize));
        BoundedPool {
            name,
            pool,
            permits,
            remote,
            suspect_since: Arc::new(AtomicU64::new(0)),
            opened_at: Instant::now(),
        }
    }

    fn figures(&self) -> PoolFigures {
        let size = self.pool.max_size() as usize;
        PoolFigures { name: self.name, in_use: size.saturating_sub(self.permits.available_permits()), size }
    }

    /// A connection: one that proved alive since connections became suspect, or that
    /// answers a check now; those that do not answer are dropped and the next one is tried.
    /// (Waits at most the pool's connection timeout when no new connection can be opened.)
    fn checkout(&self) -> Result<PooledConnection> {
        loop {
            let mut connection = self.pool.get()?;
            let suspect_before = self.opened_at + Duration::from_nanos(self.suspect_since.load(Ordering::Relaxed));
            if connection.proven_at >= suspect_before || connection.answers() {
                return Ok(connection);
            }
            connection.closed = true;
        }
    }

    /// After `work` failed with `error` on `connection`: whether the connection was closed
    /// under it (then it is dropped and the pool's other connections become suspect).
    fn closed_under(&self, connection: &mut PooledConnection, error: &Error) -> bool {
        if !self.remote || !matches!(error, Error::Unavailable(_) | Error::Internal { .. }) || connection.answers() {
            return false;
        }
        connection.closed = true;
        let now = u64::try_from(self.opened_at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.suspect_since.fetch_max(now, Ordering::Relaxed);
        tracing::warn!(pool = self.name, %error, "a database connection was closed; checking the others before their next use");
        true
    }

    /// Takes a permit, then runs `work` on a blocking thread with a connection.
    async fn on_connection<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&BoundedPool, PooledConnection) -> Result<T> + Send + 'static,
    {
        let asked = Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| Error::internal("waiting for a database connection", error))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let connection = pool.checkout()?;
            metrics::histogram!("baton_db_pool_wait_seconds", "pool" => pool.name)
                .record(asked.elapsed().as_secs_f64());
            work(&pool, connection)
        })
        .await
        .map_err(|error| Error::internal("database task failed", error))?
    }

    /// Runs `work`, which only reads; once more on another connection if its own was closed.
    async fn read<T, F>(&self, mut work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        self.on_connection(move |pool, mut connection| match work(&mut connection) {
            Err(error) if pool.closed_under(&mut connection, &error) => {
                drop(connection);
                let mut again = pool.checkout()?;
                let outcome = work(&mut again);
                if let Err(error) = &outcome {
                    pool.closed_under(&mut again, error);
                }
                outcome
            }
            outcome => outcome,
        })
        .await
    }

    /// Runs `work`, which writes: not repeated when its connection was closed.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        self.on_connection(move |pool, mut connection| {
            let outcome = work(&mut connection);
            if let Err(error) = &outcome {
                pool.closed_under(&mut connection, error);
            }
            outcome
        })
        .await
    }
}

impl Database {
    /// Opens the pool (creating the SQLite file and its folder when needed).
    pub fn connect(settings: &Settings) -> Result<Database> {
        Database::connect_with(settings, settings.pool_size, SessionLimits::default())
    }

    /// Opens a pool of `pool_size` connections whose PostgreSQL sessions carry `session`.
    pub fn connect_with(settings: &Settings, pool_size: u32, session: SessionLimits) -> Result<Database> {
        let location = settings.database_location().map_err(|error| Error::Unavailable(error.to_string()))?;
        if let DatabaseLocation::Sqlite(path) = &location
            && let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                Error::internal(format!("cannot create database folder {}", parent.display()), error)
            })?;
        }
        let remote = matches!(location, DatabaseLocation::Postgres(_));
        let open_pool = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(5))
                .build(ConnectionManager { location: location.clone(), session: session.clone() })
                .map_err(|error| {
                    Error::Unavailable(format!("cannot open database {}: {error}", redact_url(&settings.database_url)))
                })
        };
        let pool = BoundedPool::new("main", open_pool(pool_size)?, remote);
        let writer = match location {
            DatabaseLocation::Sqlite(_) => BoundedPool::new("writer", open_pool(1)?, remote),
            DatabaseLocation::Postgres(_) => pool.clone(),
        };
        let checkpointer = match &location {
            DatabaseLocation::Sqlite(_) => {
                Some(Checkpointer::start(ConnectionManager { location: location.clone(), session: session.clone() })?)
            }
            DatabaseLocation::Postgres(_) => None,
        };
        let database = Database { pool, writer, location, _checkpointer: checkpointer };
        if let DatabaseLocation::Sqlite(path) = &database.location {
            use_write_ahead_log(&mut **database.get()?, path)?;
        }
        Ok(database)
    }

    pub fn get(&self) -> Result<PooledConnection> {
        self.pool.checkout()
    }

    /// The pools' use: the main one, and SQLite's single writer.
    pub fn pool_figures(&self) -> Vec<PoolFigures> {
        match self.location {
            DatabaseLocation::Sqlite(_) => vec![self.pool.figures(), self.writer.figures()],
            DatabaseLocation::Postgres(_) => vec![self.pool.figures()],
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.location {
            DatabaseLocation::Sqlite(_) => "sqlite",
            DatabaseLocation::Postgres(_) => "postgres",
        }
    }

    /// Runs blocking database work that only reads, off the async executor; once more on
    /// another connection when its own turns out closed (see `BoundedPool`).
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        self.pool.read(work).await
    }

    /// Runs blocking database work that writes, off the async executor.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Applies pending migrations under a lock that all nodes respect, after refusing
    /// a schema newer than this binary. Returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut connection = self.get()?;
        match (&mut **connection, &self.location) {
            (DbConnection::Postgresql(inner), _) => {
                inner.batch_execute(&format!("SELECT pg_advisory_lock({POSTGRES_MIGRATION_LOCK_KEY})"))?;
                let outcome = migrate_with(inner, POSTGRES_MIGRATIONS);
                inner.batch_execute(&format!("SELECT pg_advisory_unlock({POSTGRES_MIGRATION_LOCK_KEY})"))?;
                outcome
            }
            (DbConnection::Sqlite(inner), DatabaseLocation::Sqlite(path)) => {
                let _lock = setup_lock(path)?;
                migrate_with(inner, SQLITE_MIGRATIONS)
            }
            (DbConnection::Sqlite(_), DatabaseLocation::Postgres(_)) => {
                Err(Error::Unavailable("database backend does not match its URL".into()))
            }
        }
    }

    /// Reverts every migration (used by tests that prove down migrations work).
    pub fn revert_all_migrations(&self) -> Result<()> {
        let mut connection = self.get()?;
        let outcome = match &mut **connection {
            DbConnection::Postgresql(inner) => inner.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
            DbConnection::Sqlite(inner) => inner.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        outcome.map_err(|error| Error::internal("reverting migrations failed", error.to_string()))
    }
}

/// Puts a SQLite file into WAL mode, which persists in the file and lets readers run while
/// one writer writes. Setting the mode takes the write lock without waiting through
/// `busy_timeout` ("database is locked" at once while another node writes), so it is only
/// read where the file is in WAL already, and set under the lock nodes take for migrations.
fn use_write_ahead_log(connection: &mut DbConnection, path: &Path) -> Result<()> {
    #[derive(QueryableByName)]
    struct JournalMode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let in_wal = |connection: &mut DbConnection| -> Result<bool> {
        let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode").get_result(connection)?;
        Ok(mode.journal_mode.eq_ignore_ascii_case("wal"))
    };
    if in_wal(connection)? {
        return Ok(());
    }
    let _lock = setup_lock(path)?;
    if !in_wal(connection)? {
        connection.batch_execute("PRAGMA journal_mode = WAL")?;
    }
    Ok(())
}

/// The lock every node of a SQLite database takes while it sets the file up (journal mode,
/// migrations): a file beside the database, locked until the returned handle is dropped.
fn setup_lock(database: &Path) -> Result<File> {
    let path = database.with_extension("migrate.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| Error::internal(format!("cannot open lock file {}", path.display()), error))?;
    file.lock().map_err(|error| Error::internal(format!("cannot lock {}", path.display()), error))?;
    Ok(file)
}

fn migrate_with<C>(connection: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
    EmbeddedMigrations: MigrationSource<C::Backend>,
{
    let known: Vec<String> = MigrationSource::<C::Backend>::migrations(&migrations)
        .map_err(|error| Error::internal("reading embedded migrations", error.to_string()))?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    let applied: Vec<String> = connection
        .applied_migrations()
        .map_err(|error| Error::internal("reading applied migrations", error.to_string()))?
        .iter()
        .map(|version| version.to_string())
        .collect();
    if let Some(unknown) = applied.iter().find(|version| !known.contains(version)) {
        return Err(Error::Unavailable(format!(
            "the database schema has migration {unknown}, which this baton {} does not know: \
             the database was upgraded by a newer baton; run that version (or newer) on this node",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let versions = connection
        .run_pending_migrations(migrations)
        .map_err(|error| Error::internal("applying migrations", error.to_string()))?;
    Ok(versions.iter().map(|version| version.to_string()).collect())
}

/// Runs `work` in a write transaction. On SQLite it begins with `BEGIN IMMEDIATE` so a
/// transaction that reads and then writes never fails to upgrade its lock under
/// concurrency; on PostgreSQL it is an ordinary transaction. Inside another write
/// transaction (a model function as part of a bigger unit, such as storing a mail) it is a
/// savepoint: an error undoes only its own writes, and the outer transaction decides.
pub fn write_transaction<T, F>(connection: &mut DbConnection, work: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<T>,
{
    let depth = <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(connection)
        .transaction_depth()?;
    if depth.is_some() {
        return connection.transaction(work);
    }
    match connection {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        DbConnection::Postgresql(_) => DbConnection::begin_transaction(connection)?,
    }
    match work(connection) {
        Ok(value) => {
            DbConnection::commit_transaction(connection)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback_error) = DbConnection::rollback_transaction(connection) {
                tracing::error!(%rollback_error, "rolling back a failed write transaction failed");
            }
            Err(error)
        }
    }
}

/// Runs reads that make up one answer (a page of many parts) against one state of the
/// database where that is cheap: on SQLite in one read transaction, which takes the read lock
/// once instead of once per statement and shows every part the same snapshot; on PostgreSQL
/// statement by statement, since a transaction there costs two more round trips and READ
/// COMMITTED would not give one snapshot anyway.
pub fn read_together<T, F>(connection: &mut DbConnection, work: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<T>,
{
    match connection {
        DbConnection::Sqlite(_) => connection.transaction(work),
        DbConnection::Postgresql(_) => work(connection),
    }
}

/// The database clock, so that every node agrees on "now".
pub fn database_now(connection: &mut DbConnection) -> Result<chrono::NaiveDateTime> {
    Ok(diesel::select(diesel::dsl::now).get_result(connection)?)
}

/// Runs the same diesel code against the concrete connection, for the few statements the
/// multi-backend connection cannot express (batch inserts, batch `RETURNING`).
#[macro_export]
macro_rules! with_backend {
    ($connection:expr, |$inner:ident| $body:expr) => {
        match $connection {
            $crate::db::DbConnection::Postgresql($inner) => $body,
            $crate::db::DbConnection::Sqlite($inner) => $body,
        }
    };
}
