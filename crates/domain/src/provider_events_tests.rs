use proptest::prelude::*;
use time::macros::datetime;
use time::Duration;
use uuid::Uuid;

use super::*;
use crate::plan::{RunCount, RunLimit};
use crate::SubscriptionId;

const SIGNUP: Timestamp = datetime!(2026-01-10 09:00 UTC);
const T0: Timestamp = datetime!(2026-01-20 12:00 UTC);

fn catalog() -> PlanCatalog {
    PlanCatalog::with_defaults(Some("price_basic".into()), Some("price_pro".into()))
}

fn fresh() -> Subscription {
    let mut sub = Subscription::new_free(
        SubscriptionId::from_uuid(Uuid::from_u128(1)),
        crate::AccountId::from_uuid(Uuid::from_u128(2)),
        SIGNUP,
    );
    sub.billing.customer_id = Some("cus_1".into());
    sub
}

fn period(start: Timestamp) -> Period {
    Period::monthly(start, 0)
}

fn snapshot(status: SubscriptionStatus, price: &str, start: Timestamp) -> BillingEvent {
    BillingEvent::SubscriptionChanged(ProviderSubscription {
        subscription_id: "sub_1".into(),
        customer_id: Some("cus_1".into()),
        price_id: Some(price.into()),
        status,
        period: Some(period(start)),
        cancel_at_period_end: false,
    })
}

fn active(price: &str) -> BillingEvent {
    snapshot(SubscriptionStatus::Active, price, T0)
}

fn paid(start: Timestamp) -> BillingEvent {
    BillingEvent::PaymentSucceeded {
        subscription_id: "sub_1".into(),
        customer_id: None,
        period: Some(period(start)),
    }
}

fn apply(sub: &mut Subscription, event: &BillingEvent, at: Timestamp) -> (EventVerdict, UsageEffect) {
    sub.apply_billing_event(event, at, &catalog())
}

/// A subscription on `basic` through `sub_1` with 7 runs used.
fn on_basic() -> Subscription {
    let mut sub = fresh();
    let _ = apply(&mut sub, &active("price_basic"), T0);
    sub.runs_used = RunCount::new(7);
    sub
}

#[test]
fn a_paid_checkout_grants_the_plan_and_starts_a_new_period() {
    let mut sub = fresh();
    sub.runs_used = RunCount::new(9);
    let event = BillingEvent::CheckoutCompleted {
        customer_id: Some("cus_1".into()),
        subscription_id: Some("sub_1".into()),
        plan: Some(PlanId::Pro),
        paid: true,
    };
    assert_eq!(apply(&mut sub, &event, T0), (EventVerdict::Applied, UsageEffect::Reset));
    assert_eq!((sub.plan, sub.status), (PlanId::Pro, SubscriptionStatus::Active));
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period.start(), T0);
    assert_eq!(sub.billing.subscription_id.as_deref(), Some("sub_1"));
    assert!(sub.has_paid);
}

#[test]
fn an_unpaid_checkout_only_links_the_ids() {
    let mut sub = fresh();
    sub.billing.customer_id = None;
    let event = BillingEvent::CheckoutCompleted {
        customer_id: Some("cus_9".into()),
        subscription_id: Some("sub_1".into()),
        plan: Some(PlanId::Pro),
        paid: false,
    };
    assert_eq!(apply(&mut sub, &event, T0), (EventVerdict::Ignored, UsageEffect::Keep));
    assert_eq!(sub.plan, PlanId::Free);
    assert_eq!(sub.billing.customer_id.as_deref(), Some("cus_9"));
    assert_eq!(sub.billing.subscription_id.as_deref(), Some("sub_1"));
    assert_eq!(sub.billing.last_event_at, None);
}

#[test]
fn an_incomplete_subscription_keeps_the_previous_entitlement() {
    let mut sub = fresh();
    sub.runs_used = RunCount::new(4);
    let (verdict, _) = apply(&mut sub, &snapshot(SubscriptionStatus::Incomplete, "price_pro", T0), T0);
    assert_eq!(verdict, EventVerdict::Ignored);
    assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
    assert_eq!(sub.runs_used, RunCount::new(4));
    let (verdict, _) = apply(&mut sub, &snapshot(SubscriptionStatus::IncompleteExpired, "price_pro", T0), T0);
    assert_eq!(verdict, EventVerdict::Ignored);
    assert_eq!(sub.plan, PlanId::Free);
}

