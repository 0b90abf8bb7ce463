//! The store contract against a real SQLite file (WAL), one fresh file per test.

tollgate_store_contract::contract_tests!(tollgate_store_contract::harness::sqlite;
    4 => [
        migrations_can_be_applied_again,
        a_user_is_created_with_their_subscription,
        a_taken_email_is_refused_and_nothing_is_written,
        every_subscription_field_round_trips,
        an_update_is_a_compare_and_set_on_the_version,
        an_update_keeps_the_counter_unless_it_resets_it,
        consumption_counts_up_to_the_limit_and_no_further,
        an_unlimited_limit_never_refuses,
        a_consumption_decided_on_an_old_version_writes_nothing,
        a_repeated_idempotency_key_replays_without_counting,
        a_refund_gives_the_runs_back_once,
        a_refund_after_the_period_rolled_over_leaves_the_new_counter_alone,
        a_metered_session_is_created_with_its_usage_record,
        a_refused_metered_session_is_not_created,
        a_replayed_metered_session_returns_the_original,
        sessions_are_listed_newest_first_in_pages_and_only_to_their_owner,
        an_unmetered_session_is_created_without_counting,
        refresh_tokens_rotate_once_and_revoke_by_family,
        an_event_and_its_change_are_recorded_together_once,
        an_event_whose_change_conflicts_is_not_recorded,
    ],
    16 => [
        concurrent_metered_creates_make_exactly_the_allowed_sessions,
        concurrent_requests_with_one_key_count_once,
        concurrent_rollovers_open_the_next_period_once,
        concurrent_registrations_of_one_email_make_one_user,
    ],
    64 => [sixty_four_concurrent_consumes_against_a_limit_of_ten_give_exactly_ten],
);

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
