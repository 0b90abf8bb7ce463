//! How payment-provider (Stripe) events change a subscription.
//!
//! Events arrive late, twice and out of order. Three rules make the outcome independent of that:
//! 1. **Newest wins.** An event changes state only if it is not older than the last event that
//!    changed this subscription (`created` has one-second resolution, so equal times apply). An
//!    older one is `Stale`; the ids it carries may still be linked.
//! 2. **Only relevant events move the clock.** An event that could set the state (about the
//!    subscription granting the plan, or one that grants it) advances `last_event_at`, even when
//!    the state already matched it. An event that cannot (a payment for a subscription not
//!    granted yet, an `incomplete` snapshot, an unknown price, another subscription) leaves it,
//!    so it cannot make a real, earlier state change look stale.
//! 3. **Usage follows the period.** A period already open changes nothing; a provider period
//!    that overlaps the current one adopts its bounds and keeps the counter; a later one resets
//!    it; a new paid subscription always starts a new period.

use crate::period::Period;
use crate::plan::{PlanCatalog, PlanId};
use crate::status::SubscriptionStatus;
use crate::subscription::{Subscription, UsageEffect};
use crate::{CustomerId, ProviderSubscriptionId, Timestamp};

/// The provider's view of one subscription, as carried by a subscription event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSubscription {
    pub subscription_id: ProviderSubscriptionId,
    pub customer_id: Option<CustomerId>,
    /// The provider price the subscription is on (mapped to a plan through the catalog).
    pub price_id: Option<String>,
    pub status: SubscriptionStatus,
    pub period: Option<Period>,
    pub cancel_at_period_end: bool,
}

/// A verified provider event, reduced to the fields Tollgate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingEvent {
    /// `checkout.session.completed`.
    CheckoutCompleted {
        customer_id: Option<CustomerId>,
        subscription_id: Option<ProviderSubscriptionId>,
        plan: Option<PlanId>,
        paid: bool,
    },
    /// `customer.subscription.created` / `customer.subscription.updated`.
    SubscriptionChanged(ProviderSubscription),
    /// `customer.subscription.deleted`.
    SubscriptionDeleted { subscription_id: ProviderSubscriptionId },
    /// `invoice.payment_succeeded` / `invoice.paid`.
    PaymentSucceeded {
        subscription_id: ProviderSubscriptionId,
        customer_id: Option<CustomerId>,
        period: Option<Period>,
    },
    /// `invoice.payment_failed`.
    PaymentFailed { subscription_id: ProviderSubscriptionId, customer_id: Option<CustomerId> },
}

impl BillingEvent {
    /// The provider subscription this event is about, if any.
    pub fn subscription_id(&self) -> Option<&ProviderSubscriptionId> {
        match self {
            Self::CheckoutCompleted { subscription_id, .. } => subscription_id.as_ref(),
            Self::SubscriptionChanged(s) => Some(&s.subscription_id),
            Self::SubscriptionDeleted { subscription_id }
            | Self::PaymentSucceeded { subscription_id, .. }
            | Self::PaymentFailed { subscription_id, .. } => Some(subscription_id),
        }
    }