#[test]
fn incomplete_then_active_grants_the_plan_with_a_fresh_counter() {
    let mut sub = fresh();
    sub.runs_used = RunCount::new(4);
    let _ = apply(&mut sub, &snapshot(SubscriptionStatus::Incomplete, "price_pro", T0), T0);
    let (verdict, effect) =
        apply(&mut sub, &snapshot(SubscriptionStatus::Active, "price_pro", T0), T0 + Duration::SECOND);
    assert_eq!((verdict, effect), (EventVerdict::Applied, UsageEffect::Reset));
    assert_eq!((sub.plan, sub.status), (PlanId::Pro, SubscriptionStatus::Active));
    assert_eq!(sub.runs_used, RunCount::ZERO);
}

#[test]
fn buying_a_plan_during_the_trial_ends_it() {
    let mut sub = fresh();
    let _ = sub.start_trial(T0 - Duration::days(2), catalog().trial());
    let _ = apply(&mut sub, &active("price_basic"), T0);
    assert!(!sub.is_trial());
    assert_eq!((sub.plan, sub.status), (PlanId::Basic, SubscriptionStatus::Active));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(1_000));
    assert_eq!(sub.period, period(T0));
}

#[test]
fn a_plan_change_inside_the_period_changes_the_limit_and_keeps_counted_usage() {
    let mut sub = on_basic();
    let (verdict, effect) = apply(&mut sub, &active("price_pro"), T0 + Duration::days(3));
    assert_eq!((verdict, effect), (EventVerdict::Applied, UsageEffect::Keep));
    assert_eq!(sub.plan, PlanId::Pro);
    assert_eq!(sub.runs_used, RunCount::new(7));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(5_000));
}

#[test]
fn a_payment_for_the_period_already_open_changes_nothing() {
    let mut sub = on_basic();
    let period_before = sub.period;
    // Applied (it confirms the state and moves the ordering clock) but the counter is kept.
    assert_eq!(apply(&mut sub, &paid(T0), T0 + Duration::SECOND), (EventVerdict::Applied, UsageEffect::Keep));
    assert_eq!(sub.runs_used, RunCount::new(7));
    assert_eq!(sub.period, period_before);
    // The very same event delivered again at the same instant changes nothing at all.
    assert_eq!(
        apply(&mut sub, &paid(T0), T0 + Duration::SECOND),
        (EventVerdict::Applied, UsageEffect::Unchanged)
    );
}

#[test]
fn a_payment_for_the_next_period_resets_usage_exactly_once() {
    let mut sub = on_basic();
    let next = period(T0).end();
    assert_eq!(apply(&mut sub, &paid(next), next), (EventVerdict::Applied, UsageEffect::Reset));
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period.start(), next);
    sub.runs_used = RunCount::new(3);
    // Replayed (a second payment event for the same period): nothing more.
    assert_eq!(apply(&mut sub, &paid(next), next + Duration::SECOND).1, UsageEffect::Keep);
    assert_eq!(sub.runs_used, RunCount::new(3));
}

#[test]
fn a_lazily_opened_period_is_not_reset_again_by_the_providers_event_for_it() {
    let mut sub = on_basic();
    let next = period(T0).end();
    assert_eq!(sub.refresh(next + Duration::hours(1)), UsageEffect::Reset);
    sub.runs_used = RunCount::new(2);
    assert_ne!(apply(&mut sub, &paid(next), next + Duration::hours(2)).1, UsageEffect::Reset);
    assert_eq!(sub.runs_used, RunCount::new(2));
}

#[test]
fn a_failed_payment_starts_the_grace_window_and_a_success_ends_it() {
    let mut sub = on_basic();
    let failed_at = T0 + Duration::days(30);
    let failed = BillingEvent::PaymentFailed { subscription_id: "sub_1".into(), customer_id: None };
    assert_eq!(apply(&mut sub, &failed, failed_at).0, EventVerdict::Applied);
    assert_eq!(sub.status, SubscriptionStatus::PastDue);
    assert_eq!(sub.past_due_since, Some(failed_at));
    // A second failure keeps the first one's time.
    let _ = apply(&mut sub, &failed, failed_at + Duration::days(1));
    assert_eq!(sub.past_due_since, Some(failed_at));
    assert!(sub.status_allows_use(failed_at + Duration::hours(71), Duration::hours(72)));
    assert!(!sub.status_allows_use(failed_at + Duration::hours(73), Duration::hours(72)));
    let _ = apply(&mut sub, &paid(T0), failed_at + Duration::days(2));
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.past_due_since, None);
}

