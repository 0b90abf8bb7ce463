//! Tollgate's SQL, written once for both stores: the rows mirroring the tables and their
//! conversion to domain types, the [`Ts`] timestamp column, the translation of driver errors into
//! the ports' errors, and every repository (`repositories!`, expanded in each store crate).
//! Only pools, migrations and the write-transaction entry differ per database.

pub mod batch;
pub mod decide;
mod records;
mod repositories;
mod ts;

pub use records::*;
pub use ts::Ts;

use std::time::Duration;

use tollgate_domain::RunCount;
use tollgate_ports::{ConsumeOutcome, StoreError, UpdateSubscriptionError};
use uuid::Uuid;

/// Lets whatever waits for the writer (metered batches) go before the next chunk of a long job.
pub async fn yield_to_writers() {
    tokio::task::yield_now().await;
}

/// Connection-pool settings, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing as unavailable.
    pub acquire_timeout: Duration,
    /// How many metered writes may wait for group commit (per queue); past it a write is
    /// refused as `Overloaded` (`TOLLGATE_WRITE_QUEUE_LIMIT`).
    pub write_queue_limit: usize,
}

impl PoolOptions {
    /// The default write queue: 4,096 waiting writes (64 full batches).
    pub const WRITE_QUEUE_LIMIT: usize = 4_096;
}

/// Translates a driver error into the port's error: connection-level failures are
/// `Unavailable` (transient), everything else `Failed`. A protocol error means the conversation
/// with the server broke down (a connection closed mid-handshake by a proxy or a restarting
/// server), so it counts as transient too.
pub fn store_error(e: sqlx::Error) -> StoreError {
    match store_error_ref(&e) {
        ErrorKind::Unavailable => StoreError::unavailable(e),
        ErrorKind::Failed => StoreError::failed(e),
    }
}

/// What kind of failure a driver error is, without consuming it (see [`store_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unavailable,
    Failed,
}

/// [`store_error`]'s classification of `e`.
pub fn store_error_ref(e: &sqlx::Error) -> ErrorKind {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
        sqlx::Error::Database(db) if is_transient_code(db.code().as_deref()) => ErrorKind::Unavailable,
        _ => ErrorKind::Failed,
    }
}

/// Whether `e` is a conflict between transactions (Postgres: serialization failure, deadlock):
/// transient, and worth retrying at once.
pub fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// Postgres: connection exceptions (08xxx), too many connections (53300), admin shutdown (57P01),
/// cannot connect now (57P03), serialization/deadlock (40001/40P01), a lock waited on longer than
/// `lock_timeout` (55P03). SQLite: BUSY (5), LOCKED (6).
fn is_transient_code(code: Option<&str>) -> bool {
    match code {
        Some(c) => {
            c.starts_with("08")
                || matches!(c, "53300" | "57P01" | "57P03" | "40001" | "40P01" | "55P03" | "5" | "6")
        }
        None => false,
    }
}

/// Whether `e` is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `a` as microseconds since the Unix epoch (how SQLite stores timestamps).
pub fn to_micros(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| StoreError::failed(format!("timestamp out of range: {e}")))
}

/// A subscription update failed in the store. A duplicate provider id (customer or subscription
/// linked to two users) is a broken invariant, reported as a failure rather than a conflict to retry.
pub fn update_error(e: sqlx::Error) -> UpdateSubscriptionError {
    UpdateSubscriptionError::Store(store_error(e))
}

/// A stored counter as a run count.
pub fn run_count(n: i64) -> Result<RunCount, sqlx::Error> {
    u32::try_from(n).map(RunCount::new).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// What one metered write's transaction found (decided by `decide::decide_writes` in a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Consumed(RunCount),
    /// The key's earlier consumption: its resource id, else its own id.
    Replayed(Uuid),
    /// The key's earlier consumption was for another request.
    Mismatch,
    LimitReached(RunCount),
    /// The user named is not a member of the account.
    NotAMember,
    /// The member's cap refuses (the pool had room): their use this period.
    MemberCapReached(RunCount),
    Stale,
}

impl WriteOutcome {
    /// What the write came to for the caller: `value` is what a consumption produced.
    pub fn with_value<T>(self, value: T) -> Written<T> {
        match self {
            Self::Consumed(runs_used) => Written::Consumed { value, runs_used },
            Self::Replayed(original) => Written::Replayed(original),
            Self::Mismatch => Written::Mismatch,
            Self::LimitReached(runs_used) => Written::LimitReached(runs_used),
            Self::NotAMember => Written::NotAMember,
            Self::MemberCapReached(runs_used) => Written::MemberCapReached(runs_used),
            Self::Stale => Written::Stale,
        }
    }
}

/// A [`WriteOutcome`] with the value the write produced, before the caller maps a replay to its
/// own value ([`Written::into_outcome`], the port's `ConsumeOutcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Consumed { value: T, runs_used: RunCount },
    Replayed(Uuid),
    Mismatch,
    LimitReached(RunCount),
    NotAMember,
    MemberCapReached(RunCount),
    Stale,
}

impl<T> Written<T> {
    /// The port's answer; `replay` finds what a replayed consumption produced.
    pub fn into_outcome(self, replay: impl FnOnce(Uuid) -> Option<T>) -> ConsumeOutcome<T> {
        match self {
            Self::Consumed { value, runs_used } => ConsumeOutcome::Consumed { value, runs_used },
            Self::Replayed(original) => ConsumeOutcome::Replayed { value: replay(original) },
            Self::Mismatch => ConsumeOutcome::KeyMismatch,
            Self::LimitReached(runs_used) => ConsumeOutcome::LimitReached { runs_used },
            Self::NotAMember => ConsumeOutcome::NotAMember,
            Self::MemberCapReached(runs_used) => ConsumeOutcome::MemberCapReached { runs_used },
            Self::Stale => ConsumeOutcome::StaleState,
        }
    }
}
