//! One contract for every store: the same tests, generic over the repository ports, run against
//! a real SQLite file and a real Postgres database (`tests/sqlite.rs`, `tests/postgres.rs`).
//!
//! Each test gets a fresh store: a new SQLite file in a temporary folder, or a new Postgres
//! database created for the test and dropped after it (also when it fails). Postgres is found at
//! `TOLLGATE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); when it
//! cannot be reached the Postgres tests say so and pass, except with `CI=true`, where they fail.

// Test fixtures: fresh ids and database names.
#![allow(clippy::disallowed_methods, reason = "tests run on real time and make their own ids")]
#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

pub mod contract;
pub mod fixtures;
pub mod harness;

pub use harness::{Subject, SubjectGuard};

/// Expands to one `#[tokio::test]` per contract test, each on a fresh store made by `$make`
/// (an async fn taking the pool size and returning `Option<SubjectGuard>`).
#[macro_export]
macro_rules! contract_tests {
    ($make:path; $($pool:literal => [$($name:ident),* $(,)?]),* $(,)?) => {
        $($(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(guard) = $make($pool).await else { return };
                guard.run($crate::contract::$name).await;
            }
        )*)*
    };
}

/// The whole contract, once, for the store `$make` builds: every test of [`contract`] with the
/// pool size it needs. Each store's test file is a single invocation, so none can fall behind.
#[macro_export]
macro_rules! contract_suite {
    ($make:path) => {
        $crate::contract_tests!($make;
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
                an_idempotency_key_with_another_fingerprint_is_a_mismatch,
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
                service_keys_are_found_by_hash_until_revoked_and_names_are_unique,
                a_hold_counts_against_the_limit_and_a_commit_charges_only_what_it_cost,
                a_release_gives_every_held_run_back_once,
                a_repeated_key_answers_the_first_hold,
                any_interleaving_of_holds_and_consumptions_never_oversells_and_conserves_runs,
                an_admin_change_and_its_audit_entry_are_written_together_or_not_at_all,
                a_role_change_is_audited_and_an_unknown_user_writes_nothing,
                users_are_searched_by_email_or_name_with_wildcards_taken_literally,
                a_refunded_or_released_or_expired_key_charges_anew,
                an_organisation_is_made_with_its_owner_and_a_subscription,
            ],
            16 => [
                concurrent_metered_creates_make_exactly_the_allowed_sessions,
                concurrent_requests_with_one_key_count_once,
                concurrent_rollovers_open_the_next_period_once,
                concurrent_registrations_of_one_email_make_one_user,
                an_expired_hold_comes_back_once_whoever_expires_it,
                concurrent_holds_with_one_key_hold_once,
                two_concurrent_purges_delete_each_old_row_once_and_nothing_too_early,
                metered_writes_arriving_together_are_decided_in_arrival_order,
                a_metered_write_that_fails_fails_alone,
                reservation_commits_arriving_together_are_settled_in_arrival_order,
                a_large_purge_goes_in_chunks_beside_metered_writes,
                an_invitation_racing_itself_is_accepted_once,
                two_owners_leaving_at_once_leave_one_owner,
                seats_follow_the_members_even_when_they_join_at_once,
            ],
            64 => [
                sixty_four_concurrent_consumes_against_a_limit_of_ten_give_exactly_ten,
                sixty_four_concurrent_holds_against_a_limit_of_ten_hold_exactly_ten,
                members_racing_on_one_pool_never_pass_it_or_their_caps,
            ],
        );
    };
}
