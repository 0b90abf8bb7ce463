use std::sync::Arc;

use tollgate_domain::plan::RunCount;
use uuid::Uuid;

use super::*;
use crate::test_support::{self as ts, free_sub};
use tollgate_ports::{
    ConsumeOutcome, MockSessionRepository, MockSubscriptionRepository, MockUsageRepository,
};

fn service(sessions: MockSessionRepository) -> SessionService {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Ok(Some(free_sub(0))));
    let metering = MeteringService::new(
        Arc::new(subs),
        Arc::new(MockUsageRepository::new()),
        ts::policy(),
        ts::clock(),
        ts::ids(),
    );
    SessionService::new(Arc::new(sessions), Arc::new(metering), ts::clock(), ts::ids())
}

#[tokio::test]
async fn creating_a_session_consumes_one_run_in_the_same_store_call() {
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_create_metered()
        .withf(|s, c| {
            s.user_id == ts::user_id()
                && s.title.as_deref() == Some("Plan a trip")
                && c.units == RunCount::new(1)
                && c.reason == UsageReason::SessionCreate
        })
        .times(1)
        .returning(|s, _| Ok(ConsumeOutcome::Consumed { value: s.clone(), runs_used: RunCount::new(1) }));
    let metered = service(sessions)
        .create(
            Payer::personal(ts::user_id()),
            ts::user_id(),
            Some("Plan a trip".into()),
            RunCount::new(1),
            None,
        )
        .await
        .expect("created");
    assert_eq!(metered.value.map(|s| s.created_at), Some(ts::NOW));
    assert_eq!(metered.quota.remaining(), Some(9));
}

#[tokio::test]
async fn reads_and_deletes_are_scoped_to_the_caller() {
    let mut sessions = MockSessionRepository::new();
    let id = SessionId::from_uuid(Uuid::from_u128(3));
    sessions.expect_get().withf(move |u, s| *u == ts::user_id() && *s == id).returning(|_, _| Ok(None));
    sessions.expect_delete().withf(move |u, s| *u == ts::user_id() && *s == id).returning(|_, _| Ok(false));
    sessions
        .expect_list()
        .withf(|u, a, p| {
            *u == ts::user_id() && *a == AccountId::personal(ts::user_id()) && p.limit == 20 && p.offset == 40
        })
        .returning(|_, _, _| Ok((vec![], 0)));
    let service = service(sessions);
    assert_eq!(service.get(ts::user_id(), id).await.expect("ok"), None);
    assert!(!service.delete(ts::user_id(), id).await.expect("ok"));
    assert_eq!(
        service
            .list(ts::user_id(), AccountId::personal(ts::user_id()), Page { limit: 20, offset: 40 })
            .await
            .expect("ok")
            .1,
        0
    );
}

#[test]
fn titles_are_trimmed_optional_and_bounded() {
    assert_eq!(parse_title(None), Ok(None));
    assert_eq!(parse_title(Some("   ")), Ok(None));
    assert_eq!(parse_title(Some("  hi ")), Ok(Some("hi".into())));
    assert_eq!(parse_title(Some(&"x".repeat(200))).map(|t| t.map(|t| t.len())), Ok(Some(200)));
    assert_eq!(parse_title(Some(&"x".repeat(201))), Err(InvalidTitle));
    assert_eq!(parse_title(Some("a\u{7}b")), Err(InvalidTitle));
}
