//! Each migration of this wave on a database made by the schema before it, with rows: nothing is
//! lost, and the new columns start empty.

use std::borrow::Cow;

use sqlx::migrate::Migrator;
use tollgate_store_contract::harness::TestDatabase;

/// The first migration of this wave: `housekeeping_indexes`, then `service_key_use`.
const FIRST_NEW: i64 = 20261203000001;

fn before(mut migrator: Migrator) -> Migrator {
    migrator.migrations =
        Cow::Owned(migrator.migrations.iter().filter(|m| m.version < FIRST_NEW).cloned().collect());
    migrator
}

const OPTIONS: tollgate_store_sqlite::PoolOptions = tollgate_store_sqlite::PoolOptions {
    max_connections: 2,
    acquire_timeout: std::time::Duration::from_secs(10),
    write_queue_limit: tollgate_store_sqlite::PoolOptions::WRITE_QUEUE_LIMIT,
};

#[tokio::test]
async fn sqlite_keeps_users_usage_and_service_keys() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let options = url.parse::<SqliteConnectOptions>().expect("url").create_if_missing(true);
    let pool = SqlitePoolOptions::new().connect_with(options).await.expect("open");
    before(sqlx::migrate!("../adapters/sqlite/migrations")).run(&pool).await.expect("the schema before");
    for statement in [
        "INSERT INTO users VALUES (x'01', 'a@example.com', 'A', 'user', 'h', 1)",
        "INSERT INTO usage_records (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
         VALUES (x'10', x'01', 1, 'session_create', 'k-1', NULL, 0, 5, 'f')",
        "INSERT INTO service_keys (id, name, key_hash, created_at, revoked_at) VALUES (x'00000000000000000000000000000030', 'agents', 'hash-1', 7, NULL)",
    ] {
        sqlx::query(statement).execute(&pool).await.expect(statement);
    }
    pool.close().await;

    let store = tollgate_store_sqlite::SqliteStore::connect(&url, OPTIONS).await.expect("open");
    store.migrate().await.expect("this wave's migrations");
    let pool = SqlitePoolOptions::new().connect(&url).await.expect("open");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pool).await.expect("users");
    let usage: (i64, Option<String>) = sqlx::query_as("SELECT units, idempotency_key FROM usage_records")
        .fetch_one(&pool)
        .await
        .expect("usage");
    let key: (String, String, i64, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT name, key_hash, created_at, prefix, last_used_at FROM service_keys")
            .fetch_one(&pool)
            .await
            .expect("key");
    assert_eq!((users, usage), (1, (1, Some("k-1".to_owned()))));
    assert_eq!(key, ("agents".into(), "hash-1".into(), 7, None, None));
    // The old key still authenticates through the port, with no prefix to show.
    use tollgate_ports::ServiceKeyRepository;
    let found = store.find_active("hash-1").await.expect("read").expect("the old key");
    assert_eq!((found.name.as_str(), found.prefix, found.last_used_at), ("agents", None, None));
}

#[tokio::test]
async fn postgres_keeps_users_usage_and_service_keys() {
    let Some(db) = TestDatabase::create().await else { return };
    let pool = sqlx::postgres::PgPoolOptions::new().connect(db.url()).await.expect("open");
    before(sqlx::migrate!("../adapters/postgres/migrations")).run(&pool).await.expect("the schema before");
    for statement in [
        "INSERT INTO users VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com', 'A', 'user', 'h', now())",
        "INSERT INTO usage_records (id, user_id, units, reason, idempotency_key, refunded, created_at) \
         VALUES ('00000000-0000-0000-0000-000000000010', '00000000-0000-0000-0000-000000000001', 1, \
         'session_create', 'k-1', FALSE, now())",
        "INSERT INTO service_keys (id, name, key_hash, created_at) \
         VALUES ('00000000-0000-0000-0000-000000000030', 'agents', 'hash-1', '2026-12-01T00:00:00Z')",
    ] {
        sqlx::query(statement).execute(&pool).await.expect(statement);
    }
    pool.close().await;

    let store = tollgate_store_postgres::PgStore::connect(db.url(), OPTIONS).await.expect("open");
    store.migrate().await.expect("this wave's migrations");
    let pool = sqlx::postgres::PgPoolOptions::new().connect(db.url()).await.expect("open");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pool).await.expect("users");
    let usage: (i64, Option<String>) = sqlx::query_as("SELECT units, idempotency_key FROM usage_records")
        .fetch_one(&pool)
        .await
        .expect("usage");
    let key: (String, String, Option<String>, Option<time::OffsetDateTime>) =
        sqlx::query_as("SELECT name, key_hash, prefix, last_used_at FROM service_keys")
            .fetch_one(&pool)
            .await
            .expect("key");
    assert_eq!((users, usage), (1, (1, Some("k-1".to_owned()))));
    assert_eq!(key, ("agents".into(), "hash-1".into(), None, None));
    use tollgate_ports::ServiceKeyRepository;
    let found = store.find_active("hash-1").await.expect("read").expect("the old key");
    assert_eq!((found.name.as_str(), found.prefix, found.last_used_at), ("agents", None, None));
    pool.close().await;
    drop(store);
    db.drop_now().await;
}