    /// The provider customer this event names, if any.
    pub fn customer_id(&self) -> Option<&CustomerId> {
        match self {
            Self::CheckoutCompleted { customer_id, .. } => customer_id.as_ref(),
            Self::SubscriptionChanged(s) => s.customer_id.as_ref(),
            Self::PaymentSucceeded { customer_id, .. } | Self::PaymentFailed { customer_id, .. } => {
                customer_id.as_ref()
            }
            Self::SubscriptionDeleted { .. } => None,
        }
    }
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventVerdict {
    /// The event changed the subscription.
    Applied,
    /// Older than the last applied event; only ids were linked.
    Stale,
    /// Nothing to do (not about the linked subscription, a status that grants nothing, an
    /// unknown price…).
    Ignored,
    /// A payment, or a delinquent (`past_due`, `unpaid`, `paused`) snapshot, while no plan is
    /// granted, for the linked subscription or when none is linked yet: it arrived before the
    /// event that grants the plan (a subscription that was never `active` or `trialing` gets no
    /// paid limit in a grace window). It cannot apply yet, and must not
    /// be lost either. The caller records nothing and asks the provider to
    /// deliver it again later.
    NotYet,
}

impl Subscription {
    /// Applies a verified provider event created at `created`. Returns what happened and what it
    /// does to the usage counter (`Unchanged` means there is nothing to save).
    pub fn apply_billing_event(
        &mut self,
        event: &BillingEvent,
        created: Timestamp,
        catalog: &PlanCatalog,
    ) -> (EventVerdict, UsageEffect) {
        let linked = self.link_ids(event);
        if self.billing.last_event_at.is_some_and(|last| created < last) {
            return (EventVerdict::Stale, self.touched(created, linked));
        }
        let relevant = match event {
            BillingEvent::CheckoutCompleted { subscription_id, plan, paid, .. } => match (plan, paid) {
                (Some(plan), true) if *plan != PlanId::Free => {
                    let id = subscription_id.clone();
                    Some(self.grant(id, *plan, SubscriptionStatus::Active, None, false, created))
                }
                _ => None,
            },
            // A subscription that was never `active`/`trialing` grants nothing in a grace window:
            // its delinquent snapshot waits (like a payment) for the event that grants the plan.
            BillingEvent::SubscriptionChanged(s)
                if s.status.has_grace()
                    && !self.is_granted_by(&s.subscription_id)
                    && (self.billing.subscription_id.is_none() || self.is_linked(&s.subscription_id)) =>
            {
                return (EventVerdict::NotYet, UsageEffect::Unchanged);
            }
            BillingEvent::SubscriptionChanged(s) => self.apply_snapshot(s, created, catalog),
            BillingEvent::SubscriptionDeleted { subscription_id } => {
                self.is_linked(subscription_id).then(|| {
                    self.return_to_free(created);
                    self.billing.subscription_id = None;
                    UsageEffect::Reset
                })
            }
            BillingEvent::PaymentSucceeded { subscription_id, .. }
            | BillingEvent::PaymentFailed { subscription_id, .. }
                if !self.billing.granted
                    && (self.billing.subscription_id.is_none() || self.is_linked(subscription_id)) =>
            {
                return (EventVerdict::NotYet, UsageEffect::Unchanged);
            }
            BillingEvent::PaymentSucceeded { subscription_id, period, .. } => {
                self.is_granted_by(subscription_id).then(|| {
                    let effect = self.set_status(SubscriptionStatus::Active);
                    match period {
                        Some(period) => effect.then(self.follow_period(*period)),
                        None => effect,
                    }
                })
            }
            BillingEvent::PaymentFailed { subscription_id, .. } => {
                self.is_granted_by(subscription_id).then(|| {
                    let effect = self.set_status(SubscriptionStatus::PastDue);
                    effect.then(self.start_grace(created))
                })
            }
        };
        match relevant {
            Some(effect) => {
                // A relevant event moves the ordering clock even when the state already matched
                // it: it still says "this was the state at `created`".
                let clock = if self.billing.last_event_at.is_some_and(|last| last >= created) {
                    UsageEffect::Unchanged
                } else {
                    self.billing.last_event_at = Some(created);
                    UsageEffect::Keep
                };
                (EventVerdict::Applied, self.touched(created, linked.then(effect).then(clock)))
            }
            None => (EventVerdict::Ignored, self.touched(created, linked)),
        }
    }

    /// `None` when the snapshot cannot set this subscription's state.
    fn apply_snapshot(
        &mut self,
        s: &ProviderSubscription,
        created: Timestamp,
        catalog: &PlanCatalog,
    ) -> Option<UsageEffect> {
        let linked_elsewhere =
            self.billing.subscription_id.as_ref().is_some_and(|id| *id != s.subscription_id);
        match s.status {
            SubscriptionStatus::Canceled => (self.is_granted_by(&s.subscription_id)).then(|| {
                self.return_to_free(created);
                self.billing.subscription_id = None;
                UsageEffect::Reset
            }),
            // Never paid: the previous entitlement stays.
            SubscriptionStatus::Incomplete | SubscriptionStatus::IncompleteExpired => None,
            status => {
                let plan = s.price_id.as_deref().and_then(|p| catalog.plan_for_stripe_price(p))?;
                // Only a subscription that grants the plan may replace another linked one.
                if linked_elsewhere && !status.grants_plan() {
                    return None;
                }
                let id = Some(s.subscription_id.clone());
                let effect = self.grant(id, plan, status, s.period, s.cancel_at_period_end, created);
                Some(if status == SubscriptionStatus::PastDue {
                    effect.then(self.start_grace(created))
                } else {
                    effect
                })
            }
        }
    }

