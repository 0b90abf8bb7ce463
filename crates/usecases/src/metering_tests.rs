use std::sync::Arc;

use time::Duration;
use tollgate_domain::plan::{RunCount, RunLimit};
use tollgate_domain::quota::Refusal;
use tollgate_domain::{SubscriptionStatus, UsageEffect};
use uuid::Uuid;

use super::*;
use crate::test_support::{self as ts, free_sub, outage};
use tollgate_ports::{
    MockSubscriptionRepository, MockUsageRepository, Payer, RefundOutcome, UpdateSubscriptionError,
    UsageReason,
};

fn service(subs: MockSubscriptionRepository, usage: MockUsageRepository) -> MeteringService {
    MeteringService::new(Arc::new(subs), Arc::new(usage), ts::policy(), ts::clock(), ts::ids())
}

fn subs_returning(sub: tollgate_domain::Subscription) -> MockSubscriptionRepository {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(move |_| Ok(Some(sub.clone())));
    subs
}

fn key(k: &str) -> Option<IdempotencyKey> {
    IdempotencyKey::parse(k)
}

#[tokio::test]
async fn a_run_within_the_limit_is_enforced_by_the_store_and_reports_the_new_usage() {
    let mut usage = MockUsageRepository::new();
    usage
        .expect_consume()
        .withf(|c| {
            c.limit == RunLimit::limited(10)
                && c.expected_version == 3
                && c.units == RunCount::new(1)
                && c.reason == UsageReason::Route("test".into())
                && c.user_id == Some(ts::user_id())
        })
        .times(1)
        .returning(|c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(5) }));
    let metered = service(subs_returning(free_sub(4)), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("test".into()))
        .await
        .expect("consumed");
    assert!(!metered.replayed);
    assert_eq!(metered.quota.runs_used, RunCount::new(5));
    assert_eq!(metered.quota.remaining(), Some(5));
}

#[tokio::test]
async fn a_spent_quota_is_refused_without_touching_the_store() {
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().times(0);
    let err = service(subs_returning(free_sub(10)), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("test".into()))
        .await
        .expect_err("refused");
    match err {
        MeterError::Refused { reason, quota } => {
            assert_eq!(reason, Refusal::LimitReached);
            assert_eq!(quota.runs_used, RunCount::new(10));
            assert_eq!(quota.resets_at, free_sub(0).period().end());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn an_unpaid_subscription_is_refused_as_inactive() {
    let sub = free_sub(0);
    let sub = ts::with(&sub, |p| {
        p.status = SubscriptionStatus::Unpaid;
    });
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().times(0);
    let err = service(subs_returning(sub), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await;
    assert!(matches!(err, Err(MeterError::Refused { reason: Refusal::Inactive, .. })));
}

#[tokio::test]
async fn the_store_refusing_a_concurrent_overspend_becomes_limit_reached() {
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().returning(|_| Ok(ConsumeOutcome::LimitReached { runs_used: RunCount::new(10) }));
    let err = service(subs_returning(free_sub(9)), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await;
    assert!(
        matches!(err, Err(MeterError::Refused { reason: Refusal::LimitReached, quota }) if quota.runs_used == RunCount::new(10))
    );
}

#[tokio::test]
async fn a_decision_made_on_stale_state_is_retried_on_the_new_state() {
    let mut subs = MockSubscriptionRepository::new();
    let mut seq = mockall::Sequence::new();
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(2))));
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| {
        let sub = free_sub(2);
        let sub = ts::with(&sub, |p| {
            p.version = 4;
        });
        Ok(Some(sub))
    });
    let mut usage = MockUsageRepository::new();
    let mut useq = mockall::Sequence::new();
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 3)
        .times(1)
        .in_sequence(&mut useq)
        .returning(|_| Ok(ConsumeOutcome::StaleState));
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 4)
        .times(1)
        .in_sequence(&mut useq)
        .returning(|c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(3) }));
    let metered = service(subs, usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await
        .expect("consumed");
    assert_eq!(metered.quota.runs_used, RunCount::new(3));
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_original_and_consumes_nothing() {
    let mut usage = MockUsageRepository::new();
    usage
        .expect_consume()
        .withf(|c| c.idempotency_key.as_ref().map(IdempotencyKey::as_str) == Some("k-1"))
        .returning(|_| Ok(ConsumeOutcome::Replayed { value: Some(Uuid::from_u128(42)) }));
    let metered = service(subs_returning(free_sub(4)), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), key("k-1"), UsageReason::Route("t".into()))
        .await
        .expect("replayed");
    assert!(metered.replayed);
    assert_eq!(metered.value, Some(Uuid::from_u128(42)));
}

