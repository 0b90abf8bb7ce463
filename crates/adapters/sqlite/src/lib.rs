//! The embedded default store on SQLite (WAL): its pools, its migrations and its write
//! transactions; the repositories themselves are `tollgate-store-sql`'s, written once for both
//! stores. The database file and its folder are created if missing.
//!
//! SQLite has one writer at a time. All writes go through a dedicated one-connection pool, so
//! writers queue in the pool (async, first come first served) instead of contending for the
//! database lock inside SQLite, whose busy handler sleeps with a growing back-off (that contention
//! put the p99 of the metered path at 230–400 ms under load; see docs/benchmarks.md). Reads use
//! their own pool and never wait for writers (WAL). Write transactions still start with
//! `BEGIN IMMEDIATE`, so the database is also safe when another process writes to the file
//! (a `tollgate user` command next to a running server).
//!
//! Metered writes go through group commit (`tollgate_store_sql::batch`): the writes that queue
//! while the writer is busy are applied together in its next transaction, a handful of statements
//! per batch instead of per request (each statement is a hop to sqlx's SQLite worker thread).
//!
//! The WAL is copied back into the database file (checkpointed) by a connection of its own every
//! [`CHECKPOINT_EVERY`], not by the writer: a checkpoint copies megabytes and syncs the file, and
//! on the writer it stalls every write queued behind it.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tollgate_ports::StoreError;
use tollgate_store_sql::batch::Batchers;
use tollgate_store_sql::store_error;
pub use tollgate_store_sql::PoolOptions;

/// Statements kept prepared per connection: a group commit's statements differ by batch size.
const STATEMENT_CACHE: usize = 512;

/// The writer's page cache, in KiB (SQLite's default is 2 MiB): the indexes a metered batch
/// inserts into stay in memory instead of being read back for every batch. 48 MiB, not the 64 of
/// #15: with the password hashers' blocks the server must stay under 150 MiB at its peak, and 48
/// measured the same metered throughput within this machine's spread (docs/benchmarks.md, #34).
const WRITER_CACHE_KIB: u32 = 48 * 1024;

/// How often the checkpointer copies the WAL back into the database file (chosen by measurement:
/// docs/benchmarks.md).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// The writer's own automatic checkpoint, in WAL pages (SQLite's default is 1,000): a backstop
/// that only runs if the checkpointer falls far behind.
const WRITER_AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// How long a writer waits for the lock before failing as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The single writer.
    writer: SqlitePool,
    /// The group commit of metered writes and reservation commits, on the writer.
    batchers: Batchers,
    /// The checkpointer stops once every clone of the store is gone.
    _alive: Arc<()>,
}

impl SqliteStore {
    /// A batch's write transaction already excludes every other writer.
    const LOCK_ROWS: &'static str = "";
    /// Likewise: no other transaction holds a row while a batch runs.
    const LOCK_ROWS_SKIP_LOCKED: &'static str = "";

    /// Opens (creating if needed) the database named by a `sqlite://path` URL.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(store_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .statement_cache_capacity(STATEMENT_CACHE);
        if let Some(folder) = connect.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(StoreError::unavailable)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(
                connect
                    .clone()
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
                    .pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES.to_string()),
            )
            .await
            .map_err(store_error)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A ping before every acquire doubles the round trips of a one-query request; a broken
            // connection surfaces as an error on use instead, which maps to 503 and is replaced.
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await
            .map_err(store_error)?;
        let alive = Arc::new(());
        checkpoints(connect, Arc::downgrade(&alive));
        let batchers = {
            let writer = writer.clone();
            batchers(options.write_queue_limit, move || {
                let writer = writer.clone();
                async move { writer.begin_with("BEGIN IMMEDIATE").await }
            })
        };
        Ok(Self { pool, writer, batchers, _alive: alive })
    }

    /// Applies the embedded migrations; a no-op when they are all applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.writer).await.map_err(StoreError::failed)
    }

    /// Writes a consistent copy of the database to `path` while the store keeps serving
    /// (`VACUUM INTO`: one read transaction, so writers go on; the copy is a complete,
    /// compacted database). `path` must not exist yet.
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let target = path.to_str().ok_or_else(|| StoreError::failed("the backup path is not UTF-8"))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.pool).await.map(|_| ()).map_err(store_error)
    }

    fn read_pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction on the writer connection, holding the database's write lock from its
    /// first statement.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] on a connection of its own, while `alive` has
/// an owner. `PASSIVE`: it copies what no reader still needs and never waits for the writer or a
/// reader, so writes go on meanwhile.
fn checkpoints(connect: SqliteConnectOptions, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut conn: Option<SqliteConnection> = None;
        loop {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            if alive.strong_count() == 0 {
                return;
            }
            if conn.is_none() {
                conn = connect.connect().await.ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(c).await {
                tracing::warn!(error = %e, "could not checkpoint the WAL; the writer's own checkpoint is the backstop");
                conn = None;
            }
        }
    });
}

tollgate_store_sql::repositories!(SqliteStore, sqlx::Sqlite);
