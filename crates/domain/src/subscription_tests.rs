use time::macros::datetime;
use time::Duration;
use uuid::Uuid;

use super::*;
use crate::quota::Refusal;

const GRACE: Duration = Duration::hours(72);
const SIGNUP: Timestamp = datetime!(2026-01-31 09:00 UTC);

fn catalog() -> PlanCatalog {
    PlanCatalog::with_defaults(Some("price_basic".into()), Some("price_pro".into()))
}

fn fresh() -> Subscription {
    Subscription::new_free(
        SubscriptionId::from_uuid(Uuid::from_u128(1)),
        crate::AccountId::from_uuid(Uuid::from_u128(2)),
        SIGNUP,
    )
}

fn used(mut sub: Subscription, n: u32) -> Subscription {
    sub.runs_used = RunCount::new(n);
    sub
}

fn one() -> RunCount {
    RunCount::new(1)
}

#[test]
fn a_new_user_is_on_free_active_with_a_calendar_month_anchored_at_sign_up() {
    let sub = fresh();
    assert_eq!(sub.plan, PlanId::Free);
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period.start(), SIGNUP);
    assert_eq!(sub.period.end(), datetime!(2026-02-28 09:00 UTC));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(10));
    assert!(!sub.is_trial());
}

#[test]
fn consume_allows_the_tenth_run_and_refuses_the_eleventh_on_the_free_plan() {
    let now = SIGNUP + Duration::days(1);
    let decision = used(fresh(), 9).decide(one(), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Allowed { limit, .. } if limit == RunLimit::limited(10)));
    let decision = used(fresh(), 10).decide(one(), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Refused { reason: Refusal::LimitReached, .. }));
}

#[test]
fn consuming_several_units_must_fit_entirely() {
    let now = SIGNUP + Duration::days(1);
    let decision = used(fresh(), 8).decide(RunCount::new(3), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Refused { reason: Refusal::LimitReached, .. }));
    let decision = used(fresh(), 8).decide(RunCount::new(2), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Allowed { .. }));
}

#[test]
fn a_limit_refusal_says_when_the_runs_come_back() {
    let decision = used(fresh(), 10).decide(one(), SIGNUP, &catalog(), GRACE);
    let snapshot = decision.snapshot();
    assert_eq!(snapshot.resets_at, datetime!(2026-02-28 09:00 UTC));
    assert_eq!(snapshot.runs_used, RunCount::new(10));
    assert_eq!(snapshot.remaining(), Some(0));
    assert_eq!(snapshot.plan, PlanId::Free);
}

#[test]
fn refresh_inside_the_period_changes_nothing() {
    let mut sub = used(fresh(), 4);
    assert_eq!(sub.refresh(datetime!(2026-02-28 08:59:59 UTC)), UsageEffect::Unchanged);
    assert_eq!(sub.runs_used, RunCount::new(4));
    assert_eq!(sub.version, 0);
}

#[test]
fn the_free_period_rolls_over_exactly_once_when_it_ends() {
    let mut sub = used(fresh(), 10);
    let now = datetime!(2026-02-28 09:00 UTC);
    assert_eq!(sub.refresh(now), UsageEffect::Reset);
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period.start(), datetime!(2026-02-28 09:00 UTC));
    assert_eq!(sub.period.end(), datetime!(2026-03-31 09:00 UTC));
    assert_eq!(sub.version, 1);
    // A second read in the same period does not reset again.
    sub.runs_used = RunCount::new(3);
    assert_eq!(sub.refresh(now + Duration::days(3)), UsageEffect::Unchanged);
    assert_eq!(sub.runs_used, RunCount::new(3));
}

#[test]
fn a_long_idle_user_gets_the_period_containing_now_not_the_next_one() {
    let mut sub = used(fresh(), 7);
    assert_eq!(sub.refresh(datetime!(2026-07-15 00:00 UTC)), UsageEffect::Reset);
    assert_eq!(sub.period.start(), datetime!(2026-06-30 09:00 UTC));
    assert_eq!(sub.period.end(), datetime!(2026-07-31 09:00 UTC));
}

