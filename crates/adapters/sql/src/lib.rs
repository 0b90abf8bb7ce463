//! What Tollgate's two SQL stores share: plain records mirroring the tables, their conversion to
//! and from domain types, and the translation of driver errors into the ports' errors. The SQL
//! itself stays in each store crate (dialects differ).

mod records;

pub use records::*;

use std::time::Duration;

use tollgate_ports::outbound::StoreError;

/// Connection-pool settings, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5) }
    }
}

/// Translates a driver error into the port's error: connection-level failures are
/// `Unavailable` (transient), everything else `Failed`. A protocol error means the conversation
/// with the server broke down (a connection closed mid-handshake by a proxy or a restarting
/// server), so it counts as transient too.
pub fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        sqlx::Error::Database(ref db) if is_transient_code(db.code().as_deref()) => {
            StoreError::unavailable(e)
        }
        other => StoreError::failed(other),
    }
}

/// Postgres: connection exceptions (08xxx), too many connections (53300), admin shutdown (57P01),
/// cannot connect now (57P03), serialization/deadlock (40001/40P01). SQLite: BUSY (5), LOCKED (6).
fn is_transient_code(code: Option<&str>) -> bool {
    match code {
        Some(c) => {
            c.starts_with("08") || matches!(c, "53300" | "57P01" | "57P03" | "40001" | "40P01" | "5" | "6")
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
