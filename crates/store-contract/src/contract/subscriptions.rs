//! Subscriptions (compare-and-set updates, rollovers) and the webhook inbox that changes them.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::Trial;
use tollgate_domain::AccountId;
use tollgate_domain::{Period, PlanId, RunCount, SubscriptionStatus, UsageEffect};
use tollgate_ports::{RecordOutcome, SubscriptionChange, UpdateSubscriptionError};

use crate::fixtures::entry;
use crate::fixtures::{consumption, registered, with, T0, TEN};
use crate::Subject;

pub async fn every_subscription_field_round_trips(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let sub = with(&sub, |p| {
        p.plan = PlanId::Enterprise;
        p.status = SubscriptionStatus::PastDue;
        p.period = Period::new(T0, T0 + Duration::days(30)).unwrap();
        p.period_anchor = T0 - Duration::days(3);
        p.runs_limit_override = Some(RunLimit::Unlimited);
        p.runs_granted = RunCount::new(7);
        p.cancel_at_period_end = true;
        p.trial = Some(Trial { started_at: T0, ends_at: T0 + Duration::days(14) });
        p.trial_used = true;
        p.has_paid = true;
        p.past_due_since = Some(T0 + Duration::seconds(5));
        p.billing.customer_id = Some("cus_1".into());
        p.billing.subscription_id = Some("sub_1".into());
        p.billing.granted = true;
        p.billing.last_event_at = Some(T0 + Duration::seconds(7));
        p.version = 1;
        p.updated_at = T0 + Duration::hours(1);
    });
    s.subs.update(&sub, 0, UsageEffect::Keep).await.unwrap();
    assert_eq!(s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap(), Some(sub.clone()));
    let sub = with(&sub, |p| {
        p.runs_limit_override = Some(RunLimit::limited(25_000));
        p.version = 2;
    });
    s.subs.update(&sub, 1, UsageEffect::Keep).await.unwrap();
    assert_eq!(s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap(), Some(sub.clone()));
    assert_eq!(s.subs.find_by_customer(&"cus_1".into()).await.unwrap(), Some(sub.clone()));
    assert_eq!(s.subs.find_by_provider_subscription(&"sub_1".into()).await.unwrap(), Some(sub));
}

pub async fn an_update_is_a_compare_and_set_on_the_version(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let sub = with(&sub, |p| {
        p.plan = PlanId::Pro;
        p.version = 1;
    });
    let err = s.subs.update(&sub, 7, UsageEffect::Keep).await.unwrap_err();
    assert!(matches!(err, UpdateSubscriptionError::Conflict));
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().plan(),
        PlanId::Free
    );
    s.subs.update(&sub, 0, UsageEffect::Keep).await.unwrap();
    // The same expected version again: someone already moved it on.
    assert!(matches!(
        s.subs.update(&sub, 0, UsageEffect::Keep).await,
        Err(UpdateSubscriptionError::Conflict)
    ));
}

pub async fn an_update_keeps_the_counter_unless_it_resets_it(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    for _ in 0..3 {
        s.usage.consume(&consumption(user.id, 0, TEN, None)).await.unwrap();
    }
    // The snapshot says 0 runs used; the store must not write that back.
    let sub = with(&sub, |p| {
        p.plan = PlanId::Basic;
        p.version = 1;
    });
    s.subs.update(&sub, 0, UsageEffect::Keep).await.unwrap();
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(3)
    );
    let sub = with(&sub, |p| {
        p.version = 2;
    });
    s.subs.update(&sub, 1, UsageEffect::Reset).await.unwrap();
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::ZERO
    );
}

pub async fn concurrent_rollovers_open_the_next_period_once(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    for _ in 0..4 {
        s.usage.consume(&consumption(user.id, 0, TEN, None)).await.unwrap();
    }
    let later = T0 + Duration::days(45);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let subs = s.subs.clone();
            let mut mine = sub.clone();
            tokio::spawn(async move {
                let effect = mine.refresh(later);
                subs.update(&mine, 0, effect).await
            })
        })
        .collect();
    let mut opened = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => opened += 1,
            Err(UpdateSubscriptionError::Conflict) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(opened, 1);
    // The winner reset the counter; consumption on the new version counts from zero, once.
    s.usage.consume(&consumption(user.id, 1, TEN, None)).await.unwrap();
    let now = s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap();
    assert_eq!((now.version(), now.runs_used()), (1, RunCount::new(1)));
    assert!(now.period().contains(later));
}

pub async fn an_event_and_its_change_are_recorded_together_once(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let sub = with(&sub, |p| {
        p.plan = PlanId::Pro;
        p.version = 1;
    });
    let change =
        SubscriptionChange { subscription: sub.clone(), expected_version: 0, usage: UsageEffect::Keep };
    assert!(!s.inbox.contains("evt_1").await.unwrap());
    assert_eq!(s.inbox.record(&entry("evt_1"), Some(change.clone())).await.unwrap(), RecordOutcome::Recorded);
    assert!(s.inbox.contains("evt_1").await.unwrap());
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().plan(),
        PlanId::Pro
    );
    // The same event again changes nothing, even with a change that would apply.
    let other = sub.clone();
    let other = with(&other, |p| {
        p.plan = PlanId::Basic;
        p.version = 2;
    });
    let again = SubscriptionChange { subscription: other, expected_version: 1, usage: UsageEffect::Keep };
    assert_eq!(s.inbox.record(&entry("evt_1"), Some(again)).await.unwrap(), RecordOutcome::Duplicate);
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().plan(),
        PlanId::Pro
    );
    assert_eq!(s.inbox.record(&entry("evt_2"), None).await.unwrap(), RecordOutcome::Recorded);
}

pub async fn an_event_whose_change_conflicts_is_not_recorded(s: Subject) {
    let (_, sub) = registered(&s, "ada@example.com").await;
    let sub = with(&sub, |p| {
        p.plan = PlanId::Pro;
        p.version = 5;
    });
    let change = SubscriptionChange { subscription: sub, expected_version: 4, usage: UsageEffect::Keep };
    let err = s.inbox.record(&entry("evt_1"), Some(change)).await.unwrap_err();
    assert!(matches!(err, UpdateSubscriptionError::Conflict));
    assert!(!s.inbox.contains("evt_1").await.unwrap(), "the entry must roll back with the change");
}