#[tokio::test]
async fn a_retry_after_the_quota_is_spent_still_gets_its_original_result() {
    let mut usage = MockUsageRepository::new();
    // The decision refuses, but the key is checked by the store with a zero allowance.
    usage
        .expect_consume()
        .withf(|c| c.limit == RunLimit::limited(0))
        .times(1)
        .returning(|_| Ok(ConsumeOutcome::Replayed { value: Some(Uuid::from_u128(42)) }));
    let metered = service(subs_returning(free_sub(10)), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), key("k-1"), UsageReason::Route("t".into()))
        .await
        .expect("replayed");
    assert!(metered.replayed);
}

#[tokio::test]
async fn a_new_key_on_a_spent_quota_is_refused_with_the_decisions_reason() {
    let sub = free_sub(0);
    let sub = ts::with(&sub, |p| {
        p.status = SubscriptionStatus::Paused;
    });
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().returning(|_| Ok(ConsumeOutcome::LimitReached { runs_used: RunCount::new(0) }));
    let err = service(subs_returning(sub), usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), key("new"), UsageReason::Route("t".into()))
        .await;
    assert!(matches!(err, Err(MeterError::Refused { reason: Refusal::Inactive, .. })));
}

#[tokio::test]
async fn an_ended_period_is_rolled_over_once_before_deciding() {
    let sub = free_sub(10);
    // Signed up a month and a half before NOW: the first period has ended.
    let sub = ts::with(&sub, |p| {
        p.created_at -= Duration::days(45);
        p.period_anchor = p.created_at;
        p.period = tollgate_domain::Period::monthly(p.created_at, 0);
    });
    let mut subs = subs_returning(sub);
    subs.expect_update()
        .withf(|s, expected, usage| {
            *expected == 3 && s.version() == 4 && *usage == UsageEffect::Reset && s.period().contains(ts::NOW)
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut usage = MockUsageRepository::new();
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 4)
        .returning(|c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(1) }));
    service(subs, usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await
        .expect("consumed after rollover");
}

#[tokio::test]
async fn a_rollover_lost_to_another_process_reloads_instead_of_resetting_twice() {
    let ended = free_sub(10);
    let ended = ts::with(&ended, |p| {
        p.created_at -= Duration::days(45);
        p.period_anchor = p.created_at;
        p.period = tollgate_domain::Period::monthly(p.created_at, 0);
    });
    let mut rolled = ended.clone();
    let _ = rolled.refresh(ts::NOW);
    let rolled = ts::with(&rolled, |p| {
        p.runs_used = RunCount::new(2);
    });
    let mut subs = MockSubscriptionRepository::new();
    let mut seq = mockall::Sequence::new();
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(ended.clone())));
    subs.expect_update()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(UpdateSubscriptionError::Conflict));
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(rolled.clone())));
    let mut usage = MockUsageRepository::new();
    usage
        .expect_consume()
        .returning(|c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(3) }));
    let metered = service(subs, usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await
        .expect("consumed");
    assert_eq!(metered.quota.runs_used, RunCount::new(3));
}

#[tokio::test]
async fn zero_units_are_refused() {
    let err = service(MockSubscriptionRepository::new(), MockUsageRepository::new())
        .consume(Payer::personal(ts::user_id()), RunCount::ZERO, None, UsageReason::Route("t".into()))
        .await;
    assert!(matches!(err, Err(MeterError::NoUnits)));
}

#[tokio::test]
async fn a_store_outage_is_reported_as_unavailable() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Err(outage()));
    let err = service(subs, MockUsageRepository::new())
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::Route("t".into()))
        .await;
    assert!(matches!(err, Err(MeterError::Failure(Failure::Unavailable(_)))));
}

#[tokio::test]
async fn a_failed_operation_is_refunded_through_the_store() {
    let mut usage = MockUsageRepository::new();
    usage
        .expect_refund()
        .with(mockall::predicate::eq(Uuid::from_u128(7)))
        .returning(|_| Ok(RefundOutcome::Refunded { runs: 1 }));
    let outcome = service(MockSubscriptionRepository::new(), usage).refund(Uuid::from_u128(7)).await;
    assert_eq!(outcome.expect("refunded"), RefundOutcome::Refunded { runs: 1 });
}

#[test]
fn idempotency_keys_are_visible_ascii_up_to_255_bytes() {
    assert!(IdempotencyKey::parse("abc-123_XYZ").is_some());
    assert!(IdempotencyKey::parse("").is_none());
    assert!(IdempotencyKey::parse("has space").is_none());
    assert!(IdempotencyKey::parse("é").is_none());
    assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
    assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
}

#[tokio::test]
async fn a_metered_request_reads_its_subscription_once_and_writes_once() {
    // SPEC §11 "one read per metered request": the decision's snapshot is the only read; the
    // store's conditional write enforces it (no re-read, no compare-and-set of the aggregate).
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().times(1).returning(|_| Ok(Some(free_sub(4))));
    subs.expect_expire_holds().times(0);
    subs.expect_update().times(0);
    let mut usage = MockUsageRepository::new();
    usage
        .expect_consume()
        .times(1)
        .returning(|c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(5) }));
    service(subs, usage)
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), key("k-1"), UsageReason::SessionCreate)
        .await
        .expect("consumed");
}

