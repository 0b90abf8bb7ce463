//! Metered consumption: decide in the domain, enforce atomically in the store.

use std::future::Future;
use std::sync::Arc;

use time::Duration;
use tollgate_domain::plan::{RunCount, RunLimit};
use tollgate_domain::quota::{QuotaSnapshot, Refusal};
use tollgate_domain::{ConsumeDecision, PlanCatalog};
use uuid::Uuid;

use crate::current::{load_current, CurrentError};
use crate::snapshots::Snapshots;
use crate::{Failure, MAX_ATTEMPTS};
use tollgate_ports::{
    Clock, ConsumeOutcome, Consumption, DecisionOutcome, IdGenerator, IdempotencyKey, NoTelemetry, Payer,
    RefundOutcome, StoreError, SubscriptionRepository, Telemetry, UsageReason, UsageRepository,
};

/// Quota rules that come from configuration.
#[derive(Debug, Clone)]
pub struct QuotaPolicy {
    pub catalog: Arc<PlanCatalog>,
    /// Metered use stays allowed this long after the first failed payment.
    pub past_due_grace: Duration,
}

/// A successful metered operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metered<T> {
    /// What the operation produced; `None` only for a replay whose original result is gone.
    pub value: Option<T>,
    /// The quota after this operation.
    pub quota: QuotaSnapshot,
    /// `true` when an earlier request with the same idempotency key answered; nothing was consumed.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    /// Refused before any work: `LimitReached` or `Inactive`, with the quota to show.
    #[error("metered use refused")]
    Refused { reason: Refusal, quota: QuotaSnapshot },
    #[error("units must be at least 1")]
    NoUnits,
    /// No such account (the service API names accounts and users by id).
    #[error("no such account")]
    UnknownUser,
    /// The user named is not a member of the account (or was removed while the request ran).
    #[error("not a member of the account")]
    NotAMember,
    /// The idempotency key was used before with a different request.
    #[error("the idempotency key belongs to another request")]
    KeyMismatch,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CurrentError> for MeterError {
    fn from(e: CurrentError) -> Self {
        match e {
            CurrentError::NotFound => Self::UnknownUser,
            other => other.into_failure().map_or(Self::UnknownUser, Self::Failure),
        }
    }
}

/// Runs metered operations against the quota.
pub struct MeteringService {
    subs: Arc<dyn SubscriptionRepository>,
    usage: Arc<dyn UsageRepository>,
    policy: QuotaPolicy,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    telemetry: Arc<dyn Telemetry>,
    /// What each user's last decision started from (see [`Snapshots`]).
    snapshots: Snapshots,
}

