//! The store contract against a real SQLite file (WAL), one fresh file per test.

tollgate_store_contract::contract_suite!(tollgate_store_contract::harness::sqlite);

/// Several store instances on one file, each with its own writer connection (as separate
/// processes would have): 64 concurrent consumptions against a limit of 10 still give exactly 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_consumes_through_eight_store_instances_on_one_file_give_exactly_ten() {
    use std::sync::Arc;

    use tollgate_domain::plan::RunLimit;
    use tollgate_ports::{ConsumeOutcome, UsageRepository};
    use tollgate_store_contract::fixtures::{consumption, registered};
    use tollgate_store_sqlite::{PoolOptions, SqliteStore};

    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shared.db", dir.path().display());
    let options = PoolOptions {
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(30),
        write_queue_limit: PoolOptions::WRITE_QUEUE_LIMIT,
    };
    let mut stores = Vec::new();
    for _ in 0..8 {
        let store = SqliteStore::connect(&url, options).await.expect("open");
        store.migrate().await.expect("migrate");
        stores.push(Arc::new(store));
    }
    let subject = tollgate_store_contract::Subject::of_store((*stores[0]).clone());
    let (user, _) = registered(&subject, "ada@example.com").await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(
                async move { store.consume(&consumption(user.id, 0, RunLimit::limited(10), None)).await },
            )
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        if let ConsumeOutcome::Consumed { .. } = task.await.expect("joined").expect("no store error") {
            consumed += 1;
        }
    }
    assert_eq!(consumed, 10);
}

/// The migration that rebuilds the metered tables (`usage_records`, `sessions`: WITHOUT ROWID,
/// a partial unique index on the idempotency key) keeps every row of a database made before it,
/// and the key stays unique.
#[tokio::test]
async fn rebuilding_the_metered_tables_keeps_their_rows() {
    use std::borrow::Cow;

    use sqlx::sqlite::SqlitePoolOptions;
    use tollgate_store_sqlite::{PoolOptions, SqliteStore};

    type UsageRow = (Vec<u8>, i64, String, Option<String>, Option<Vec<u8>>, i64, i64, Option<String>);
    type SessionRow = (Vec<u8>, Vec<u8>, Option<String>, i64);
    const REBUILD: i64 = 20261201000001;
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let pool = SqlitePoolOptions::new()
        .connect_with(url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("url").create_if_missing(true))
        .await
        .expect("open");
    let mut before = sqlx::migrate!("../adapters/sqlite/migrations");
    before.migrations =
        Cow::Owned(before.migrations.iter().filter(|m| m.version < REBUILD).cloned().collect());
    before.run(&pool).await.expect("the schema before the rebuild");
    let statements = [
        "INSERT INTO users VALUES (x'01', 'a@example.com', 'A', 'user', 'h', 1)",
        "INSERT INTO usage_records (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
         VALUES (x'10', x'01', 1, 'session_create', 'k-1', x'20', 0, 5, 'f'), (x'11', x'01', 2, 'api', NULL, NULL, 1, 6, NULL)",
        "INSERT INTO sessions VALUES (x'20', x'01', 'kept', 5)",
    ];
    for statement in statements {
        sqlx::query(statement).execute(&pool).await.expect(statement);
    }
    pool.close().await;

    let options = PoolOptions {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(10),
        write_queue_limit: PoolOptions::WRITE_QUEUE_LIMIT,
    };
    let store = SqliteStore::connect(&url, options).await.expect("open");
    store.migrate().await.expect("the rebuild");
    let pool = SqlitePoolOptions::new().connect(&url).await.expect("open");
    let usage: Vec<UsageRow> = sqlx::query_as(
        "SELECT id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash FROM usage_records ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("usage");
    assert_eq!(
        usage,
        vec![
            (
                vec![0x10],
                1,
                "session_create".into(),
                Some("k-1".into()),
                Some(vec![0x20]),
                0,
                5,
                Some("f".into())
            ),
            (vec![0x11], 2, "api".into(), None, None, 1, 6, None),
        ]
    );
    let sessions: Vec<SessionRow> = sqlx::query_as("SELECT id, user_id, title, created_at FROM sessions")
        .fetch_all(&pool)
        .await
        .expect("sessions");
    assert_eq!(sessions, vec![(vec![0x20], vec![0x01], Some("kept".into()), 5)]);
    let again = sqlx::query(
        "INSERT INTO usage_records (id, account_id, user_id, units, reason, idempotency_key, refunded, created_at) \
         VALUES (x'12', x'01', x'01', 1, 'api', 'k-1', 0, 7)",
    )
    .execute(&pool)
    .await;
    assert!(again.is_err(), "the same key for the same user is still refused");
    for id in [0x13_u8, 0x14] {
        sqlx::query(
            "INSERT INTO usage_records (id, account_id, user_id, units, reason, refunded, created_at) \
             VALUES ($1, x'01', x'01', 1, 'api', 0, 8)",
        )
        .bind(vec![id])
        .execute(&pool)
        .await
        .expect("records without a key never collide");
    }
}

/// The store checkpoints the WAL on a connection of its own (the writer's own automatic
/// checkpoint is only a far-off backstop): pages written to the WAL reach the database file
/// while nothing else checkpoints.
#[tokio::test]
async fn the_wal_is_checkpointed_off_the_writer() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use tollgate_store_sqlite::{PoolOptions, SqliteStore};

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("wal.db");
    let url = format!("sqlite://{}", path.display());
    let options = PoolOptions {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(10),
        write_queue_limit: PoolOptions::WRITE_QUEUE_LIMIT,
    };
    let store = SqliteStore::connect(&url, options).await.expect("open");
    store.migrate().await.expect("migrate");
    // Another writer that never checkpoints: only the store's checkpointer moves its pages.
    let other = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(url.parse::<SqliteConnectOptions>().expect("url").pragma("wal_autocheckpoint", "0"))
        .await
        .expect("open");
    sqlx::query("CREATE TABLE filler (b BLOB)").execute(&other).await.expect("table");
    const MIB: u64 = 1024 * 1024;
    for _ in 0..8 {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 256) \
             INSERT INTO filler SELECT zeroblob(4000) FROM n",
        )
        .execute(&other)
        .await
        .expect("insert");
    }
    let mut size = 0;
    for _ in 0..100 {
        size = std::fs::metadata(&path).expect("database file").len();
        if size >= 8 * MIB {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(size >= 8 * MIB, "the database file is {size} bytes: the WAL was not checkpointed");
    drop(store);
}
