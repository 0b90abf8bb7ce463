//! The embedded default store on SQLite (WAL): every repository port of `tollgate-ports` on one
//! pool, with its own embedded migrations. The database file and its folder are created if missing.
//!
//! Write transactions start with `BEGIN IMMEDIATE`: a deferred transaction that reads and then
//! writes cannot upgrade its lock once another connection has committed (SQLite answers BUSY at
//! once, whatever the busy timeout), while an immediate one waits its turn for the single writer.

mod inbox;
mod metering;
mod rows;
mod subscriptions;
mod tokens;
mod users;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tollgate_ports::outbound::{HealthCheck, StoreError};
use tollgate_store_sql::store_error;
pub use tollgate_store_sql::PoolOptions;

/// How long a writer waits for the lock before failing as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database named by a `sqlite://path` URL.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(store_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if let Some(folder) = connect.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(StoreError::unavailable)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(store_error)?;
        Ok(Self { pool })
    }

    /// Applies the embedded migrations; a no-op when they are all applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await.map_err(StoreError::failed)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction holding the write lock from its first statement.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(store_error)
    }
}