#[test]
fn cancel_at_period_end_keeps_the_plan_until_the_period_ends() {
    let mut sub = on_basic();
    let mut cancel = active("price_basic");
    if let BillingEvent::SubscriptionChanged(s) = &mut cancel {
        s.cancel_at_period_end = true;
    }
    let _ = apply(&mut sub, &cancel, T0 + Duration::days(1));
    assert!(sub.cancel_at_period_end);
    assert_eq!(sub.plan, PlanId::Basic);
    assert_eq!(sub.refresh(period(T0).end() - Duration::SECOND), UsageEffect::Unchanged);
    assert_eq!(sub.plan, PlanId::Basic);
    // Once the period is over the user is back on free, even before the deletion arrives.
    let after = period(T0).end() + Duration::hours(1);
    assert_eq!(sub.refresh(after), UsageEffect::Reset);
    assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
    assert!(!sub.cancel_at_period_end);
    // The deletion that follows changes nothing more.
    let deleted = BillingEvent::SubscriptionDeleted { subscription_id: "sub_1".into() };
    assert_eq!(apply(&mut sub, &deleted, after), (EventVerdict::Ignored, UsageEffect::Unchanged));
}

#[test]
fn deletion_returns_the_user_to_free_active_with_a_fresh_period() {
    let mut sub = on_basic();
    let at = T0 + Duration::days(10);
    let deleted = BillingEvent::SubscriptionDeleted { subscription_id: "sub_1".into() };
    assert_eq!(apply(&mut sub, &deleted, at), (EventVerdict::Applied, UsageEffect::Reset));
    assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period, Period::monthly_containing(SIGNUP, at));
    assert_eq!(sub.billing.subscription_id, None);
    assert_eq!(sub.billing.customer_id.as_deref(), Some("cus_1"));
    // And no trial after a paid subscription.
    assert!(sub.start_trial(at, catalog().trial()).is_err());
}

#[test]
fn a_canceled_status_in_an_update_also_returns_to_free() {
    let mut sub = on_basic();
    let (verdict, _) =
        apply(&mut sub, &snapshot(SubscriptionStatus::Canceled, "price_basic", T0), T0 + Duration::days(1));
    assert_eq!(verdict, EventVerdict::Applied);
    assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
}

#[test]
fn deleting_a_subscription_that_is_not_linked_changes_nothing() {
    let mut sub = on_basic();
    let deleted = BillingEvent::SubscriptionDeleted { subscription_id: "sub_old".into() };
    assert_eq!(
        apply(&mut sub, &deleted, T0 + Duration::days(1)),
        (EventVerdict::Ignored, UsageEffect::Unchanged)
    );
    assert_eq!(sub.plan, PlanId::Basic);
    assert_eq!(sub.billing.last_event_at, Some(T0));
}

#[test]
fn an_older_event_after_a_newer_one_is_stale() {
    let mut sub = on_basic();
    let _ = apply(&mut sub, &active("price_pro"), T0 + Duration::minutes(5));
    let (verdict, _) = apply(&mut sub, &active("price_basic"), T0 + Duration::minutes(1));
    assert_eq!(verdict, EventVerdict::Stale);
    assert_eq!(sub.plan, PlanId::Pro);
}

#[test]
fn a_stale_event_still_links_an_unknown_customer() {
    let mut sub = on_basic();
    sub.billing.customer_id = None;
    let (verdict, effect) = apply(&mut sub, &active("price_pro"), T0 - Duration::minutes(1));
    assert_eq!((verdict, effect), (EventVerdict::Stale, UsageEffect::Keep));
    assert_eq!(sub.billing.customer_id.as_deref(), Some("cus_1"));
    assert_eq!(sub.plan, PlanId::Basic);
}

#[test]
fn events_of_the_same_second_both_apply() {
    let mut sub = on_basic();
    let _ = apply(&mut sub, &active("price_pro"), T0);
    assert_eq!(sub.plan, PlanId::Pro);
}

#[test]
fn a_payment_seen_before_the_grant_does_not_make_the_grant_stale() {
    let mut sub = fresh();
    // invoice.paid arrives first, one second after the subscription became active: deferred.
    assert_eq!(apply(&mut sub, &paid(T0), T0 + Duration::SECOND).0, EventVerdict::NotYet);
    assert_eq!(apply(&mut sub, &active("price_basic"), T0).0, EventVerdict::Applied);
    assert_eq!(sub.plan, PlanId::Basic);
}

#[test]
fn a_payment_for_another_subscription_while_one_is_granted_is_ignored_not_deferred() {
    let mut sub = on_basic();
    let stray =
        BillingEvent::PaymentFailed { subscription_id: "sub_old".into(), customer_id: Some("cus_1".into()) };
    assert_eq!(apply(&mut sub, &stray, T0 + Duration::days(1)).0, EventVerdict::Ignored);
    assert_eq!(sub.status, SubscriptionStatus::Active);
}

