//! The contract every store must meet. Each function is one test, run against each store.
#![allow(clippy::unwrap_used, reason = "contract tests fail loudly")]

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::Trial;
use tollgate_domain::{Email, Period, PlanId, RunCount, SessionId, SubscriptionStatus, UsageEffect};
use tollgate_domain::{Role, UserId};
use tollgate_ports::outbound::{
    AuditAction, AuditEntry, ConsumeOutcome, Consumption, CreateServiceKeyError, CreateUserError,
    IdempotencyKey, InboxEntry, InboxOutcome, Page, RecordOutcome, RefreshTokenRecord, RefundOutcome,
    ReservationStatus, RotateOutcome, ServiceKey, SettleOutcome, SubscriptionChange, UpdateSubscriptionError,
    UsageReason,
};

use crate::fixtures::{consumption, hash, id, registered, session, user, with, T0};
use crate::Subject;
use uuid::Uuid;

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
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::Refunded { runs: 1 });
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
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::Refunded { runs: 1 });
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
        prefix: Some("tgk_AbCdEfGh".into()),
        last_used_at: None,
    };
    let entry = |action| AuditEntry {
        id: id(),
        actor: "cli:ops".into(),
        action,
        target_user_id: None,
        before: None,
        after: Some(serde_json::json!({ "service_key": "agents" })),
        reason: None,
        request_id: None,
        at: T0,
    };
    s.service_keys.create(&key, &entry(AuditAction::CreateKey)).await.unwrap();
    let taken = ServiceKey { id: id(), key_hash: "hash-2".into(), ..key.clone() };
    let refused = s.service_keys.create(&taken, &entry(AuditAction::CreateKey)).await;
    assert!(matches!(refused, Err(CreateServiceKeyError::DuplicateName)));
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), Some(key.clone()));
    assert_eq!(s.service_keys.find_active("hash-2").await.unwrap(), None);
    // The last use is written once per window: a second touch inside it changes nothing.
    let used = T0 + Duration::seconds(30);
    s.service_keys.touch(key.id, used, used - Duration::minutes(1)).await.unwrap();
    let later = used + Duration::seconds(20);
    s.service_keys.touch(key.id, later, later - Duration::minutes(1)).await.unwrap();
    let found = s.service_keys.find_active("hash-1").await.unwrap().expect("active");
    assert_eq!((found.prefix.as_deref(), found.last_used_at), (Some("tgk_AbCdEfGh"), Some(used)));
    let next = used + Duration::minutes(2);
    s.service_keys.touch(key.id, next, next - Duration::minutes(1)).await.unwrap();
    let key = ServiceKey { last_used_at: Some(next), ..key };
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), Some(key.clone()));
    assert!(s
        .service_keys
        .revoke("agents", T0 + Duration::seconds(1), &entry(AuditAction::RevokeKey))
        .await
        .unwrap());
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), None);
    // Revoking again keeps the first time; an unknown name is reported (and not audited).
    assert!(s
        .service_keys
        .revoke("agents", T0 + Duration::seconds(9), &entry(AuditAction::RevokeKey))
        .await
        .unwrap());
    assert!(!s.service_keys.revoke("nobody", T0, &entry(AuditAction::RevokeKey)).await.unwrap());
    // Each change is audited with it; the refused create and the unknown name wrote nothing.
    let (log, total) = s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap();
    let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
    assert_eq!(total, 3, "{actions:?}");
    assert_eq!(actions, [AuditAction::RevokeKey, AuditAction::RevokeKey, AuditAction::CreateKey]);
    let listed = s.service_keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(T0 + Duration::seconds(1)));
}

fn hold(
    user: tollgate_domain::UserId,
    version: i64,
    limit: RunLimit,
    runs: u32,
    key: Option<&str>,
) -> Consumption {
    Consumption { units: RunCount::new(runs), ..consumption(user, version, limit, key) }
}

/// A metered write's outcome, by kind: its runs used after, or the id a replay answered with.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Consumed(u32),
    Replayed(Option<Uuid>),
    Mismatch,
    LimitReached(u32),
    Stale,
}

