use std::sync::Arc;

use tollgate_domain::plan::RunLimit;
use tollgate_domain::UsageEffect;

use super::*;
use crate::outbound::{MockSubscriptionRepository, MockUserRepository};
use crate::services::test_support::{self as ts, free_sub};

fn users() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|e| Ok((e.as_str() == "ada@example.com").then(ts::user)));
    users
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("valid")
}

#[tokio::test]
async fn an_operator_sets_an_enterprise_limit_through_the_domain_rules() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_user().returning(|_| Ok(Some(free_sub(8))));
    subs.expect_update()
        .withf(|s, expected, usage| {
            s.plan() == PlanId::Enterprise
                && s.runs_limit_override() == Some(RunLimit::limited(20_000))
                && *expected == 3
                && *usage == UsageEffect::Keep
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let service = AdminService::new(Arc::new(users()), Arc::new(subs), ts::clock());
    let (_, sub) = service
        .set_plan(&email("ada@example.com"), PlanId::Enterprise, Some(RunLimit::limited(20_000)))
        .await
        .expect("set");
    assert_eq!(sub.runs_used(), tollgate_domain::RunCount::new(8));
}

#[tokio::test]
async fn an_unlimited_free_plan_is_refused_and_nothing_is_saved() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_user().returning(|_| Ok(Some(free_sub(0))));
    subs.expect_update().times(0);
    let service = AdminService::new(Arc::new(users()), Arc::new(subs), ts::clock());
    let err = service.set_plan(&email("ada@example.com"), PlanId::Free, Some(RunLimit::Unlimited)).await;
    assert!(matches!(err, Err(AdminError::Refused(AdminPlanError::UnlimitedFree))));
}

#[tokio::test]
async fn an_unknown_email_is_reported() {
    let service =
        AdminService::new(Arc::new(users()), Arc::new(MockSubscriptionRepository::new()), ts::clock());
    assert!(matches!(service.show(&email("nobody@example.com")).await, Err(AdminError::UnknownUser)));
}

#[tokio::test]
async fn show_returns_the_user_and_current_subscription() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_user().returning(|_| Ok(Some(free_sub(2))));
    let service = AdminService::new(Arc::new(users()), Arc::new(subs), ts::clock());
    let (user, sub) = service.show(&email("ADA@example.com")).await.expect("found");
    assert_eq!((user.id, sub.plan()), (ts::user_id(), PlanId::Free));
}
