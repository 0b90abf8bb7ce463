//! The production store on PostgreSQL: its pool and its migrations; the repositories themselves
//! are `tollgate-store-sql`'s, written once for both stores.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use tollgate_ports::StoreError;
use tollgate_store_sql::batch::Batchers;
use tollgate_store_sql::store_error;
pub use tollgate_store_sql::PoolOptions;

/// A pooled connection idle at least this long is pinged before use.
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Statements kept prepared per connection: a group commit's statements differ by batch size.
const STATEMENT_CACHE: usize = 512;

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The group commit of metered writes and reservation commits.
    batchers: Batchers,
}

impl PgStore {
    /// A batch locks its users' counters in user order, so concurrent batches (of this replica or
    /// another) cannot deadlock.
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    /// A commit batch never waits for a reservation another transaction holds.
    const LOCK_ROWS_SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    /// Connects lazily-verified: fails if the first connection cannot be made.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let connect: PgConnectOptions = url.parse().map_err(store_error)?;
        // A lock waited on longer than this fails the statement (503) instead of holding its
        // request, or a whole group-commit batch, for as long as some other session keeps it.
        let connect = connect
            .statement_cache_capacity(STATEMENT_CACHE)
            .options([("lock_timeout", format!("{}ms", options.acquire_timeout.as_millis().max(1)))]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A ping before every acquire doubles the round trips of a one-query request. Only a
            // connection that sat idle for a while is checked (after an outage those are the dead
            // ones); under load connections are handed straight back out.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < PING_IF_IDLE_FOR {
                        return Ok(true);
                    }
                    Ok(sqlx::Connection::ping(conn).await.is_ok())
                })
            })
            .connect_with(connect)
            .await
            .map_err(store_error)?;
        let batchers = {
            let pool = pool.clone();
            batchers(options.write_queue_limit, move || {
                let pool = pool.clone();
                async move { pool.begin().await }
            })
        };
        Ok(Self { pool, batchers })
    }

    /// Applies the embedded migrations; a no-op when they are all applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await.map_err(StoreError::failed)
    }

    fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    async fn write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

tollgate_store_sql::repositories!(PgStore, sqlx::Postgres);