#[test]
fn the_trial_gives_fifty_runs_for_fourteen_days_in_its_own_period() {
    let mut sub = used(fresh(), 6);
    let now = SIGNUP + Duration::days(3);
    assert_eq!(sub.start_trial(now, catalog().trial()), Ok(UsageEffect::Reset));
    assert_eq!(sub.status, SubscriptionStatus::Trialing);
    assert!(sub.is_trial());
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert_eq!(sub.period.start(), now);
    assert_eq!(sub.period.end(), now + Duration::days(14));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(50));
    let decision = used(sub.clone(), 49).decide(one(), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Allowed { .. }));
    let decision = used(sub, 50).decide(one(), now, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Refused { reason: Refusal::LimitReached, .. }));
}

#[test]
fn a_trial_can_be_started_only_once() {
    let mut sub = fresh();
    let terms = catalog().trial();
    assert!(sub.start_trial(SIGNUP, terms).is_ok());
    assert_eq!(sub.start_trial(SIGNUP, terms), Err(TrialError::AlreadyUsed));
    // Not even after it has ended.
    let _ = sub.refresh(SIGNUP + Duration::days(15));
    assert_eq!(sub.start_trial(SIGNUP + Duration::days(15), terms), Err(TrialError::AlreadyUsed));
}

#[test]
fn a_trial_is_refused_off_the_free_plan() {
    let mut sub = fresh();
    let _ = sub.set_plan_by_admin(PlanId::Basic, None, SIGNUP);
    assert_eq!(sub.start_trial(SIGNUP, catalog().trial()), Err(TrialError::NotOnFreePlan));
}

#[test]
fn a_trial_is_refused_after_a_paid_subscription() {
    let mut sub = fresh();
    sub.has_paid = true;
    assert_eq!(sub.start_trial(SIGNUP, catalog().trial()), Err(TrialError::AfterPaidSubscription));
}

#[test]
fn an_ended_trial_returns_lazily_to_free_active_with_a_fresh_period() {
    let mut sub = fresh();
    let start = SIGNUP + Duration::days(2);
    let _ = sub.start_trial(start, catalog().trial());
    sub.runs_used = RunCount::new(50);
    // One second before the end: still trialing.
    assert_eq!(sub.refresh(start + Duration::days(14) - Duration::SECOND), UsageEffect::Unchanged);
    assert!(sub.is_trial());
    let later = start + Duration::days(14) + Duration::hours(1);
    assert_eq!(sub.refresh(later), UsageEffect::Reset);
    assert_eq!((sub.plan, sub.status), (PlanId::Free, SubscriptionStatus::Active));
    assert!(!sub.is_trial());
    assert_eq!(sub.runs_used, RunCount::ZERO);
    assert!(sub.period.contains(later));
    assert_eq!(sub.period, crate::Period::monthly_containing(SIGNUP, later));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(10));
}

#[test]
fn metered_use_is_allowed_in_active_trialing_and_past_due_within_grace_only() {
    let now = SIGNUP + Duration::days(1);
    for status in SubscriptionStatus::ALL {
        let mut sub = fresh();
        sub.status = status;
        sub.past_due_since = Some(now - Duration::hours(1));
        let allowed = matches!(sub.decide(one(), now, &catalog(), GRACE), ConsumeDecision::Allowed { .. });
        let expected = matches!(
            status,
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        );
        assert_eq!(allowed, expected, "{status}");
        if !expected {
            assert!(matches!(
                sub.decide(one(), now, &catalog(), GRACE),
                ConsumeDecision::Refused { reason: Refusal::Inactive, .. }
            ));
        }
    }
}