impl MeteringService {
    pub fn new(
        subs: Arc<dyn SubscriptionRepository>,
        usage: Arc<dyn UsageRepository>,
        policy: QuotaPolicy,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            subs,
            usage,
            policy,
            clock,
            ids,
            telemetry: Arc::new(NoTelemetry),
            snapshots: Snapshots::default(),
        }
    }

    /// Reports decisions, consumptions and refunds to `telemetry` (metrics).
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    pub fn telemetry(&self) -> &dyn Telemetry {
        self.telemetry.as_ref()
    }

    pub fn policy(&self) -> &QuotaPolicy {
        &self.policy
    }

    /// Spends `units` runs for `reason` (counter and usage record, one transaction). The record
    /// id is the value, for [`Self::refund`].
    pub async fn consume(
        &self,
        payer: Payer,
        units: RunCount,
        key: Option<IdempotencyKey>,
        reason: UsageReason,
    ) -> Result<Metered<Uuid>, MeterError> {
        let usage = Arc::clone(&self.usage);
        self.meter(payer, units, key, reason, move |c| {
            let usage = Arc::clone(&usage);
            async move { usage.consume(&c).await }
        })
        .await
    }

    /// The quota as of now, refusing as `decide` would for `units` — without writing anything
    /// but a due period rollover. Lets a caller answer 402 before doing any work; the store
    /// still enforces the limit when the work consumes.
    /// The member's cap is the store's to apply (it reads it under the same lock as the pool).
    pub async fn check(&self, payer: Payer, units: RunCount) -> Result<QuotaSnapshot, MeterError> {
        let now = self.clock.now();
        let sub = load_current(self.subs.as_ref(), payer.account, now).await?;
        match sub.decide(units, now, &self.policy.catalog, self.policy.past_due_grace) {
            ConsumeDecision::Allowed { snapshot, .. } => Ok(snapshot),
            ConsumeDecision::Refused { reason, snapshot } => {
                Err(MeterError::Refused { reason, quota: snapshot })
            }
        }
    }

    /// Gives back a consumption whose work failed, once.
    pub async fn refund(&self, record_id: Uuid) -> Result<RefundOutcome, Failure> {
        let outcome = self.usage.refund(record_id).await?;
        if let RefundOutcome::Refunded { runs } = outcome {
            self.telemetry.runs_refunded(runs);
        }
        Ok(outcome)
    }

    /// The decision loop shared by every metered operation: refresh the subscription, decide,
    /// then let `store` enforce the decision atomically (retrying when the subscription changed
    /// in between). A refused decision with an idempotency key still asks the store, with a zero
    /// limit, so a retry of a request that succeeded earlier gets its original result.
    pub async fn meter<T, F, Fut>(
        &self,
        payer: Payer,
        units: RunCount,
        key: Option<IdempotencyKey>,
        reason: UsageReason,
        store: F,
    ) -> Result<Metered<T>, MeterError>
    where
        F: Fn(Consumption) -> Fut,
        Fut: Future<Output = Result<ConsumeOutcome<T>, StoreError>>,
    {
        // A hold is not a consumption: its commit reports the runs it charges.
        let consumes = reason != UsageReason::ReservationCommit;
        let result = self.decide_and_store(payer, units, key, reason, store).await;
        let outcome = match &result {
            Ok(Metered { replayed: true, .. }) => Some(DecisionOutcome::Replayed),
            Ok(_) => {
                if consumes {
                    self.telemetry.runs_consumed(units.get());
                }
                Some(DecisionOutcome::Allowed)
            }
            Err(MeterError::Refused { reason: Refusal::LimitReached | Refusal::MemberCap, .. }) => {
                Some(DecisionOutcome::LimitReached)
            }
            Err(MeterError::Refused { reason: Refusal::Inactive, .. }) => Some(DecisionOutcome::Inactive),
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            self.telemetry.quota_decision(outcome);
        }
        result
    }

    async fn decide_and_store<T, F, Fut>(
        &self,
        payer: Payer,
        units: RunCount,
        key: Option<IdempotencyKey>,
        reason: UsageReason,
        store: F,
    ) -> Result<Metered<T>, MeterError>
    where
        F: Fn(Consumption) -> Fut,
        Fut: Future<Output = Result<ConsumeOutcome<T>, StoreError>>,
    {
        if units == RunCount::ZERO {
            return Err(MeterError::NoUnits);
        }
        // A hold starts from a fresh read (expired holds are given back first) and is forgotten
        // after, so the next decision sees the runs it holds.
        let hold = reason == UsageReason::ReservationCommit;
        let mut remembered = !hold;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let (sub, fresh) = match remembered.then(|| self.snapshots.get(payer.account, now)).flatten() {
                Some(sub) => (sub, false),
                None => {
                    let sub = load_current(self.subs.as_ref(), payer.account, now).await?;
                    self.snapshots.remember(&sub, now);
                    (sub, true)
                }
            };
            let decision = sub.decide(units, now, &self.policy.catalog, self.policy.past_due_grace);
            let (limit, refusal, quota) = match decision {
                ConsumeDecision::Allowed { limit, snapshot } => (limit, None, snapshot),
                // Only a fresh read refuses.
                ConsumeDecision::Refused { .. } if !fresh => {
                    remembered = false;
                    continue;
                }
                ConsumeDecision::Refused { reason, snapshot } => {
                    if key.is_none() {
                        return Err(MeterError::Refused { reason, quota: snapshot });
                    }
                    (RunLimit::limited(0), Some(reason), snapshot)
                }
            };
            let consumption = Consumption {
                record_id: self.ids.new_id(),
                account_id: payer.account,
                user_id: payer.member,
                units,
                limit,
                expected_version: sub.version(),
                idempotency_key: key.clone(),
                reason: reason.clone(),
                at: now,
            };
            let outcome = store(consumption).await;
            if hold {
                self.snapshots.forget(payer.account);
            }
            match outcome.map_err(Failure::from)? {
                ConsumeOutcome::Consumed { value, runs_used } => {
                    let quota = QuotaSnapshot { runs_used, ..quota };
                    return Ok(Metered { value: Some(value), quota, replayed: false });
                }
                // A remembered subscription may predate the original request: the quota shown with
                // the replay is read afresh (the store replays again, nothing counted).
                ConsumeOutcome::Replayed { .. } if !fresh => remembered = false,
                ConsumeOutcome::Replayed { value } => return Ok(Metered { value, quota, replayed: true }),
                // The counters moved since the remembered read (runs spent or held since): the
                // refusal is decided on a fresh read.
                ConsumeOutcome::LimitReached { .. } if !fresh => remembered = false,
                ConsumeOutcome::LimitReached { runs_used } => {
                    let quota = QuotaSnapshot { runs_used, ..quota };
                    return Err(MeterError::Refused {
                        reason: refusal.unwrap_or(Refusal::LimitReached),
                        quota,
                    });
                }
                ConsumeOutcome::KeyMismatch => return Err(MeterError::KeyMismatch),
                ConsumeOutcome::NotAMember => return Err(MeterError::NotAMember),
                // The member's cap is read under the store's lock, so the refusal stands; the pool
                // it shows is read afresh, as for the limit.
                ConsumeOutcome::MemberCapReached { .. } if !fresh => remembered = false,
                ConsumeOutcome::MemberCapReached { .. } => {
                    return Err(MeterError::Refused { reason: Refusal::MemberCap, quota });
                }
                // The next attempt reads afresh (and remembers what it reads).
                ConsumeOutcome::StaleState => remembered = false,
            }
        }
        Err(Failure::internal("subscription kept changing during consumption").into())
    }
}

#[cfg(test)]
#[path = "metering_tests.rs"]
mod tests;
