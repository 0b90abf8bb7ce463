//! One contract for every store: the same tests, generic over the repository ports, run against
//! a real SQLite file and a real Postgres database (`tests/sqlite.rs`, `tests/postgres.rs`).
//!
//! Each test gets a fresh store: a new SQLite file in a temporary folder, or a new Postgres
//! database created for the test and dropped after it (also when it fails). Postgres is found at
//! `TOLLGATE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); when it
//! cannot be reached the Postgres tests say so and pass, except with `CI=true`, where they fail.

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