fn consumed(
    runs_used: u32,
) -> impl Fn(&tollgate_ports::Consumption) -> Result<ConsumeOutcome<Uuid>, tollgate_ports::StoreError> {
    move |c| Ok(ConsumeOutcome::Consumed { value: c.record_id, runs_used: RunCount::new(runs_used) })
}

#[tokio::test]
async fn the_next_decision_for_a_user_starts_from_the_last_ones_read() {
    // No read at all in the common case: the store's version check covers what a read would.
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().times(1).returning(|_| Ok(Some(free_sub(4))));
    let mut usage = MockUsageRepository::new();
    let mut seq = mockall::Sequence::new();
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 3)
        .times(1)
        .in_sequence(&mut seq)
        .returning(consumed(5));
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 3)
        .times(1)
        .in_sequence(&mut seq)
        .returning(consumed(6));
    let metering = service(subs, usage);
    for used in [5, 6] {
        let metered = metering
            .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
            .await
            .expect("consumed");
        assert_eq!(metered.quota.runs_used, RunCount::new(used), "the store's count, not the remembered one");
    }
}

#[tokio::test]
async fn a_remembered_subscription_never_refuses_on_its_own() {
    // Spent when first read; a refund since gave runs back: the second request is allowed.
    let mut subs = MockSubscriptionRepository::new();
    let mut seq = mockall::Sequence::new();
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(10))));
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(3))));
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().times(1).returning(consumed(4));
    let metering = service(subs, usage);
    let first = metering
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
        .await;
    assert!(matches!(first, Err(MeterError::Refused { reason: Refusal::LimitReached, .. })));
    let second = metering
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
        .await;
    assert_eq!(second.expect("a fresh read allows it").quota.runs_used, RunCount::new(4));
}

#[tokio::test]
async fn a_limit_the_store_reports_on_a_remembered_subscription_is_decided_again_on_a_fresh_read() {
    // The store refuses what the remembered counters allowed (held runs made elsewhere, say):
    // the refusal shown comes from a fresh read, and asks the store nothing more.
    let mut subs = MockSubscriptionRepository::new();
    let mut seq = mockall::Sequence::new();
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(4))));
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(10))));
    let mut usage = MockUsageRepository::new();
    let mut useq = mockall::Sequence::new();
    usage.expect_consume().times(1).in_sequence(&mut useq).returning(consumed(5));
    usage
        .expect_consume()
        .times(1)
        .in_sequence(&mut useq)
        .returning(|_| Ok(ConsumeOutcome::LimitReached { runs_used: RunCount::new(10) }));
    let metering = service(subs, usage);
    metering
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
        .await
        .expect("consumed");
    let second = metering
        .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
        .await;
    assert!(
        matches!(second, Err(MeterError::Refused { reason: Refusal::LimitReached, quota }) if quota.runs_used == RunCount::new(10))
    );
}

#[tokio::test]
async fn a_stale_remembered_subscription_is_forgotten_and_read_again() {
    let mut subs = MockSubscriptionRepository::new();
    let mut seq = mockall::Sequence::new();
    subs.expect_get_by_account().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(free_sub(4))));
    subs.expect_get_by_account()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(ts::with(&free_sub(5), |p| p.version = 4))));
    let mut usage = MockUsageRepository::new();
    let mut useq = mockall::Sequence::new();
    usage.expect_consume().times(1).in_sequence(&mut useq).returning(consumed(5));
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 3)
        .times(1)
        .in_sequence(&mut useq)
        .returning(|_| Ok(ConsumeOutcome::StaleState));
    usage
        .expect_consume()
        .withf(|c| c.expected_version == 4)
        .times(2)
        .in_sequence(&mut useq)
        .returning(consumed(6));
    let metering = service(subs, usage);
    for _ in 0..3 {
        metering
            .consume(Payer::personal(ts::user_id()), RunCount::new(1), None, UsageReason::SessionCreate)
            .await
            .expect("consumed");
    }
}

#[tokio::test]
async fn a_hold_reads_afresh_and_makes_the_next_decision_read_too() {
    // A hold's decision must see expired holds given back, and the next decision the runs held.
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().times(3).returning(|_| Ok(Some(free_sub(4))));
    let mut usage = MockUsageRepository::new();
    usage.expect_consume().times(3).returning(consumed(5));
    let metering = service(subs, usage);
    let user = Payer::personal(ts::user_id());
    metering.consume(user, RunCount::new(1), None, UsageReason::SessionCreate).await.expect("consumed");
    metering.consume(user, RunCount::new(1), None, UsageReason::ReservationCommit).await.expect("held");
    metering.consume(user, RunCount::new(1), None, UsageReason::SessionCreate).await.expect("consumed");
}
