//! Reservations (SPEC §7.2): hold runs for work of unknown cost, then commit what it cost or
//! release it. A hold is decided like a consumption (the same loop and rules, counted against
//! `used + reserved`); settling happens once; holds past their expiry are given back lazily (at the
//! user's next decision or read) and by a periodic sweep.

use std::sync::Arc;

use time::Duration;
use tollgate_domain::RunCount;
use uuid::Uuid;

use crate::metering::{MeterError, Metered, MeteringService};
use crate::Failure;
use tollgate_ports::{
    Clock, IdGenerator, IdempotencyKey, Payer, Reservation, ReservationRepository, SettleOutcome, UsageReason,
};

/// How long a hold lives when the caller does not say.
pub const DEFAULT_TTL: Duration = Duration::seconds(900);
/// The longest hold.
pub const MAX_TTL: Duration = Duration::seconds(86_400);

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("no such reservation")]
    NotFound,
    #[error("the reservation was released")]
    Released(Reservation),
    #[error("the reservation expired")]
    Expired(Reservation),
    #[error("more runs than were held")]
    TooManyRuns(Reservation),
    #[error(transparent)]
    Failure(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no such reservation")]
    NotFound,
    #[error("the reservation was committed")]
    Committed(Reservation),
    #[error(transparent)]
    Failure(#[from] Failure),
}

pub struct ReservationService {
    metering: Arc<MeteringService>,
    reservations: Arc<dyn ReservationRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl ReservationService {
    pub fn new(
        metering: Arc<MeteringService>,
        reservations: Arc<dyn ReservationRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { metering, reservations, clock, ids }
    }

    /// Holds `runs` for `ttl` (1 s – 24 h); 402 like a consumption when the quota (used + held)
    /// does not allow them. A repeated idempotency key answers the first hold.
    pub async fn reserve(
        &self,
        payer: Payer,
        runs: RunCount,
        ttl: Duration,
        key: Option<IdempotencyKey>,
    ) -> Result<Metered<Reservation>, MeterError> {
        let expires_at = self.clock.now() + ttl.clamp(Duration::SECOND, MAX_TTL);
        let repo = Arc::clone(&self.reservations);
        let mut held = self
            .metering
            .meter(payer, runs, key, UsageReason::ReservationCommit, move |hold| {
                let repo = Arc::clone(&repo);
                async move { repo.hold(&hold, expires_at).await }
            })
            .await?;
        if !held.replayed {
            // The snapshot was taken before this hold.
            held.quota.runs_reserved =
                RunCount::new(held.quota.runs_reserved.get().saturating_add(runs.get()));
        }
        Ok(held)
    }

    /// Charges `runs` (default: all held; never refused for quota) and gives the rest back. A
    /// repeated commit answers the same.
    pub async fn commit(&self, id: Uuid, runs: Option<RunCount>) -> Result<Reservation, CommitError> {
        let outcome = self
            .reservations
            .commit(id, runs, self.ids.new_id(), self.clock.now())
            .await
            .map_err(Failure::from)?;
        match outcome {
            SettleOutcome::Done(r) => {
                self.metering.telemetry().runs_consumed(r.committed_runs.map_or(0, |n| n.get()));
                Ok(r)
            }
            SettleOutcome::Already(r) => Ok(r),
            SettleOutcome::Conflict(r) if r.status == tollgate_ports::ReservationStatus::Released => {
                Err(CommitError::Released(r))
            }
            SettleOutcome::Conflict(r) => Err(CommitError::Expired(r)),
            SettleOutcome::TooManyRuns(r) => Err(CommitError::TooManyRuns(r)),
            SettleOutcome::NotFound => Err(CommitError::NotFound),
        }
    }

    /// Gives every held run back. Releasing a released or expired reservation answers it as it is.
    pub async fn release(&self, id: Uuid) -> Result<Reservation, ReleaseError> {
        match self.reservations.release(id, self.clock.now()).await.map_err(Failure::from)? {
            SettleOutcome::Done(r) | SettleOutcome::Already(r) => Ok(r),
            SettleOutcome::Conflict(r) | SettleOutcome::TooManyRuns(r) => Err(ReleaseError::Committed(r)),
            SettleOutcome::NotFound => Err(ReleaseError::NotFound),
        }
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<Reservation>, Failure> {
        Ok(self.reservations.get(id).await?)
    }

    /// Expires every hold past its expiry; safe to run on every replica at once.
    pub async fn sweep(&self) -> Result<u64, Failure> {
        Ok(self.reservations.expire_due(self.clock.now()).await?)
    }

    /// How many reservations hold runs now (the `tollgate_reservations_held` gauge).
    pub async fn count_held(&self) -> Result<u64, Failure> {
        Ok(self.reservations.count_held(self.clock.now()).await?)
    }

    pub fn now(&self) -> tollgate_domain::Timestamp {
        self.clock.now()
    }
}