fn got<T>(outcome: ConsumeOutcome<T>, id: impl Fn(T) -> Uuid) -> Got {
    match outcome {
        ConsumeOutcome::Consumed { runs_used, .. } => Got::Consumed(runs_used.get()),
        ConsumeOutcome::Replayed { value } => Got::Replayed(value.map(id)),
        ConsumeOutcome::KeyMismatch => Got::Mismatch,
        ConsumeOutcome::LimitReached { runs_used } => Got::LimitReached(runs_used.get()),
        ConsumeOutcome::StaleState => Got::Stale,
    }
}

/// Writes queued together (the store may apply them in one transaction) are each decided as if
/// they had come one by one, in the order they arrived: the limit counts the writes before them,
/// a key taken earlier in the same batch replays, a stale version or another fingerprint is
/// refused, and only what was answered as counted is written.
pub async fn metered_writes_arriving_together_are_decided_in_arrival_order(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let (ada, bob) = (ada.id, bob.id);
    let three = RunLimit::Limited(RunCount::new(3));
    let later = T0 + Duration::minutes(5);
    let keyed = |user, key: &str, fingerprint: &str| Consumption {
        idempotency_key: IdempotencyKey::parse(key).map(|k| k.for_request(fingerprint)),
        ..consumption(user, 0, TEN, None)
    };
    let paid = session(bob, "paid", T0);
    let (first_record, first_hold) = (keyed(bob, "k", "one"), hold(bob, 0, TEN, 2, Some("h")));
    let consume = |c: Consumption| {
        let usage = s.usage.clone();
        Box::pin(async move { got(usage.consume(&c).await.unwrap(), |id| id) })
            as futures_util::future::BoxFuture<'static, Got>
    };
    let create = |session: tollgate_ports::outbound::Session, c: Consumption| {
        let sessions = s.sessions.clone();
        Box::pin(
            async move { got(sessions.create_metered(&session, &c).await.unwrap(), |s| *s.id.as_uuid()) },
        ) as futures_util::future::BoxFuture<'static, Got>
    };
    let reserve = |c: Consumption| {
        let reservations = s.reservations.clone();
        Box::pin(async move { got(reservations.hold(&c, later).await.unwrap(), |r| r.id) })
            as futures_util::future::BoxFuture<'static, Got>
    };
    let writes = vec![
        consume(consumption(ada, 0, three, None)),
        reserve(hold(ada, 0, three, 1, None)),
        consume(consumption(ada, 0, three, None)),
        consume(consumption(ada, 0, three, None)),
        consume(consumption(ada, 7, three, None)),
        consume(first_record.clone()),
        consume(keyed(bob, "k", "one")),
        consume(keyed(bob, "k", "two")),
        create(paid.clone(), consumption(bob, 0, TEN, Some("s"))),
        create(session(bob, "again", T0), consumption(bob, 0, TEN, Some("s"))),
        reserve(first_hold.clone()),
        reserve(hold(bob, 0, TEN, 2, Some("h"))),
    ];
    let outcomes = futures_util::future::join_all(writes).await;
    assert_eq!(
        outcomes,
        vec![
            Got::Consumed(1),
            Got::Consumed(1),
            Got::Consumed(2),
            // 2 used + 1 held + 1 > 3.
            Got::LimitReached(2),
            Got::Stale,
            Got::Consumed(1),
            Got::Replayed(Some(first_record.record_id)),
            Got::Mismatch,
            Got::Consumed(2),
            Got::Replayed(Some(*paid.id.as_uuid())),
            Got::Consumed(2),
            Got::Replayed(Some(first_hold.record_id)),
        ]
    );
    assert_eq!(used_and_reserved(&s, ada).await, (2, 1));
    assert_eq!(used_and_reserved(&s, bob).await, (2, 2));
    assert_eq!(s.usage.list(ada, 10).await.unwrap().len(), 2);
    assert_eq!(s.usage.list(bob, 10).await.unwrap().len(), 2);
    let (sessions, total) = s.sessions.list(bob, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((sessions, total), (vec![paid], 1));
}

/// A write that cannot be written (here: a session id already taken) fails alone: the writes
/// queued with it are counted and answered as usual, and it counts nothing.
pub async fn a_metered_write_that_fails_fails_alone(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let taken = session(ada.id, "taken", T0);
    s.sessions.create(&taken).await.unwrap();
    let writes = (0..8).map(|i| {
        let sessions = s.sessions.clone();
        let session = if i == 3 { taken.clone() } else { session(ada.id, "new", T0) };
        async move { sessions.create_metered(&session, &consumption(ada.id, 0, TEN, None)).await }
    });
    let outcomes = futures_util::future::join_all(writes).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Err(_) if i == 3 => {}
            Ok(ConsumeOutcome::Consumed { .. }) if i != 3 => {}
            other => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(used_and_reserved(&s, ada.id).await, (7, 0));
    assert_eq!(s.usage.list(ada.id, 10).await.unwrap().len(), 7);
    assert_eq!(s.sessions.list(ada.id, Page { limit: 10, offset: 0 }).await.unwrap().1, 8);
}

/// Commits queued together (the store may settle them in one transaction) are each settled as if
/// they had come one by one: a repeat is `Already`, more runs than held are refused, a released or
/// unknown reservation is not committed, a hold past its expiry expires; only the settled ones
/// are written.
pub async fn reservation_commits_arriving_together_are_settled_in_arrival_order(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let (later, soon, at) =
        (T0 + Duration::minutes(5), T0 + Duration::seconds(30), T0 + Duration::minutes(1));
    let holds = [
        (ada.id, 3, later),
        (ada.id, 2, later),
        (ada.id, 1, later),
        (bob.id, 4, later),
        (bob.id, 1, later),
        (ada.id, 1, soon),
    ];
    let mut ids = Vec::new();
    for (user, runs, expires_at) in holds {
        let c = hold(user, 0, TEN, runs, None);
        let held = s.reservations.hold(&c, expires_at).await.unwrap();
        assert!(matches!(held, ConsumeOutcome::Consumed { .. }), "{held:?}");
        ids.push(c.record_id);
    }
    let [a1, a2, a3, b1, b2, a4] = ids[..] else { unreachable!() };
    assert!(matches!(s.reservations.release(b2, at).await.unwrap(), SettleOutcome::Done(_)));
    let commit = |reservation: Uuid, runs: Option<u32>| {
        let reservations = s.reservations.clone();
        async move { reservations.commit(reservation, runs.map(RunCount::new), id(), at).await.unwrap() }
    };
    let outcomes = futures_util::future::join_all([
        commit(a1, Some(2)),
        commit(a1, Some(2)),
        commit(a2, Some(5)),
        commit(a3, Some(0)),
        commit(b1, None),
        commit(b2, Some(1)),
        commit(id(), None),
        commit(a4, Some(1)),
    ])
    .await;
    let kind = |o: &SettleOutcome| match o {
        SettleOutcome::Done(r) => format!("done {:?} {:?}", r.status, r.committed_runs.map(|n| n.get())),
        SettleOutcome::Already(r) => format!("already {:?}", r.status),
        SettleOutcome::Conflict(r) => format!("conflict {:?}", r.status),
        SettleOutcome::TooManyRuns(r) => format!("too many {:?}", r.status),
        SettleOutcome::NotFound => "not found".to_owned(),
    };
    assert_eq!(
        outcomes.iter().map(kind).collect::<Vec<_>>(),
        [
            "done Committed Some(2)",
            "already Committed",
            "too many Held",
            "done Committed Some(0)",
            "done Committed Some(4)",
            "conflict Released",
            "not found",
            "conflict Expired",
        ]
    );
    // What a commit answers is what is stored.
    let SettleOutcome::Done(answered) = &outcomes[0] else { unreachable!() };
    assert_eq!(Some(answered), s.reservations.get(a1).await.unwrap().as_ref());
    assert_eq!(used_and_reserved(&s, ada.id).await, (2, 2));
    assert_eq!(used_and_reserved(&s, bob.id).await, (4, 0));
    let charged = |user| {
        let usage = s.usage.clone();
        async move { usage.list(user, 10).await.unwrap().iter().map(|r| r.units).collect::<Vec<_>>() }
    };
    assert_eq!(charged(ada.id).await, [2]);
    assert_eq!(charged(bob.id).await, [4]);
}

async fn used_and_reserved(s: &Subject, user: tollgate_domain::UserId) -> (u32, u32) {
    let sub = s.subs.get_by_user(user).await.unwrap().unwrap();
    (sub.runs_used().get(), sub.runs_reserved().get())
}

pub async fn a_hold_counts_against_the_limit_and_a_commit_charges_only_what_it_cost(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(15);
    let first = hold(user.id, 0, TEN, 6, None);
    assert!(matches!(s.reservations.hold(&first, later).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 6));
    // 6 held + 5 > 10: refused; a consumption of 5 too.
    let refused = s.reservations.hold(&hold(user.id, 0, TEN, 5, None), later).await.unwrap();
    assert!(matches!(refused, ConsumeOutcome::LimitReached { .. }), "{refused:?}");
    let consume5 = Consumption { units: RunCount::new(5), ..consumption(user.id, 0, TEN, None) };
    assert!(matches!(s.usage.consume(&consume5).await.unwrap(), ConsumeOutcome::LimitReached { .. }));
    // Commit 2 of the 6: 2 used, 0 held; a usage record of 2 for the reservation.
    let done = s.reservations.commit(first.record_id, Some(RunCount::new(2)), id(), T0).await.unwrap();
    assert!(
        matches!(&done, SettleOutcome::Done(r) if r.status == ReservationStatus::Committed && r.committed_runs == Some(RunCount::new(2)))
    );
    assert_eq!(used_and_reserved(&s, user.id).await, (2, 0));
    let records = s.usage.list(user.id, 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].units, records[0].resource_id), (2, Some(first.record_id)));
    // Settled once: a repeat is `Already`, a release `Conflict`, more than held `TooManyRuns`.
    assert!(matches!(
        s.reservations.commit(first.record_id, None, id(), T0).await.unwrap(),
        SettleOutcome::Already(_)
    ));
    assert!(matches!(s.reservations.release(first.record_id, T0).await.unwrap(), SettleOutcome::Conflict(_)));
    assert_eq!(used_and_reserved(&s, user.id).await, (2, 0));
    let second = hold(user.id, 0, TEN, 3, None);
    s.reservations.hold(&second, later).await.unwrap();
    let too_many = s.reservations.commit(second.record_id, Some(RunCount::new(4)), id(), T0).await.unwrap();
    assert!(matches!(too_many, SettleOutcome::TooManyRuns(_)));
    assert!(matches!(s.reservations.commit(id(), None, id(), T0).await.unwrap(), SettleOutcome::NotFound));
}

