//! The store contract against a real SQLite file (WAL), one fresh file per test.

tollgate_store_contract::contract_suite!(tollgate_store_contract::harness::sqlite);

/// Several store instances on one file, each with its own writer connection (as separate
/// processes would have): 64 concurrent consumptions against a limit of 10 still give exactly 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_consumes_through_eight_store_instances_on_one_file_give_exactly_ten() {
    use std::sync::Arc;

    use tollgate_domain::plan::RunLimit;
    use tollgate_ports::outbound::{ConsumeOutcome, UsageRepository};
    use tollgate_store_contract::fixtures::{consumption, registered};
    use tollgate_store_sqlite::{PoolOptions, SqliteStore};

    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/shared.db", dir.path().display());
    let options = PoolOptions { max_connections: 8, acquire_timeout: std::time::Duration::from_secs(30) };
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
