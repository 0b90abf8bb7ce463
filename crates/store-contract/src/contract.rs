//! The contract every store must meet. Each function is one test, run against each store.
#![allow(clippy::unwrap_used)]

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::Trial;
use tollgate_domain::{Email, Period, PlanId, RunCount, SessionId, SubscriptionStatus, UsageEffect};
use tollgate_ports::outbound::{
    ConsumeOutcome, CreateServiceKeyError, CreateUserError, IdempotencyKey, InboxEntry, InboxOutcome, Page,
    RecordOutcome, RefreshTokenRecord, RefundOutcome, RotateOutcome, ServiceKey, SubscriptionChange,
    UpdateSubscriptionError, UsageReason,
};

use crate::fixtures::{consumption, hash, id, registered, session, user, with, T0};
use crate::Subject;

const TEN: RunLimit = RunLimit::Limited(RunCount::new(10));

pub async fn migrations_can_be_applied_again(s: Subject) {
    (s.migrate)().await.unwrap();
    (s.migrate)().await.unwrap();
    s.health.ping().await.unwrap();
}

pub async fn a_user_is_created_with_their_subscription(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let found = s.users.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(found, user);
    let by_email = s.users.find_by_email(&Email::parse("ADA@example.com").unwrap()).await.unwrap();
    assert_eq!(by_email, Some(user.clone()));
    let creds = s.users.find_credentials(&user.email).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, hash());
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap(), Some(sub));
    assert_eq!(s.users.find_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);
}

pub async fn a_taken_email_is_refused_and_nothing_is_written(s: Subject) {
    registered(&s, "ada@example.com").await;
    let second = user("ada@example.com");
    let sub = tollgate_domain::Subscription::new_free(
        tollgate_domain::SubscriptionId::from_uuid(id()),
        second.id,
        T0,
    );
    let err = s.users.create(&second, &hash(), &sub).await.unwrap_err();
    assert!(matches!(err, CreateUserError::DuplicateEmail), "{err:?}");
    assert_eq!(s.users.find_by_id(second.id).await.unwrap(), None);
    assert_eq!(s.subs.get_by_user(second.id).await.unwrap(), None);
}

pub async fn every_subscription_field_round_trips(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let sub = with(&sub, |p| {
        p.plan = PlanId::Enterprise;
        p.status = SubscriptionStatus::PastDue;
        p.period = Period::new(T0, T0 + Duration::days(30)).unwrap();
        p.period_anchor = T0 - Duration::days(3);
        p.runs_limit_override = Some(RunLimit::Unlimited);
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
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap(), Some(sub.clone()));
    let sub = with(&sub, |p| {
        p.runs_limit_override = Some(RunLimit::limited(25_000));
        p.version = 2;
    });
    s.subs.update(&sub, 1, UsageEffect::Keep).await.unwrap();
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap(), Some(sub.clone()));
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
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().plan(), PlanId::Free);
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
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(3));
    let sub = with(&sub, |p| {
        p.version = 2;
    });
    s.subs.update(&sub, 1, UsageEffect::Reset).await.unwrap();
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::ZERO);
}

pub async fn consumption_counts_up_to_the_limit_and_no_further(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let limit = RunLimit::limited(2);
    for expected in 1..=2 {
        match s.usage.consume(&consumption(user.id, 0, limit, None)).await.unwrap() {
            ConsumeOutcome::Consumed { runs_used, .. } => assert_eq!(runs_used, RunCount::new(expected)),
            other => panic!("{other:?}"),
        }
    }
    let refused = s.usage.consume(&consumption(user.id, 0, limit, None)).await.unwrap();
    assert_eq!(refused, ConsumeOutcome::LimitReached { runs_used: RunCount::new(2) });
    let records = s.usage.list(user.id, 10).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.units == 1
        && r.reason == UsageReason::Route("POST /test".into())
        && !r.refunded
        && r.at == T0));
}

pub async fn an_unlimited_limit_never_refuses(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    for _ in 0..20 {
        let outcome = s.usage.consume(&consumption(user.id, 0, RunLimit::Unlimited, None)).await.unwrap();
        assert!(matches!(outcome, ConsumeOutcome::Consumed { .. }));
    }
}

pub async fn a_consumption_decided_on_an_old_version_writes_nothing(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let outcome = s.usage.consume(&consumption(user.id, 5, TEN, None)).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::StaleState);
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::ZERO);
    assert!(s.usage.list(user.id, 10).await.unwrap().is_empty());
}