pub async fn a_release_gives_every_held_run_back_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let h = hold(user.id, 0, TEN, 4, None);
    s.reservations.hold(&h, T0 + Duration::minutes(1)).await.unwrap();
    assert!(matches!(s.reservations.release(h.record_id, T0).await.unwrap(), SettleOutcome::Done(_)));
    assert!(matches!(s.reservations.release(h.record_id, T0).await.unwrap(), SettleOutcome::Already(_)));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
    let commit = s.reservations.commit(h.record_id, None, id(), T0).await.unwrap();
    assert!(matches!(commit, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Released));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
}

pub async fn an_expired_hold_comes_back_once_whoever_expires_it(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let (a, b) = (hold(user.id, 0, TEN, 3, None), hold(user.id, 0, TEN, 2, None));
    s.reservations.hold(&a, T0 + Duration::seconds(10)).await.unwrap();
    s.reservations.hold(&b, T0 + Duration::hours(1)).await.unwrap();
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 5));
    assert_eq!(s.reservations.count_held(T0).await.unwrap(), 2);
    let at = T0 + Duration::seconds(11);
    // Past its expiry a hold holds nothing, swept or not.
    assert_eq!(s.reservations.count_held(at).await.unwrap(), 1);
    // Two sweeps and a lazy expiry at once: `a` expires once.
    let (x, y, z) = tokio::join!(
        s.reservations.expire_due(at),
        s.reservations.expire_due(at),
        s.subs.expire_holds(user.id, at)
    );
    let expired = x.unwrap() + y.unwrap();
    assert_eq!(expired + u64::from(z.unwrap().min(1)), 1, "one hold expired once");
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 2));
    let late = s.reservations.commit(a.record_id, None, id(), at).await.unwrap();
    assert!(matches!(late, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Expired));
    // A hold found past its expiry by a commit expires then, and is never committed.
    let later = T0 + Duration::hours(2);
    let late = s.reservations.commit(b.record_id, None, id(), later).await.unwrap();
    assert!(matches!(late, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Expired));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
    assert_eq!(s.reservations.expire_due(later).await.unwrap(), 0);
}

