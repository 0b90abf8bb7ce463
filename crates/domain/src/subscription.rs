//! The subscription aggregate: one per user, its plan, status, usage period and counter.
//!
//! State changes return a [`UsageEffect`] that tells the store whether the period's counter is
//! kept or reset; the counter itself is only ever changed in the store (atomic increments), never
//! written back from a snapshot, so a state change cannot erase concurrent consumption.

use time::Duration;

use crate::period::Period;
use crate::plan::{PlanCatalog, PlanId, RunCount, RunLimit, TrialTerms};
use crate::quota::{ConsumeDecision, QuotaSnapshot, Refusal};
use crate::status::SubscriptionStatus;
use crate::{AccountId, SubscriptionId, Timestamp};
use crate::{CustomerId, ProviderSubscriptionId};

/// What a state change does to the period's usage counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum UsageEffect {
    /// Nothing changed; nothing to save.
    Unchanged,
    /// State changed; the counter keeps its value.
    Keep,
    /// A new period opened; the counter restarts at 0.
    Reset,
}

impl UsageEffect {
    /// Combines two effects of successive changes.
    pub fn then(self, next: UsageEffect) -> UsageEffect {
        match (self, next) {
            (Self::Reset, _) | (_, Self::Reset) => Self::Reset,
            (Self::Keep, _) | (_, Self::Keep) => Self::Keep,
            _ => Self::Unchanged,
        }
    }

    pub fn changed(self) -> bool {
        self != Self::Unchanged
    }
}

/// The Tollgate trial on the free plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trial {
    pub started_at: Timestamp,
    pub ends_at: Timestamp,
}

/// The link to the payment provider's customer and subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingLink {
    pub customer_id: Option<CustomerId>,
    pub subscription_id: Option<ProviderSubscriptionId>,
    /// The current plan is granted by `subscription_id`.
    pub granted: bool,
    /// `created` of the last provider event that changed this subscription (ordering rule).
    pub last_event_at: Option<Timestamp>,
}

/// Why a trial cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrialError {
    #[error("the trial has already been used")]
    AlreadyUsed,
    #[error("a trial can only start from the free plan")]
    NotOnFreePlan,
    #[error("a trial is not available after a paid subscription")]
    AfterPaidSubscription,
}

/// Why an admin plan change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminPlanError {
    #[error("the free plan's limit comes from the catalog and must stay limited")]
    UnlimitedFree,
}

/// A user's subscription. Its fields change only through its own rules (the state machine in
/// this module and `provider_events`); stores restore a saved one with [`Subscription::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub(crate) id: SubscriptionId,
    pub(crate) account_id: AccountId,
    pub(crate) plan: PlanId,
    pub(crate) status: SubscriptionStatus,
    /// Runs used in `period`. Read-only outside the store; see the module docs.
    pub(crate) runs_used: RunCount,
    /// Runs held by live reservations (SPEC §7.2), counted against the limit. Kept by the store
    /// like `runs_used` (never written from a snapshot); a period rollover leaves it.
    pub(crate) runs_reserved: RunCount,
    pub(crate) period: Period,
    /// Anchor of the monthly sequence used when a period ends without a provider telling us the next one.
    pub(crate) period_anchor: Timestamp,
    /// An admin-set limit (enterprise contracts, comps); wins over the plan's.
    pub(crate) runs_limit_override: Option<RunLimit>,
    /// Extra runs an operator granted for the current period, on top of the limit; a new period
    /// (or trial) starts without them.
    pub(crate) runs_granted: RunCount,
    /// The account's members (its seats): kept by the store with the memberships, never written
    /// from a snapshot. A per-seat plan's pool is its runs × seats.
    pub(crate) seats: u32,
    pub(crate) cancel_at_period_end: bool,
    pub(crate) trial: Option<Trial>,
    pub(crate) trial_used: bool,
    /// The user has held a paid subscription at some point (no trial afterwards).
    pub(crate) has_paid: bool,
    /// When the first failed payment of the current delinquency happened.
    pub(crate) past_due_since: Option<Timestamp>,
    pub(crate) billing: BillingLink,
    /// Incremented on every state change; the store's compare-and-set token.
    pub(crate) version: i64,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
}