    /// Grants `plan` from provider subscription `id`. A grant from a subscription that was not
    /// granting yet is a new paid subscription: it ends a trial and starts a new period.
    fn grant(
        &mut self,
        id: Option<ProviderSubscriptionId>,
        plan: PlanId,
        status: SubscriptionStatus,
        period: Option<Period>,
        cancel_at_period_end: bool,
        at: Timestamp,
    ) -> UsageEffect {
        let continuing = self.billing.granted && (id.is_none() || id == self.billing.subscription_id);
        if id.is_some() {
            self.billing.subscription_id = id;
        }
        if !continuing {
            self.billing.granted = true;
            self.has_paid = true;
            self.plan = plan;
            self.status = status;
            self.trial = None;
            self.runs_limit_override = None;
            self.cancel_at_period_end = cancel_at_period_end;
            self.past_due_since = None;
            let period = period.unwrap_or_else(|| Period::monthly(at, 0));
            self.period = period;
            self.period_anchor = period.start();
            return UsageEffect::Reset;
        }
        let mut effect = UsageEffect::Unchanged;
        if self.plan != plan {
            self.plan = plan;
            effect = UsageEffect::Keep;
        }
        if self.cancel_at_period_end != cancel_at_period_end {
            self.cancel_at_period_end = cancel_at_period_end;
            effect = effect.then(UsageEffect::Keep);
        }
        effect = effect.then(self.set_status(status));
        if let Some(period) = period {
            effect = effect.then(self.follow_period(period));
        }
        effect
    }

    /// Records the first failed payment of a delinquency; later ones keep the first time.
    fn start_grace(&mut self, at: Timestamp) -> UsageEffect {
        if self.past_due_since.is_none() {
            self.past_due_since = Some(at);
            UsageEffect::Keep
        } else {
            UsageEffect::Unchanged
        }
    }

    fn set_status(&mut self, status: SubscriptionStatus) -> UsageEffect {
        if status != SubscriptionStatus::PastDue {
            self.past_due_since = None;
        }
        if self.status == status {
            UsageEffect::Unchanged
        } else {
            self.status = status;
            UsageEffect::Keep
        }
    }

    /// Moves to the provider's period for the subscription already granting the plan.
    fn follow_period(&mut self, incoming: Period) -> UsageEffect {
        let current = self.period;
        if incoming == current {
            return UsageEffect::Unchanged;
        }
        if incoming.end() <= current.start() {
            // An older period than the one already open: nothing to do.
            return UsageEffect::Unchanged;
        }
        let overlaps = incoming.start() < current.end();
        self.period = incoming;
        self.period_anchor = incoming.start();
        if overlaps {
            UsageEffect::Keep
        } else {
            UsageEffect::Reset
        }
    }

    /// Links the customer (when unset) and the subscription (when none is linked) an event
    /// names, whatever else the event does.
    fn link_ids(&mut self, event: &BillingEvent) -> UsageEffect {
        let mut effect = UsageEffect::Unchanged;
        if let (None, Some(customer)) = (&self.billing.customer_id, event.customer_id()) {
            self.billing.customer_id = Some(customer.clone());
            effect = UsageEffect::Keep;
        }
        // Checkout and live subscription snapshots link a subscription; payments and deletions
        // (which carry no plan) do not.
        let links_subscription = match event {
            BillingEvent::CheckoutCompleted { .. } => true,
            BillingEvent::SubscriptionChanged(s) => s.status != SubscriptionStatus::Canceled,
            _ => false,
        };
        if let (None, Some(sub), true) =
            (&self.billing.subscription_id, event.subscription_id(), links_subscription)
        {
            self.billing.subscription_id = Some(sub.clone());
            effect = UsageEffect::Keep;
        }
        effect
    }

    fn is_linked(&self, subscription_id: &str) -> bool {
        self.billing.subscription_id.as_deref() == Some(subscription_id)
    }

    fn is_granted_by(&self, subscription_id: &str) -> bool {
        self.billing.granted && self.is_linked(subscription_id)
    }
}

#[cfg(test)]
#[path = "provider_events_tests.rs"]
mod tests;