pub async fn a_repeated_key_answers_the_first_hold(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let first = hold(user.id, 0, TEN, 2, Some("job-1"));
    let held = s.reservations.hold(&first, later).await.unwrap();
    let ConsumeOutcome::Consumed { value, .. } = held else { panic!("{held:?}") };
    let again = s.reservations.hold(&hold(user.id, 0, TEN, 2, Some("job-1")), later).await.unwrap();
    assert_eq!(again, ConsumeOutcome::Replayed { value: Some(value) });
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 2));
}

pub async fn sixty_four_concurrent_holds_against_a_limit_of_ten_hold_exactly_ten(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (s, user) = (s.clone(), user.id);
            tokio::spawn(
                async move { s.reservations.hold(&hold(user, 0, TEN, 1, None), later).await.unwrap() },
            )
        })
        .collect();
    let mut held = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), ConsumeOutcome::Consumed { .. }) {
            held += 1;
        }
    }
    assert_eq!(held, 10);
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 10));
}

/// Random interleavings (eight seeds, 150 steps each) of holds, commits, releases, expiries and
/// consumptions: after every step used + reserved stays within the limit and every run is
/// accounted for.
pub async fn any_interleaving_of_holds_and_consumptions_never_oversells_and_conserves_runs(s: Subject) {
    for seed in 0..8u64 {
        interleaving(&s, seed).await;
    }
}

