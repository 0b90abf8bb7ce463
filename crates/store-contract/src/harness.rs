//! Fresh stores for each test.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use tollgate_ports::{
    AccountRepository, AdminRepository, HealthCheck, Housekeeping, RefreshTokenRepository, Repositories,
    RepositoryPorts, ReservationRepository, ServiceKeyRepository, SessionRepository, SubscriptionRepository,
    UsageRepository, UserRepository, WebhookInbox,
};
use tollgate_store_postgres::PgStore;
use tollgate_store_sqlite::{PoolOptions, SqliteStore};

/// Every port of one store.
#[derive(Clone)]
pub struct Subject {
    pub users: Arc<dyn UserRepository>,
    pub accounts: Arc<dyn AccountRepository>,
    pub subs: Arc<dyn SubscriptionRepository>,
    pub usage: Arc<dyn UsageRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub tokens: Arc<dyn RefreshTokenRepository>,
    pub inbox: Arc<dyn WebhookInbox>,
    pub service_keys: Arc<dyn ServiceKeyRepository>,
    pub reservations: Arc<dyn ReservationRepository>,
    pub housekeeping: Arc<dyn Housekeeping>,
    pub admin: Arc<dyn AdminRepository>,
    pub health: Arc<dyn HealthCheck>,
    /// Runs the store's migrations again (they must be idempotent).
    pub migrate: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, Result<(), String>> + Send + Sync>,
}

impl Subject {
    /// Every port of `store`, its migrations included.
    pub fn of_store<S: Repositories + Clone + 'static>(store: S) -> Self {
        Self::of(store, |_| Box::pin(async { Ok(()) }))
    }

    fn of<S: Repositories + Clone + 'static>(
        store: S,
        migrate: impl Fn(S) -> futures_util::future::BoxFuture<'static, Result<(), String>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let ports = RepositoryPorts::of(Arc::new(store.clone()));
        Self {
            users: ports.users,
            accounts: ports.accounts,
            subs: ports.subs,
            usage: ports.usage,
            sessions: ports.sessions,
            tokens: ports.tokens,
            inbox: ports.inbox,
            service_keys: ports.service_keys,
            reservations: ports.reservations,
            housekeeping: ports.housekeeping,
            admin: ports.admin,
            health: ports.health,
            migrate: Arc::new(move || migrate(store.clone())),
        }
    }
}

/// A subject and what must be cleaned up after the test.
pub struct SubjectGuard {
    subject: Subject,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(#[allow(dead_code, reason = "held only to delete the folder on drop")] tempfile::TempDir),
    PgDatabase { admin_url: String, name: String },
}

impl SubjectGuard {
    /// Runs `test`, then cleans up, then re-raises a failure of the test.
    pub async fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(Subject) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(test(self.subject.clone())).await;
        drop(self.subject);
        if let Cleanup::PgDatabase { admin_url, name } = &self.cleanup {
            drop_database(admin_url, name).await;
        }
        if let Err(e) = outcome {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("test task failed: {e}");
        }
    }
}

fn pool(size: u32) -> PoolOptions {
    PoolOptions {
        max_connections: size,
        acquire_timeout: Duration::from_secs(30),
        write_queue_limit: PoolOptions::WRITE_QUEUE_LIMIT,
    }
}

/// A fresh SQLite database file in its own temporary folder (the folder is created by the store).
pub async fn sqlite(pool_size: u32) -> Option<SubjectGuard> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}/nested/tollgate.db", dir.path().display());
    let store = SqliteStore::connect(&url, pool(pool_size)).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    let subject =
        Subject::of(store, |s| Box::pin(async move { s.migrate().await.map_err(|e| format!("{e:?}")) }));
    Some(SubjectGuard { subject, cleanup: Cleanup::Folder(dir) })
}

fn admin_url() -> String {
    std::env::var("TOLLGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A fresh, empty Postgres database for one test; drop it with [`TestDatabase::drop_now`].
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates it, or returns `None` (with a message) when Postgres is unreachable outside CI.
    /// With `CI=true` an unreachable Postgres is a failure, never a skip.
    pub async fn create() -> Option<Self> {
        let admin_url = admin_url();
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(e) if !in_ci() => {
                eprintln!("SKIPPED: Postgres unreachable at {admin_url} ({e}); CI=true makes this a failure");
                return None;
            }
            Err(e) => panic!("Postgres unreachable at {admin_url} and CI=true: {e}"),
        };
        let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = database_url(&admin_url, &name);
        Some(Self { admin_url, name, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop_now(self) {
        drop_database(&self.admin_url, &self.name).await;
    }
}

/// A fresh Postgres database, or `None` (with a message) when Postgres is unreachable outside CI.
pub async fn postgres(pool_size: u32) -> Option<SubjectGuard> {
    let db = TestDatabase::create().await?;
    let store = PgStore::connect(db.url(), pool(pool_size)).await.expect("connect to test database");
    store.migrate().await.expect("migrate postgres");
    let subject =
        Subject::of(store, |s| Box::pin(async move { s.migrate().await.map_err(|e| format!("{e:?}")) }));
    Some(SubjectGuard { subject, cleanup: Cleanup::PgDatabase { admin_url: db.admin_url, name: db.name } })
}

/// `admin_url` with its database name replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    match sqlx::PgConnection::connect(admin_url).await {
        Ok(mut admin) => {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await {
                eprintln!("could not drop test database {name}: {e}");
            }
        }
        Err(e) => eprintln!("could not drop test database {name}: {e}"),
    }
}