pub async fn a_repeated_idempotency_key_replays_without_counting(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let first = consumption(user.id, 0, TEN, Some("key-1"));
    assert!(matches!(s.usage.consume(&first).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    let again = consumption(user.id, 0, TEN, Some("key-1"));
    assert_eq!(
        s.usage.consume(&again).await.unwrap(),
        ConsumeOutcome::Replayed { value: Some(first.record_id) }
    );
    // Even with no allowance left (a refused decision asks with a zero limit).
    let refused = consumption(user.id, 0, RunLimit::limited(0), Some("key-1"));
    assert_eq!(
        s.usage.consume(&refused).await.unwrap(),
        ConsumeOutcome::Replayed { value: Some(first.record_id) }
    );
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
    // Keys are per user.
    let (other, _) = registered(&s, "bob@example.com").await;
    let theirs = consumption(other.id, 0, TEN, Some("key-1"));
    assert!(matches!(s.usage.consume(&theirs).await.unwrap(), ConsumeOutcome::Consumed { .. }));
}

pub async fn an_idempotency_key_with_another_fingerprint_is_a_mismatch(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let keyed = |print: &str| {
        let mut c = consumption(user.id, 0, TEN, None);
        c.idempotency_key = IdempotencyKey::parse("key-1").map(|k| k.for_request(print));
        c
    };
    let first = keyed("print-a");
    assert!(matches!(s.usage.consume(&first).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    assert_eq!(s.usage.consume(&keyed("print-b")).await.unwrap(), ConsumeOutcome::KeyMismatch);
    assert_eq!(
        s.usage.consume(&keyed("print-a")).await.unwrap(),
        ConsumeOutcome::Replayed { value: Some(first.record_id) }
    );
    // A key without a fingerprint (stored before fingerprints) matches any request.
    let bare = consumption(user.id, 0, TEN, Some("key-1"));
    assert!(matches!(s.usage.consume(&bare).await.unwrap(), ConsumeOutcome::Replayed { .. }));
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
}

pub async fn a_refund_gives_the_runs_back_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let c = consumption(user.id, 0, TEN, None);
    s.usage.consume(&c).await.unwrap();
    s.usage.consume(&consumption(user.id, 0, TEN, None)).await.unwrap();
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::Refunded);
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::AlreadyRefunded);
    assert_eq!(s.usage.refund(id()).await.unwrap(), RefundOutcome::NotFound);
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
    let records = s.usage.list(user.id, 10).await.unwrap();
    assert_eq!(records.iter().filter(|r| r.refunded).count(), 1);
}

pub async fn a_refund_after_the_period_rolled_over_leaves_the_new_counter_alone(s: Subject) {
    let (user, mut sub) = registered(&s, "ada@example.com").await;
    let c = consumption(user.id, 0, TEN, None);
    s.usage.consume(&c).await.unwrap();
    let later = T0 + Duration::days(40);
    assert_eq!(sub.refresh(later), UsageEffect::Reset);
    s.subs.update(&sub, 0, UsageEffect::Reset).await.unwrap();
    s.usage.consume(&consumption(user.id, 1, TEN, None)).await.unwrap();
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::Refunded);
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
}

pub async fn a_metered_session_is_created_with_its_usage_record(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let new = session(user.id, "first", T0);
    let c = consumption(user.id, 0, TEN, None);
    let outcome = s.sessions.create_metered(&new, &c).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Consumed { value: new.clone(), runs_used: RunCount::new(1) });
    assert_eq!(s.sessions.get(user.id, new.id).await.unwrap(), Some(new.clone()));
    let records = s.usage.list(user.id, 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].resource_id, Some(*new.id.as_uuid()));
    assert_eq!(records[0].id, c.record_id);
}

pub async fn a_refused_metered_session_is_not_created(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let limit = RunLimit::limited(1);
    s.sessions
        .create_metered(&session(user.id, "a", T0), &consumption(user.id, 0, limit, None))
        .await
        .unwrap();
    let second = session(user.id, "b", T0);
    let outcome = s.sessions.create_metered(&second, &consumption(user.id, 0, limit, None)).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::LimitReached { runs_used: RunCount::new(1) });
    assert_eq!(s.sessions.get(user.id, second.id).await.unwrap(), None);
    let stale = session(user.id, "c", T0);
    let outcome = s.sessions.create_metered(&stale, &consumption(user.id, 9, TEN, None)).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::StaleState);
    assert_eq!(s.sessions.list(user.id, Page { limit: 10, offset: 0 }).await.unwrap().1, 1);
}