async fn interleaving(s: &Subject, seed: u64) {
    let (user, _) = registered(s, &format!("ada{seed}@example.com")).await;
    let limit = RunLimit::limited(20);
    let mut seed: u64 = 0x5EED ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut now = T0;
    let mut open: Vec<(uuid::Uuid, u32)> = Vec::new();
    let (mut charged, mut refused) = (0u32, 0u32);
    for _ in 0..150 {
        now += Duration::seconds(1);
        match next(5) {
            0 => {
                let h = hold(user.id, 0, limit, 1 + next(4) as u32, None);
                match s.reservations.hold(&h, now + Duration::seconds(1 + next(20) as i64)).await.unwrap() {
                    ConsumeOutcome::Consumed { .. } => open.push((h.record_id, h.units.get())),
                    _ => refused += 1,
                }
            }
            1 if !open.is_empty() => {
                let (rid, runs) = open.swap_remove(next(open.len() as u64) as usize);
                let cost = next(u64::from(runs) + 1) as u32;
                if let SettleOutcome::Done(_) =
                    s.reservations.commit(rid, Some(RunCount::new(cost)), id(), now).await.unwrap()
                {
                    charged += cost;
                }
            }
            2 if !open.is_empty() => {
                let (rid, _) = open.swap_remove(next(open.len() as u64) as usize);
                s.reservations.release(rid, now).await.unwrap();
            }
            3 => {
                s.reservations.expire_due(now).await.unwrap();
            }
            _ => {
                let c = Consumption {
                    units: RunCount::new(1 + next(3) as u32),
                    at: now,
                    ..consumption(user.id, 0, limit, None)
                };
                match s.usage.consume(&c).await.unwrap() {
                    ConsumeOutcome::Consumed { .. } => charged += c.units.get(),
                    _ => refused += 1,
                }
            }
        }
        let (used, reserved) = used_and_reserved(s, user.id).await;
        assert!(used + reserved <= 20, "oversold: {used} used + {reserved} reserved");
        assert_eq!(used, charged, "every charged run is counted, nothing else");
    }
    // Everything still held expires; then nothing is held and the charges are all that remain.
    s.reservations.expire_due(now + Duration::hours(1)).await.unwrap();
    assert_eq!(used_and_reserved(s, user.id).await, (charged, 0));
    assert!(refused > 0, "the sequence reached the limit");
}

pub async fn concurrent_holds_with_one_key_hold_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (s, user) = (s.clone(), user.id);
            tokio::spawn(async move {
                s.reservations.hold(&hold(user, 0, TEN, 3, Some("job-9")), later).await.unwrap()
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            ConsumeOutcome::Consumed { value, .. } | ConsumeOutcome::Replayed { value: Some(value) } => {
                ids.insert(value.id);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids.len(), 1, "every request answers the one hold");
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 3));
}