#[test]
fn a_payment_for_the_linked_subscription_before_its_grant_must_come_again_later() {
    let mut sub = fresh();
    let _ = apply(&mut sub, &snapshot(SubscriptionStatus::Incomplete, "price_basic", T0), T0);
    assert_eq!(sub.billing.subscription_id.as_deref(), Some("sub_1"));
    let renewal = paid(period(T0).end());
    assert_eq!(apply(&mut sub, &renewal, period(T0).end()), (EventVerdict::NotYet, UsageEffect::Unchanged));
    let failed = BillingEvent::PaymentFailed { subscription_id: "sub_1".into(), customer_id: None };
    assert_eq!(apply(&mut sub, &failed, T0).0, EventVerdict::NotYet);
    // Once granted, the same payment applies.
    let _ = apply(&mut sub, &active("price_basic"), T0 + Duration::SECOND);
    assert_eq!(apply(&mut sub, &renewal, period(T0).end()).1, UsageEffect::Reset);
}

#[test]
fn an_unknown_price_grants_nothing() {
    let mut sub = fresh();
    assert_eq!(apply(&mut sub, &active("price_unknown"), T0).0, EventVerdict::Ignored);
    assert_eq!(sub.plan, PlanId::Free);
}

#[test]
fn a_past_due_snapshot_keeps_the_plan_and_starts_grace() {
    let mut sub = on_basic();
    let at = T0 + Duration::days(31);
    let _ = apply(&mut sub, &snapshot(SubscriptionStatus::PastDue, "price_basic", T0), at);
    assert_eq!((sub.plan, sub.status), (PlanId::Basic, SubscriptionStatus::PastDue));
    assert_eq!(sub.past_due_since, Some(at));
}

#[test]
fn a_non_granting_update_for_another_subscription_is_ignored() {
    let mut sub = on_basic();
    let event = BillingEvent::SubscriptionChanged(ProviderSubscription {
        subscription_id: "sub_other".into(),
        customer_id: Some("cus_1".into()),
        price_id: Some("price_pro".into()),
        status: SubscriptionStatus::Unpaid,
        period: Some(period(T0)),
        cancel_at_period_end: false,
    });
    assert_eq!(apply(&mut sub, &event, T0 + Duration::days(1)).0, EventVerdict::Ignored);
    assert_eq!((sub.plan, sub.status), (PlanId::Basic, SubscriptionStatus::Active));
}

#[test]
fn a_new_subscription_after_deletion_starts_a_new_paid_period() {
    let mut sub = on_basic();
    let deleted = BillingEvent::SubscriptionDeleted { subscription_id: "sub_1".into() };
    let _ = apply(&mut sub, &deleted, T0 + Duration::days(2));
    sub.runs_used = RunCount::new(3);
    let start = T0 + Duration::days(5);
    let event = BillingEvent::SubscriptionChanged(ProviderSubscription {
        subscription_id: "sub_2".into(),
        customer_id: Some("cus_1".into()),
        price_id: Some("price_pro".into()),
        status: SubscriptionStatus::Active,
        period: Some(period(start)),
        cancel_at_period_end: false,
    });
    assert_eq!(apply(&mut sub, &event, start), (EventVerdict::Applied, UsageEffect::Reset));
    assert_eq!(sub.plan, PlanId::Pro);
    assert_eq!(sub.billing.subscription_id.as_deref(), Some("sub_2"));
    assert_eq!(sub.runs_used, RunCount::ZERO);
}

/// Delivers `events` in the given order the way Stripe does: an event answered `NotYet` is
/// delivered again after the others.
fn deliver(sub: &mut Subscription, events: &[(BillingEvent, Timestamp)]) {
    let mut queue: std::collections::VecDeque<_> = events.iter().cloned().collect();
    let mut budget = events.len() * events.len() + 1;
    while let Some((event, at)) = queue.pop_front() {
        if apply(sub, &event, at).0 == EventVerdict::NotYet && budget > 0 {
            budget -= 1;
            queue.push_back((event, at));
        }
    }
}