pub async fn a_replayed_metered_session_returns_the_original(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let original = session(user.id, "original", T0);
    s.sessions.create_metered(&original, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    let retry = session(user.id, "retry", T0);
    let outcome = s.sessions.create_metered(&retry, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Replayed { value: Some(original.clone()) });
    assert_eq!(s.sessions.get(user.id, retry.id).await.unwrap(), None);
    // Once the original is deleted, a replay still consumes nothing and returns nothing.
    assert!(s.sessions.delete(user.id, original.id).await.unwrap());
    let outcome = s.sessions.create_metered(&retry, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Replayed { value: None });
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
}

pub async fn sessions_are_listed_newest_first_in_pages_and_only_to_their_owner(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let new = session(ada.id, &format!("s{i}"), T0 + Duration::minutes(i));
        s.sessions.create_metered(&new, &consumption(ada.id, 0, TEN, None)).await.unwrap();
        made.push(new);
    }
    let (page, total) = s.sessions.list(ada.id, Page { limit: 2, offset: 0 }).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(page.iter().map(|x| x.title.clone().unwrap()).collect::<Vec<_>>(), ["s4", "s3"]);
    let (page, _) = s.sessions.list(ada.id, Page { limit: 2, offset: 4 }).await.unwrap();
    assert_eq!(page.iter().map(|x| x.title.clone().unwrap()).collect::<Vec<_>>(), ["s0"]);
    assert_eq!(s.sessions.list(bob.id, Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    // Another user's session: not found, not deletable.
    assert_eq!(s.sessions.get(bob.id, made[0].id).await.unwrap(), None);
    assert!(!s.sessions.delete(bob.id, made[0].id).await.unwrap());
    assert!(s.sessions.delete(ada.id, made[0].id).await.unwrap());
    assert!(!s.sessions.delete(ada.id, made[0].id).await.unwrap());
    assert_eq!(s.sessions.get(ada.id, SessionId::from_uuid(id())).await.unwrap(), None);
}

pub async fn an_unmetered_session_is_created_without_counting(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let new = session(user.id, "free of charge", T0);
    s.sessions.create(&new).await.unwrap();
    assert_eq!(s.sessions.get(user.id, new.id).await.unwrap(), Some(new));
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::ZERO);
    assert!(s.usage.list(user.id, 10).await.unwrap().is_empty());
}

fn token(user: tollgate_domain::UserId, family: uuid::Uuid, hash: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: id(),
        family_id: family,
        user_id: user,
        token_hash: hash.into(),
        expires_at: T0 + Duration::days(30),
        rotated_at: None,
        revoked_at: None,
        created_at: T0,
    }
}

pub async fn refresh_tokens_rotate_once_and_revoke_by_family(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let family = id();
    let first = token(user.id, family, "hash-1");
    s.tokens.insert(&first).await.unwrap();
    assert_eq!(s.tokens.find_by_hash("hash-1").await.unwrap(), Some(first.clone()));
    let second = token(user.id, family, "hash-2");
    assert_eq!(s.tokens.rotate(first.id, &second, T0).await.unwrap(), RotateOutcome::Rotated);
    assert_eq!(s.tokens.find_by_hash("hash-1").await.unwrap().unwrap().rotated_at, Some(T0));
    // Rotating the same token again is a reuse; nothing is inserted.
    let third = token(user.id, family, "hash-3");
    assert_eq!(s.tokens.rotate(first.id, &third, T0).await.unwrap(), RotateOutcome::AlreadyUsed);
    assert_eq!(s.tokens.find_by_hash("hash-3").await.unwrap(), None);
    s.tokens.revoke_family(family, T0 + Duration::seconds(1)).await.unwrap();
    let revoked = s.tokens.find_by_hash("hash-2").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + Duration::seconds(1)));
    assert_eq!(s.tokens.rotate(second.id, &third, T0).await.unwrap(), RotateOutcome::AlreadyUsed);
    assert_eq!(s.tokens.find_by_hash("unknown").await.unwrap(), None);
}