/// Housekeeping on two replicas at once: every row past its cutoff is deleted exactly once, and
/// nothing younger (or still needed) is touched.
pub async fn two_concurrent_purges_delete_each_old_row_once_and_nothing_too_early(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let day = Duration::days(1);
    // Refresh tokens: one expired, one valid.
    let mut expired = token(user.id, id(), "old");
    expired.expires_at = T0 - day;
    s.tokens.insert(&expired).await.unwrap();
    s.tokens.insert(&token(user.id, id(), "fresh")).await.unwrap();
    // Reservations: released 10 days ago, released today, committed 10 days ago, held.
    let old_at = T0 - Duration::days(10);
    let place = |runs: u32| hold(user.id, 0, TEN, runs, None);
    let (old_released, new_released, old_committed, held) = (place(1), place(1), place(1), place(1));
    for (h, at) in [(&old_released, old_at), (&new_released, T0), (&old_committed, old_at), (&held, T0)] {
        let h = Consumption { at, ..h.clone() };
        s.reservations.hold(&h, at + Duration::hours(1)).await.unwrap();
    }
    s.reservations.release(old_released.record_id, old_at).await.unwrap();
    s.reservations.release(new_released.record_id, T0).await.unwrap();
    s.reservations.commit(old_committed.record_id, None, id(), old_at).await.unwrap();
    // Inbox: one entry received 100 days ago, one now.
    let old_event = InboxEntry { received_at: T0 - Duration::days(100), ..entry("evt_old") };
    s.inbox.record(&old_event, None).await.unwrap();
    s.inbox.record(&entry("evt_new"), None).await.unwrap();
    // Keys: a consumption keyed 10 days ago stops replaying, one keyed today still does.
    let old_keyed = Consumption { at: old_at, ..consumption(user.id, 0, TEN, Some("old-key")) };
    s.usage.consume(&old_keyed).await.unwrap();
    s.usage.consume(&consumption(user.id, 0, TEN, Some("new-key"))).await.unwrap();
    let cutoffs = tollgate_ports::outbound::PurgeCutoffs {
        refresh_tokens_expired_before: T0,
        reservations_settled_before: T0 - Duration::days(7),
        inbox_received_before: T0 - Duration::days(90),
        idempotency_keys_before: T0 - Duration::days(7),
    };
    let (a, b) = tokio::join!(s.housekeeping.purge(cutoffs), s.housekeeping.purge(cutoffs));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.refresh_tokens + b.refresh_tokens, 1);
    assert_eq!(a.reservations + b.reservations, 1);
    assert_eq!(a.inbox_entries + b.inbox_entries, 1);
    assert_eq!(s.tokens.find_by_hash("old").await.unwrap(), None);
    assert!(s.tokens.find_by_hash("fresh").await.unwrap().is_some());
    assert_eq!(s.reservations.get(old_released.record_id).await.unwrap(), None);
    for kept in [new_released.record_id, old_committed.record_id, held.record_id] {
        assert!(s.reservations.get(kept).await.unwrap().is_some(), "{kept} was deleted too early");
    }
    assert!(!s.inbox.contains("evt_old").await.unwrap());
    assert!(s.inbox.contains("evt_new").await.unwrap());
    // The old committed hold and the old consumption forgot their keys; today's did not.
    assert_eq!(a.idempotency_keys + b.idempotency_keys, 1, "only the consumption's key was old");
    let (used, _) = used_and_reserved(&s, user.id).await;
    let again = s.usage.consume(&consumption(user.id, 0, TEN, Some("old-key"))).await.unwrap();
    assert!(matches!(again, ConsumeOutcome::Consumed { .. }), "an expired key charges anew: {again:?}");
    let replay = s.usage.consume(&consumption(user.id, 0, TEN, Some("new-key"))).await.unwrap();
    assert!(matches!(replay, ConsumeOutcome::Replayed { .. }), "{replay:?}");
    assert_eq!(used_and_reserved(&s, user.id).await.0, used + 1);
    // Again: nothing left to delete.
    assert_eq!(s.housekeeping.purge(cutoffs).await.unwrap(), tollgate_ports::outbound::Purged::default());
}