#[test]
fn a_never_paid_past_due_subscription_grants_no_paid_limit_and_waits_for_its_grant() {
    for status in [SubscriptionStatus::PastDue, SubscriptionStatus::Unpaid, SubscriptionStatus::Paused] {
        let mut sub = fresh();
        let verdict = apply(&mut sub, &snapshot(status, "price_pro", T0), T0 + Duration::minutes(2));
        assert_eq!(verdict, (EventVerdict::NotYet, UsageEffect::Unchanged), "{status}");
        assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
        assert!(!sub.billing.granted && !sub.has_paid);
        // Once the subscription has been active, the same snapshot keeps the plan with grace.
        let _ = apply(&mut sub, &active("price_pro"), T0 + Duration::minutes(1));
        let verdict = apply(&mut sub, &snapshot(status, "price_pro", T0), T0 + Duration::minutes(2));
        assert_eq!(verdict.0, EventVerdict::Applied);
        assert_eq!((sub.plan, sub.status), (PlanId::Pro, status));
    }
}

/// The entitlement-relevant part of a subscription.
fn entitlement(
    sub: &Subscription,
) -> (PlanId, SubscriptionStatus, Period, bool, Option<ProviderSubscriptionId>) {
    (sub.plan, sub.status, sub.period, sub.cancel_at_period_end, sub.billing.subscription_id.clone())
}

fn any_update() -> impl Strategy<Value = (SubscriptionStatus, &'static str, bool, u32)> {
    (
        prop::sample::select(vec![
            SubscriptionStatus::Active,
            SubscriptionStatus::Trialing,
            SubscriptionStatus::PastDue,
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Paused,
        ]),
        prop::sample::select(vec!["price_basic", "price_pro"]),
        any::<bool>(),
        0u32..3,
    )
}

proptest! {
    /// Subscription snapshots at distinct instants, delivered in any order: the final
    /// entitlement equals the one the newest snapshot describes (in-order delivery).
    #[test]
    fn any_permutation_of_timestamped_updates_ends_in_the_state_of_the_newest(
        first in prop::sample::select(vec![SubscriptionStatus::Active, SubscriptionStatus::Trialing]),
        updates in prop::collection::vec(any_update(), 1..7),
        order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
    ) {
        // A Stripe subscription is `active` or `trialing` before it can become delinquent.
        let mut updates = updates;
        updates[0].0 = first;
        // A provider never reports an older billing period in a newer event: periods only move
        // forward with event time, so the generated periods are non-decreasing.
        let mut months: Vec<u32> = updates.iter().map(|u| u.3).collect();
        months.sort_unstable();
        let events: Vec<(BillingEvent, Timestamp)> = updates
            .iter()
            .zip(&months)
            .enumerate()
            .map(|(i, ((status, price, cancel, _), month))| {
                let start = Period::monthly(T0, *month).start();
                let event = BillingEvent::SubscriptionChanged(ProviderSubscription {
                    subscription_id: "sub_1".into(),
                    customer_id: Some("cus_1".into()),
                    price_id: Some((*price).into()),
                    status: *status,
                    period: Some(Period::monthly(start, 0)),
                    cancel_at_period_end: *cancel,
                });
                (event, T0 + Duration::minutes(i as i64))
            })
            .collect();
        let mut in_order = fresh();
        deliver(&mut in_order, &events);
        let mut shuffled: Vec<_> = events.clone();
        // Deterministic shuffle from the generated seed.
        let mut seed = order;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let mut permuted = fresh();
        deliver(&mut permuted, &shuffled);
        prop_assert_eq!(entitlement(&permuted), entitlement(&in_order));
        // And the newest snapshot is what both describe.
        let (newest_status, newest_price, newest_cancel, _) = updates[updates.len() - 1];
        let plan = catalog().plan_for_stripe_price(newest_price);
        prop_assert_eq!(Some(permuted.plan), plan);
        prop_assert_eq!(permuted.status, newest_status);
        prop_assert_eq!(permuted.cancel_at_period_end, newest_cancel);
    }
}

#[test]
fn a_newer_event_confirming_the_current_state_still_makes_older_events_stale() {
    let mut sub = fresh();
    let _ = apply(&mut sub, &active("price_pro"), T0 + Duration::minutes(1));
    let past_due_pro = snapshot(SubscriptionStatus::PastDue, "price_pro", T0);
    let _ = apply(&mut sub, &past_due_pro, T0 + Duration::minutes(2));
    // The newest snapshot says the same thing: nothing changes, but the clock moves to it.
    assert_eq!(apply(&mut sub, &past_due_pro, T0 + Duration::minutes(4)).0, EventVerdict::Applied);
    // So an event from minute 3 is older than what is known and must not win.
    assert_eq!(apply(&mut sub, &active("price_basic"), T0 + Duration::minutes(3)).0, EventVerdict::Stale);
    assert_eq!((sub.plan, sub.status), (PlanId::Pro, SubscriptionStatus::PastDue));
}