fn entry(event_id: &str) -> InboxEntry {
    InboxEntry {
        event_id: event_id.into(),
        event_type: "customer.subscription.updated".into(),
        created: T0,
        received_at: T0 + Duration::seconds(1),
        outcome: InboxOutcome::Processed,
    }
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
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().plan(), PlanId::Pro);
    // The same event again changes nothing, even with a change that would apply.
    let other = sub.clone();
    let other = with(&other, |p| {
        p.plan = PlanId::Basic;
        p.version = 2;
    });
    let again = SubscriptionChange { subscription: other, expected_version: 1, usage: UsageEffect::Keep };
    assert_eq!(s.inbox.record(&entry("evt_1"), Some(again)).await.unwrap(), RecordOutcome::Duplicate);
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().plan(), PlanId::Pro);
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

// ---- concurrency: many connections, one database -------------------------------------------

pub async fn sixty_four_concurrent_consumes_against_a_limit_of_ten_give_exactly_ten(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let usage = s.usage.clone();
            tokio::spawn(async move { usage.consume(&consumption(user.id, 0, TEN, None)).await })
        })
        .collect();
    let mut consumed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            ConsumeOutcome::Consumed { .. } => consumed += 1,
            ConsumeOutcome::LimitReached { runs_used } => {
                assert!(runs_used.get() <= 10);
                refused += 1
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((consumed, refused), (10, 54));
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(10));
    assert_eq!(s.usage.list(user.id, 100).await.unwrap().len(), 10);
}

pub async fn concurrent_metered_creates_make_exactly_the_allowed_sessions(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let sessions = s.sessions.clone();
            tokio::spawn(async move {
                let new = session(user.id, &format!("s{i}"), T0);
                sessions.create_metered(&new, &consumption(user.id, 0, TEN, None)).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if let ConsumeOutcome::Consumed { .. } = task.await.unwrap().unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 10);
    assert_eq!(s.sessions.list(user.id, Page { limit: 100, offset: 0 }).await.unwrap().1, 10);
}

pub async fn concurrent_requests_with_one_key_count_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let usage = s.usage.clone();
            tokio::spawn(async move { usage.consume(&consumption(user.id, 0, TEN, Some("same"))).await })
        })
        .collect();
    let mut consumed = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            ConsumeOutcome::Consumed { .. } => consumed += 1,
            ConsumeOutcome::Replayed { value: Some(_) } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(consumed, 1);
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap().unwrap().runs_used(), RunCount::new(1));
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
    let now = s.subs.get_by_user(user.id).await.unwrap().unwrap();
    assert_eq!((now.version(), now.runs_used()), (1, RunCount::new(1)));
    assert!(now.period().contains(later));
}

pub async fn concurrent_registrations_of_one_email_make_one_user(s: Subject) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let users = s.users.clone();
            tokio::spawn(async move {
                let email = if i % 2 == 0 { "ada@example.com" } else { "ADA@Example.com" };
                let u = user(email);
                let sub = tollgate_domain::Subscription::new_free(
                    tollgate_domain::SubscriptionId::from_uuid(id()),
                    u.id,
                    T0,
                );
                users.create(&u, &hash(), &sub).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(CreateUserError::DuplicateEmail) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(created, 1);
}

pub async fn service_keys_are_found_by_hash_until_revoked_and_names_are_unique(s: Subject) {
    let key = ServiceKey {
        id: id(),
        name: "agents".into(),
        key_hash: "hash-1".into(),
        created_at: T0,
        revoked_at: None,
    };
    s.service_keys.create(&key).await.unwrap();
    let taken = ServiceKey { id: id(), key_hash: "hash-2".into(), ..key.clone() };
    assert!(matches!(s.service_keys.create(&taken).await, Err(CreateServiceKeyError::DuplicateName)));
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), Some(key.clone()));
    assert_eq!(s.service_keys.find_active("hash-2").await.unwrap(), None);
    assert!(s.service_keys.revoke("agents", T0 + Duration::seconds(1)).await.unwrap());
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), None);
    // Revoking again keeps the first time; an unknown name is reported.
    assert!(s.service_keys.revoke("agents", T0 + Duration::seconds(9)).await.unwrap());
    assert!(!s.service_keys.revoke("nobody", T0).await.unwrap());
    let listed = s.service_keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(T0 + Duration::seconds(1)));
}