fn audit(action: AuditAction, target: UserId, at: tollgate_domain::Timestamp) -> AuditEntry {
    AuditEntry {
        id: id(),
        actor: "cli:root".into(),
        action,
        target_user_id: Some(target),
        before: Some(serde_json::json!({ "plan": "free" })),
        after: Some(serde_json::json!({ "plan": "pro", "runs_limit_override": null })),
        reason: Some("support ticket 42".into()),
        request_id: Some("req-7".into()),
        at,
    }
}

pub async fn an_admin_change_and_its_audit_entry_are_written_together_or_not_at_all(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let changed = with(&sub, |p| {
        p.plan = PlanId::Pro;
        p.runs_granted = RunCount::new(5);
        p.version = 1;
    });
    let entry = audit(AuditAction::SetPlan, user.id, T0 + Duration::seconds(1));
    // A stale version: neither the change nor its entry.
    let err = s.admin.update_subscription_audited(&changed, 9, UsageEffect::Keep, &entry).await.unwrap_err();
    assert!(matches!(err, UpdateSubscriptionError::Conflict), "{err:?}");
    assert_eq!(s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap(), Some(sub));
    s.admin.update_subscription_audited(&changed, 0, UsageEffect::Keep, &entry).await.unwrap();
    assert_eq!(s.subs.get_by_user(user.id).await.unwrap(), Some(changed));
    assert_eq!(s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap(), (vec![entry], 1));
}

pub async fn a_role_change_is_audited_and_an_unknown_user_writes_nothing(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let first = audit(AuditAction::SetRole, user.id, T0 + Duration::seconds(1));
    assert!(s.admin.set_role_audited(user.id, Role::Admin, &first).await.unwrap());
    assert_eq!(s.users.find_by_id(user.id).await.unwrap().unwrap().role, Role::Admin);
    let nobody = UserId::from_uuid(id());
    assert!(!s
        .admin
        .set_role_audited(nobody, Role::Admin, &audit(AuditAction::SetRole, nobody, T0))
        .await
        .unwrap());
    let second = AuditEntry {
        reason: None,
        before: None,
        ..audit(AuditAction::GrantRuns, user.id, T0 + Duration::seconds(2))
    };
    s.admin.set_role_audited(user.id, Role::User, &second).await.unwrap();
    // Newest first, paged.
    let (page, total) = s.admin.audit_log(Page { limit: 1, offset: 0 }).await.unwrap();
    assert_eq!((page, total), (vec![second], 2));
    assert_eq!(s.admin.audit_log(Page { limit: 1, offset: 1 }).await.unwrap().0, vec![first]);
}

pub async fn users_are_searched_by_email_or_name_with_wildcards_taken_literally(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (grace, _) = registered(&s, "grace_h@navy.mil").await;
    let (graceful, _) = registered(&s, "graceXh@navy.mil").await;
    let page = Page { limit: 10, offset: 0 };
    let ids = |found: (Vec<tollgate_domain::User>, u64)| {
        (found.0.into_iter().map(|u| u.id).collect::<Vec<_>>(), found.1)
    };
    assert_eq!(ids(s.admin.search_users(None, page).await.unwrap()).1, 3);
    assert_eq!(ids(s.admin.search_users(Some("ADA@".into()), page).await.unwrap()), (vec![ada.id], 1));
    // `_` is a character here, not "any character".
    assert_eq!(ids(s.admin.search_users(Some("grace_".into()), page).await.unwrap()), (vec![grace.id], 1));
    assert_eq!(ids(s.admin.search_users(Some("%".into()), page).await.unwrap()), (vec![], 0));
    // The fixture's name is "Ada Lovelace" for everyone.
    assert_eq!(ids(s.admin.search_users(Some("lovelace".into()), page).await.unwrap()).1, 3);
    let (second, total) =
        s.admin.search_users(Some("navy".into()), Page { limit: 1, offset: 1 }).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(second.len(), 1);
    assert!(second[0].id == grace.id || second[0].id == graceful.id);
}

