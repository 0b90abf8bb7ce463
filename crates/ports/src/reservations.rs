//! `ReservationRepository`: runs held for work of unknown cost (SPEC §7.2). A hold counts against
//! the quota in the same atomic decision as a consumption (`subscriptions.runs_reserved`); a commit
//! charges the actual runs and gives the rest back; a release or an expiry gives everything back.

use async_trait::async_trait;
use tollgate_domain::{AccountId, RunCount, Timestamp, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::usage::{ConsumeOutcome, Consumption};

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Held,
    Committed,
    Released,
    Expired,
}

impl ReservationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// From its stored form.
    pub fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "held" => Self::Held,
            "committed" => Self::Committed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

/// A reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: Uuid,
    /// The account whose pool holds the runs.
    pub account_id: AccountId,
    /// The member it holds for (whose cap it counts against); `None` for the account's own use.
    pub user_id: Option<UserId>,
    /// Runs held.
    pub runs: RunCount,
    /// Runs charged by the commit.
    pub committed_runs: Option<RunCount>,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Reservation {
    /// The status as of `now`: a hold past its expiry is expired even before the sweep writes it.
    pub fn status_at(&self, now: Timestamp) -> ReservationStatus {
        match self.status {
            ReservationStatus::Held if now >= self.expires_at => ReservationStatus::Expired,
            status => status,
        }
    }
}

/// What settling (committing or releasing) a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Settled now.
    Done(Reservation),
    /// It was already settled this way (a repeat): nothing changed.
    Already(Reservation),
    /// It was settled another way first (committed, released or expired): nothing changed.
    Conflict(Reservation),
    /// A commit of more runs than were held: nothing changed.
    TooManyRuns(Reservation),
    NotFound,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReservationRepository: Send + Sync {
    /// Holds `c.units` runs for `c.user_id` until `expires_at`, atomically against the limit
    /// (`used + reserved + units <= limit`, version guarded), as reservation `c.record_id`. A
    /// repeated idempotency key answers the first reservation (`Replayed`).
    ///
    /// # Errors
    /// [`StoreError::Overloaded`] when the write queue is full (nothing is written), else `Unavailable`
    /// or `Failed`. A refusal (the limit, a stale version, a key seen with another request) is an
    /// outcome, never an error.
    async fn hold(
        &self,
        c: &Consumption,
        expires_at: Timestamp,
    ) -> Result<ConsumeOutcome<Reservation>, StoreError>;

    /// Commits a held reservation that has not expired: charges `runs` (all held runs when
    /// `None`; never refused for quota), gives the rest back, and writes usage record
    /// `record_id`. A reservation found held past its expiry is expired then (`Conflict`).
    ///
    /// # Errors
    /// [`StoreError::Overloaded`] when the write queue is full (nothing is written), else
    /// `Unavailable` or `Failed`. An unknown, settled or expired reservation is an outcome.
    async fn commit(
        &self,
        id: Uuid,
        runs: Option<RunCount>,
        record_id: Uuid,
        at: Timestamp,
    ) -> Result<SettleOutcome, StoreError>;

    /// Releases a held reservation (all its runs back). Releasing a released or expired one is
    /// `Already`; a committed one is `Conflict`.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown reservation is `NotFound`, an outcome.
    async fn release(&self, id: Uuid, at: Timestamp) -> Result<SettleOutcome, StoreError>;

    /// The reservation, whatever its state.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown id is `Ok(None)`, never an error.
    async fn get(&self, id: Uuid) -> Result<Option<Reservation>, StoreError>;

    /// Expires every hold past its expiry (any user) and gives its runs back; each hold expires
    /// once however many replicas sweep at the same time. Returns how many expired.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn expire_due(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// How many reservations hold runs at `now` (held and not past their expiry), on every replica.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn count_held(&self, now: Timestamp) -> Result<u64, StoreError>;
}
