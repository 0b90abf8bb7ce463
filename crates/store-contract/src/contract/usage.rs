//! Consumptions: the limit, idempotency keys, refunds.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::AccountId;
use tollgate_domain::{RunCount, UsageEffect};
use tollgate_ports::{
    ConsumeOutcome, Consumption, IdempotencyKey, RefundOutcome, SettleOutcome, UsageReason,
};

use crate::fixtures::{consumption, hold, id, registered, used_and_reserved, T0, TEN};
use crate::Subject;

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
    let records = s.usage.list(AccountId::personal(user.id), 10).await.unwrap();
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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::ZERO
    );
    assert!(s.usage.list(AccountId::personal(user.id), 10).await.unwrap().is_empty());
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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
}

pub async fn a_refund_gives_the_runs_back_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let c = consumption(user.id, 0, TEN, None);
    s.usage.consume(&c).await.unwrap();
    s.usage.consume(&consumption(user.id, 0, TEN, None)).await.unwrap();
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::Refunded { runs: 1 });
    assert_eq!(s.usage.refund(c.record_id).await.unwrap(), RefundOutcome::AlreadyRefunded);
    assert_eq!(s.usage.refund(id()).await.unwrap(), RefundOutcome::NotFound);
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
    let records = s.usage.list(AccountId::personal(user.id), 10).await.unwrap();
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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
}

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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(10)
    );
    assert_eq!(s.usage.list(AccountId::personal(user.id), 100).await.unwrap().len(), 10);
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
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
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