/// SPEC §12.1: a key whose charge was refunded, or whose hold was released or expired, no longer
/// replays: the next request with it is charged (or held) anew. A key with a standing charge or a
/// committed hold still replays.
pub async fn a_refunded_or_released_or_expired_key_charges_anew(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    // Consumption: refunded, then the same key consumes again.
    let first = consumption(user.id, 0, TEN, Some("job-1"));
    assert!(matches!(s.usage.consume(&first).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    assert!(matches!(
        s.usage.consume(&consumption(user.id, 0, TEN, Some("job-1"))).await.unwrap(),
        ConsumeOutcome::Replayed { .. }
    ));
    assert_eq!(s.usage.refund(first.record_id).await.unwrap(), RefundOutcome::Refunded { runs: 1 });
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
    let second = consumption(user.id, 0, TEN, Some("job-1"));
    let again = s.usage.consume(&second).await.unwrap();
    assert_eq!(again, ConsumeOutcome::Consumed { value: second.record_id, runs_used: RunCount::new(1) });
    // Hold: released, then the same key holds again.
    let later = T0 + Duration::minutes(15);
    let held = hold(user.id, 0, TEN, 2, Some("hold-1"));
    assert!(matches!(s.reservations.hold(&held, later).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    s.reservations.release(held.record_id, T0).await.unwrap();
    let rehold = hold(user.id, 0, TEN, 2, Some("hold-1"));
    let outcome = s.reservations.hold(&rehold, later).await.unwrap();
    assert!(matches!(outcome, ConsumeOutcome::Consumed { .. }), "a released key holds anew: {outcome:?}");
    assert_eq!(used_and_reserved(&s, user.id).await, (1, 2));
    // Expired (by the sweep), then the same key holds again.
    assert_eq!(s.reservations.expire_due(later).await.unwrap(), 1);
    let after = hold(user.id, 0, TEN, 2, Some("hold-1"));
    let outcome =
        s.reservations.hold(&Consumption { at: later, ..after.clone() }, later + Duration::minutes(15)).await;
    assert!(matches!(outcome.unwrap(), ConsumeOutcome::Consumed { .. }), "an expired key holds anew");
    // Committed: the key replays; its commit refunded, it holds anew.
    let record = id();
    assert!(matches!(
        s.reservations.commit(after.record_id, None, record, later).await.unwrap(),
        SettleOutcome::Done(_)
    ));
    let replay =
        s.reservations.hold(&hold(user.id, 0, TEN, 2, Some("hold-1")), later + Duration::minutes(15)).await;
    assert!(matches!(replay.unwrap(), ConsumeOutcome::Replayed { .. }), "a committed hold replays");
    assert_eq!(s.usage.refund(record).await.unwrap(), RefundOutcome::Refunded { runs: 2 });
    let last =
        s.reservations.hold(&hold(user.id, 0, TEN, 2, Some("hold-1")), later + Duration::minutes(15)).await;
    assert!(matches!(last.unwrap(), ConsumeOutcome::Consumed { .. }), "a refunded commit's key holds anew");
    assert_eq!(used_and_reserved(&s, user.id).await, (1, 2));
}

/// A purge of more rows than one chunk deletes them all, in chunks, while metered writes go on
/// between chunks; both finish and every count is exact.
pub async fn a_large_purge_goes_in_chunks_beside_metered_writes(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let chunk = u64::try_from(tollgate_ports::outbound::PURGE_CHUNK).unwrap();
    let expired_tokens = chunk * 2 + 17;
    for n in 0..expired_tokens {
        let mut t = token(user.id, id(), &format!("old-{n}"));
        t.expires_at = T0 - Duration::days(1);
        s.tokens.insert(&t).await.unwrap();
    }
    let cutoffs = tollgate_ports::outbound::PurgeCutoffs {
        refresh_tokens_expired_before: T0,
        reservations_settled_before: T0 - Duration::days(7),
        inbox_received_before: T0 - Duration::days(90),
        idempotency_keys_before: T0 - Duration::days(7),
    };
    let unlimited = RunLimit::Unlimited;
    let metered = async {
        let mut consumed = 0u32;
        for _ in 0..200 {
            if let ConsumeOutcome::Consumed { .. } =
                s.usage.consume(&consumption(user.id, 0, unlimited, None)).await.unwrap()
            {
                consumed += 1;
            }
        }
        consumed
    };
    let (purged, consumed) = tokio::join!(s.housekeeping.purge(cutoffs), metered);
    assert_eq!(purged.unwrap().refresh_tokens, expired_tokens);
    assert_eq!(consumed, 200);
    assert_eq!(used_and_reserved(&s, user.id).await, (200, 0));
    assert_eq!(s.housekeeping.purge(cutoffs).await.unwrap(), tollgate_ports::outbound::Purged::default());
}