#[test]
fn past_due_is_blocked_once_the_grace_window_has_passed() {
    let failed = SIGNUP + Duration::days(1);
    let mut sub = fresh();
    sub.status = SubscriptionStatus::PastDue;
    sub.past_due_since = Some(failed);
    let at = |d| sub.decide(one(), failed + d, &catalog(), GRACE);
    assert!(matches!(at(Duration::hours(71)), ConsumeDecision::Allowed { .. }));
    assert!(matches!(at(Duration::hours(72)), ConsumeDecision::Refused { reason: Refusal::Inactive, .. }));
}

#[test]
fn a_zero_grace_blocks_past_due_at_once() {
    let failed = SIGNUP + Duration::days(1);
    let mut sub = fresh();
    sub.status = SubscriptionStatus::PastDue;
    sub.past_due_since = Some(failed);
    let decision = sub.decide(one(), failed, &catalog(), Duration::ZERO);
    assert!(matches!(decision, ConsumeDecision::Refused { reason: Refusal::Inactive, .. }));
}

#[test]
fn an_inactive_refusal_wins_over_a_spent_limit() {
    let mut sub = used(fresh(), 10);
    sub.status = SubscriptionStatus::Unpaid;
    let decision = sub.decide(one(), SIGNUP, &catalog(), GRACE);
    assert!(matches!(decision, ConsumeDecision::Refused { reason: Refusal::Inactive, .. }));
}

#[test]
fn an_admin_enterprise_limit_applies_at_once_and_keeps_counted_usage() {
    let mut sub = used(fresh(), 10);
    let now = SIGNUP + Duration::days(5);
    assert_eq!(
        sub.set_plan_by_admin(PlanId::Enterprise, Some(RunLimit::limited(25_000)), now),
        Ok(UsageEffect::Keep)
    );
    assert_eq!(sub.plan, PlanId::Enterprise);
    assert_eq!(sub.runs_used, RunCount::new(10));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(25_000));
    assert!(matches!(sub.decide(one(), now, &catalog(), GRACE), ConsumeDecision::Allowed { .. }));
}

#[test]
fn enterprise_without_a_set_limit_is_unlimited_by_default() {
    let mut sub = used(fresh(), 1_000_000);
    let _ = sub.set_plan_by_admin(PlanId::Enterprise, None, SIGNUP);
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::Unlimited);
    assert!(matches!(
        sub.decide(RunCount::new(u32::MAX), SIGNUP, &catalog(), GRACE),
        ConsumeDecision::Allowed { .. }
    ));
    assert_eq!(sub.snapshot(&catalog(), SIGNUP).remaining(), None);
}

#[test]
fn the_free_plan_cannot_be_made_unlimited() {
    let mut sub = fresh();
    assert_eq!(
        sub.set_plan_by_admin(PlanId::Free, Some(RunLimit::Unlimited), SIGNUP),
        Err(AdminPlanError::UnlimitedFree)
    );
    // A comp of extra free runs is fine.
    assert!(sub.set_plan_by_admin(PlanId::Free, Some(RunLimit::limited(100)), SIGNUP).is_ok());
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(100));
}

#[test]
fn an_admin_plan_change_during_a_trial_ends_it_with_a_fresh_calendar_period() {
    let mut sub = fresh();
    let start = SIGNUP + Duration::days(40);
    let _ = sub.start_trial(start, catalog().trial());
    sub.runs_used = RunCount::new(12);
    let now = start + Duration::days(2);
    assert_eq!(sub.set_plan_by_admin(PlanId::Pro, None, now), Ok(UsageEffect::Reset));
    assert!(!sub.is_trial());
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.period, crate::Period::monthly_containing(SIGNUP, now));
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(5_000));
}

#[test]
fn every_state_change_bumps_the_version_and_a_reset_zeroes_the_counter() {
    let mut sub = used(fresh(), 5);
    let _ = sub.set_plan_by_admin(PlanId::Basic, None, SIGNUP);
    assert_eq!((sub.version, sub.runs_used), (1, RunCount::new(5)));
    let _ = sub.refresh(SIGNUP + Duration::days(31));
    assert_eq!((sub.version, sub.runs_used), (2, RunCount::ZERO));
}