/// Every field of a [`Subscription`], for stores restoring a saved one (and for building test
/// fixtures). Nothing checks the parts: they must come from a subscription that was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionParts {
    pub id: SubscriptionId,
    pub account_id: AccountId,
    pub plan: PlanId,
    pub status: SubscriptionStatus,
    /// Runs used in `period`. Read-only outside the store; see the module docs.
    pub runs_used: RunCount,
    /// Runs held by live reservations (SPEC §7.2), counted against the limit. Kept by the store
    /// like `runs_used` (never written from a snapshot); a period rollover leaves it.
    pub runs_reserved: RunCount,
    pub period: Period,
    /// Anchor of the monthly sequence used when a period ends without a provider telling us the next one.
    pub period_anchor: Timestamp,
    /// An admin-set limit (enterprise contracts, comps); wins over the plan's.
    pub runs_limit_override: Option<RunLimit>,
    /// Extra runs an operator granted for the current period, on top of the limit; a new period
    /// (or trial) starts without them.
    pub runs_granted: RunCount,
    /// The account's members (its seats); kept by the store.
    pub seats: u32,
    pub cancel_at_period_end: bool,
    pub trial: Option<Trial>,
    pub trial_used: bool,
    /// The user has held a paid subscription at some point (no trial afterwards).
    pub has_paid: bool,
    /// When the first failed payment of the current delinquency happened.
    pub past_due_since: Option<Timestamp>,
    pub billing: BillingLink,
    /// Incremented on every state change; the store's compare-and-set token.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Subscription {
    /// Restores a saved subscription (stores only).
    pub fn from_parts(p: SubscriptionParts) -> Self {
        Self {
            id: p.id,
            account_id: p.account_id,
            plan: p.plan,
            status: p.status,
            runs_used: p.runs_used,
            runs_reserved: p.runs_reserved,
            period: p.period,
            period_anchor: p.period_anchor,
            runs_limit_override: p.runs_limit_override,
            runs_granted: p.runs_granted,
            seats: p.seats.max(1),
            cancel_at_period_end: p.cancel_at_period_end,
            trial: p.trial,
            trial_used: p.trial_used,
            has_paid: p.has_paid,
            past_due_since: p.past_due_since,
            billing: p.billing,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    /// A copy of every field (stores save these; tests adjust and restore them).
    pub fn parts(&self) -> SubscriptionParts {
        SubscriptionParts {
            id: self.id,
            account_id: self.account_id,
            plan: self.plan,
            status: self.status,
            runs_used: self.runs_used,
            runs_reserved: self.runs_reserved,
            period: self.period,
            period_anchor: self.period_anchor,
            runs_limit_override: self.runs_limit_override,
            runs_granted: self.runs_granted,
            seats: self.seats,
            cancel_at_period_end: self.cancel_at_period_end,
            trial: self.trial,
            trial_used: self.trial_used,
            has_paid: self.has_paid,
            past_due_since: self.past_due_since,
            billing: self.billing.clone(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    pub fn plan(&self) -> PlanId {
        self.plan
    }

    pub fn status(&self) -> SubscriptionStatus {
        self.status
    }

    /// Runs used in `period`. Read-only outside the store; see the module docs.
    pub fn runs_used(&self) -> RunCount {
        self.runs_used
    }

    /// Runs held by live reservations (SPEC §7.2), counted against the limit. Kept by the store
    /// like `runs_used` (never written from a snapshot); a period rollover leaves it.
    pub fn runs_reserved(&self) -> RunCount {
        self.runs_reserved
    }

    pub fn period(&self) -> Period {
        self.period
    }

    /// Anchor of the monthly sequence used when a period ends without a provider telling us the next one.
    pub fn period_anchor(&self) -> Timestamp {
        self.period_anchor
    }

    /// An admin-set limit (enterprise contracts, comps); wins over the plan's.
    pub fn runs_limit_override(&self) -> Option<RunLimit> {
        self.runs_limit_override
    }

    /// Extra runs granted by an operator for the current period.
    pub fn runs_granted(&self) -> RunCount {
        self.runs_granted
    }

    /// The account's members, as the store last counted them (at least 1).
    pub fn seats(&self) -> u32 {
        self.seats
    }

    pub fn cancel_at_period_end(&self) -> bool {
        self.cancel_at_period_end
    }

    pub fn trial(&self) -> Option<Trial> {
        self.trial
    }

    pub fn trial_used(&self) -> bool {
        self.trial_used
    }

    /// The user has held a paid subscription at some point (no trial afterwards).
    pub fn has_paid(&self) -> bool {
        self.has_paid
    }

    /// When the first failed payment of the current delinquency happened.
    pub fn past_due_since(&self) -> Option<Timestamp> {
        self.past_due_since
    }

    pub fn billing(&self) -> &BillingLink {
        &self.billing
    }

    /// Incremented on every state change; the store's compare-and-set token.
    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
}

impl Subscription {
    /// A new user's subscription: `free`/`active`, first calendar month anchored at sign-up.
    pub fn new_free(id: SubscriptionId, account_id: AccountId, now: Timestamp) -> Self {
        Self {
            id,
            account_id,
            plan: PlanId::Free,
            status: SubscriptionStatus::Active,
            runs_used: RunCount::ZERO,
            runs_reserved: RunCount::ZERO,
            period: Period::monthly(now, 0),
            period_anchor: now,
            runs_limit_override: None,
            runs_granted: RunCount::ZERO,
            seats: 1,
            cancel_at_period_end: false,
            trial: None,
            trial_used: false,
            has_paid: false,
            past_due_since: None,
            billing: BillingLink::default(),
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the user is on the Tollgate trial.
    pub fn is_trial(&self) -> bool {
        self.trial.is_some()
    }

    /// The limit in force for the current period: the trial's, the operator's or the plan's, plus
    /// the runs granted for this period.
    pub fn runs_limit(&self, catalog: &PlanCatalog) -> RunLimit {
        let base = match (self.trial, self.runs_limit_override) {
            (Some(_), _) => RunLimit::Limited(catalog.trial().runs),
            (None, Some(limit)) => limit,
            (None, None) => {
                let plan = catalog.get(self.plan);
                match plan.runs {
                    RunLimit::Limited(n) if plan.per_seat => {
                        RunLimit::limited(n.get().saturating_mul(self.seats.max(1)))
                    }
                    runs => runs,
                }
            }
        };
        match base {
            RunLimit::Limited(n) => RunLimit::limited(n.get().saturating_add(self.runs_granted.get())),
            RunLimit::Unlimited => RunLimit::Unlimited,
        }
    }

    /// A view of the quota at `now`, for responses and refusals.
    pub fn snapshot(&self, catalog: &PlanCatalog, now: Timestamp) -> QuotaSnapshot {
        QuotaSnapshot {
            account_id: self.account_id,
            as_of: now,
            plan: self.plan,
            status: self.status,
            runs_used: self.runs_used,
            runs_reserved: self.runs_reserved,
            runs_limit: self.runs_limit(catalog),
            resets_at: self.period.end(),
        }
    }

    /// Applies what time alone changes, lazily: an ended trial returns to the free plan, an
    /// ended period opens the next one (once), and a paid plan set to cancel at period end
    /// returns to free when that period is over.
    pub fn refresh(&mut self, now: Timestamp) -> UsageEffect {
        if let Some(trial) = self.trial {
            if now >= trial.ends_at {
                self.return_to_free(now);
                return self.touched(now, UsageEffect::Reset);
            }
            return UsageEffect::Unchanged;
        }
        if !self.period.has_ended(now) {
            return UsageEffect::Unchanged;
        }
        if self.cancel_at_period_end && self.billing.granted {
            self.return_to_free(now);
            self.billing.subscription_id = None;
        } else {
            self.period = Period::monthly_containing(self.period_anchor, now);
        }
        self.touched(now, UsageEffect::Reset)
    }

    /// Whether metered use is allowed by the status alone at `now`.
    pub fn status_allows_use(&self, now: Timestamp, past_due_grace: Duration) -> bool {
        match self.status {
            SubscriptionStatus::Active | SubscriptionStatus::Trialing => true,
            SubscriptionStatus::PastDue => match self.past_due_since {
                Some(since) => now < since + past_due_grace,
                // Past due without a recorded failure (reported by a snapshot): grace from now on is
                // unknowable, so the grace window is counted from the period start.
                None => now < self.period.start() + past_due_grace,
            },
            _ => false,
        }
    }

    /// Decides whether `units` runs may be spent now. Call [`Self::refresh`] first.
    pub fn decide(
        &self,
        units: RunCount,
        now: Timestamp,
        catalog: &PlanCatalog,
        past_due_grace: Duration,
    ) -> ConsumeDecision {
        let snapshot = self.snapshot(catalog, now);
        if !self.status_allows_use(now, past_due_grace) {
            return ConsumeDecision::Refused { reason: Refusal::Inactive, snapshot };
        }
        let committed = RunCount::new(self.runs_used.get().saturating_add(self.runs_reserved.get()));
        if !snapshot.runs_limit.allows(committed, units) {
            return ConsumeDecision::Refused { reason: Refusal::LimitReached, snapshot };
        }
        ConsumeDecision::Allowed { limit: snapshot.runs_limit, snapshot }
    }

    /// Starts the trial: once per user, only from the free plan, never after a paid subscription.
    /// The trial is its own period (start → end) with a fresh counter.
    pub fn start_trial(&mut self, now: Timestamp, terms: TrialTerms) -> Result<UsageEffect, TrialError> {
        if self.trial_used {
            return Err(TrialError::AlreadyUsed);
        }
        if self.has_paid {
            return Err(TrialError::AfterPaidSubscription);
        }
        if self.plan != PlanId::Free || self.status != SubscriptionStatus::Active {
            return Err(TrialError::NotOnFreePlan);
        }
        let ends_at = now + terms.duration();
        self.trial = Some(Trial { started_at: now, ends_at });
        self.trial_used = true;
        self.status = SubscriptionStatus::Trialing;
        // `terms.duration()` is at least one day (catalog rule), so the period is never empty.
        self.period = Period::new(now, ends_at).unwrap_or_else(|_| Period::monthly(now, 0));
        Ok(self.touched(now, UsageEffect::Reset))
    }

    /// An operator sets the plan (enterprise limits, comps, support fixes). The new limit applies
    /// at once and usage already counted stays counted; a running trial ends and the free
    /// calendar period resumes with a fresh counter.
    pub fn set_plan_by_admin(
        &mut self,
        plan: PlanId,
        runs: Option<RunLimit>,
        now: Timestamp,
    ) -> Result<UsageEffect, AdminPlanError> {
        if plan == PlanId::Free && runs == Some(RunLimit::Unlimited) {
            return Err(AdminPlanError::UnlimitedFree);
        }
        let effect = if self.trial.take().is_some() {
            self.period_anchor = self.created_at;
            self.period = Period::monthly_containing(self.created_at, now);
            UsageEffect::Reset
        } else {
            UsageEffect::Keep
        };
        self.plan = plan;
        self.runs_limit_override = runs;
        self.status = SubscriptionStatus::Active;
        self.past_due_since = None;
        self.billing.granted = false;
        Ok(self.touched(now, effect))
    }

    /// An operator grants `runs` extra runs for the current period (support, goodwill): the limit
    /// grows by them until the period (or trial) ends. Unlimited subscriptions keep no grant.
    pub fn grant_runs(&mut self, runs: RunCount, now: Timestamp) -> UsageEffect {
        if runs == RunCount::ZERO {
            return UsageEffect::Unchanged;
        }
        self.runs_granted = RunCount::new(self.runs_granted.get().saturating_add(runs.get()));
        self.touched(now, UsageEffect::Keep)
    }

    /// Stores the payment provider's customer id, unless one is already linked.
    pub fn link_customer(&mut self, customer_id: &CustomerId, now: Timestamp) -> UsageEffect {
        if self.billing.customer_id.is_some() {
            return UsageEffect::Unchanged;
        }
        self.billing.customer_id = Some(customer_id.clone());
        self.touched(now, UsageEffect::Keep)
    }

    /// Back to `free`/`active` with a fresh free period (the calendar month of the sign-up
    /// sequence that contains `at`), forgetting any paid grant and trial.
    pub(crate) fn return_to_free(&mut self, at: Timestamp) {
        self.plan = PlanId::Free;
        self.status = SubscriptionStatus::Active;
        self.trial = None;
        self.runs_limit_override = None;
        self.cancel_at_period_end = false;
        self.past_due_since = None;
        self.billing.granted = false;
        self.period_anchor = self.created_at;
        self.period = Period::monthly_containing(self.created_at, at);
    }

    /// Records a change made at `now` and passes its effect through.
    pub(crate) fn touched(&mut self, now: Timestamp, effect: UsageEffect) -> UsageEffect {
        if effect.changed() {
            self.updated_at = self.updated_at.max(now);
            self.version += 1;
            if effect == UsageEffect::Reset {
                self.runs_used = RunCount::ZERO;
                self.runs_granted = RunCount::ZERO;
            }
        }
        effect
    }
}

#[cfg(test)]
#[path = "subscription_tests.rs"]
mod tests;
