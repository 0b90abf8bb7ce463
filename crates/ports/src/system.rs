//! Time and identifiers.

use uuid::Uuid;

pub use tollgate_domain::clock::{Clock, FixedClock};
use tollgate_domain::Timestamp;

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // Stored timestamps have microsecond precision (both stores); truncate so a value read
        // back equals the value written.
        #[allow(clippy::disallowed_methods, reason = "the clock seam itself")]
        let now = Timestamp::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
    }
}

/// Source of new identifiers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    fn new_id(&self) -> Uuid;
}

/// Time-ordered random UUIDs (v7: a millisecond timestamp, then 74 random bits). Ids made one
/// after another sort together, so the stores' primary-key indexes grow at their end instead of
/// touching a random page per insert (see docs/benchmarks.md, group commit). Ids are never secrets
/// here (tokens and keys have their own random bytes); they reveal their creation time, which
/// every resource also shows as `created_at`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    #[allow(clippy::disallowed_methods, reason = "the id seam itself")]
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