#[test]
fn combining_effects_keeps_the_strongest() {
    use UsageEffect::*;
    assert_eq!(Unchanged.then(Unchanged), Unchanged);
    assert_eq!(Unchanged.then(Keep), Keep);
    assert_eq!(Keep.then(Reset), Reset);
    assert_eq!(Reset.then(Unchanged), Reset);
}

mod reserved {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Held runs count against the limit exactly as used runs do: a decision allows `units`
        /// iff used + reserved + units fits, and the snapshot's remaining is what is left.
        #[test]
        fn a_decision_counts_used_and_reserved_runs_together(
            used in 0u32..40, reserved in 0u32..40, units in 1u32..40,
        ) {
            let mut p = fresh().parts();
            p.runs_used = RunCount::new(used);
            p.runs_reserved = RunCount::new(reserved);
            let sub = Subscription::from_parts(p);
            let decision = sub.decide(RunCount::new(units), SIGNUP, &catalog(), GRACE);
            let fits = used + reserved + units <= 10;
            prop_assert_eq!(matches!(decision, ConsumeDecision::Allowed { .. }), fits);
            prop_assert_eq!(decision.snapshot().remaining(), Some(10u32.saturating_sub(used + reserved)));
        }
    }
}

#[test]
fn granted_runs_raise_the_limit_for_the_current_period_only() {
    let mut sub = used(fresh(), 10);
    let now = SIGNUP + Duration::days(3);
    assert!(matches!(sub.decide(one(), now, &catalog(), GRACE), ConsumeDecision::Refused { .. }));
    let version = sub.version;
    assert_eq!(sub.grant_runs(RunCount::new(5), now), UsageEffect::Keep);
    assert_eq!(sub.version, version + 1, "a grant is a change (compare-and-set)");
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(15));
    assert!(matches!(sub.decide(RunCount::new(5), now, &catalog(), GRACE), ConsumeDecision::Allowed { .. }));
    assert!(matches!(sub.decide(RunCount::new(6), now, &catalog(), GRACE), ConsumeDecision::Refused { .. }));
    assert_eq!(sub.grant_runs(RunCount::ZERO, now), UsageEffect::Unchanged);
    // The next period starts with the plan's own limit.
    assert_eq!(sub.refresh(datetime!(2026-03-01 00:00 UTC)), UsageEffect::Reset);
    assert_eq!(sub.runs_granted(), RunCount::ZERO);
    assert_eq!(sub.runs_limit(&catalog()), RunLimit::limited(10));
}

#[test]
fn a_per_seat_plan_gives_its_runs_for_each_seat_and_an_override_wins() {
    let mut plans = catalog().plans().to_vec();
    plans[PlanId::Pro as usize].per_seat = true;
    let per_seat = PlanCatalog::new(plans, catalog().trial()).expect("catalog");
    let on_pro = |seats: u32| {
        let mut parts = fresh().parts();
        (parts.plan, parts.seats) = (PlanId::Pro, seats);
        Subscription::from_parts(parts)
    };
    assert_eq!(on_pro(3).runs_limit(&per_seat), RunLimit::limited(15_000));
    assert_eq!(on_pro(0).runs_limit(&per_seat), RunLimit::limited(5_000), "an account has at least one seat");
    assert_eq!(on_pro(3).runs_limit(&catalog()), RunLimit::limited(5_000), "not per seat: the plan's runs");
    let mut parts = on_pro(3).parts();
    parts.runs_limit_override = Some(RunLimit::limited(7));
    parts.runs_granted = RunCount::new(2);
    assert_eq!(Subscription::from_parts(parts).runs_limit(&per_seat), RunLimit::limited(9));
    let mut parts = on_pro(3).parts();
    parts.runs_granted = RunCount::new(2);
    assert_eq!(Subscription::from_parts(parts).runs_limit(&per_seat), RunLimit::limited(15_002));
}
