use std::sync::Arc;

use tollgate_domain::plan::RunLimit;
use tollgate_domain::UsageEffect;

use super::*;
use crate::test_support::{self as ts, free_sub};
use tollgate_ports::{
    MockAccountRepository, MockAdminRepository, MockSubscriptionRepository, MockUsageRepository,
    MockUserRepository, UpdateSubscriptionError,
};

fn users() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|e| Ok((e.as_str() == "ada@example.com").then(ts::user)));
    users
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("valid")
}

/// Accounts: every id is a personal account, except `TEAM`.
const TEAM: AccountId = AccountId::from_uuid(uuid::Uuid::from_u128(0x7EA));

fn accounts() -> MockAccountRepository {
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_account().returning(|id| {
        let (kind, name) =
            if id == TEAM { (AccountKind::Organisation, "Team") } else { (AccountKind::Personal, "Ada") };
        Ok(Some(tollgate_domain::Account {
            id,
            kind,
            name: tollgate_domain::AccountName::parse(name).expect("name"),
            created_at: ts::NOW,
        }))
    });
    accounts
}

fn service(subs: MockSubscriptionRepository, admin: MockAdminRepository) -> AdminService {
    AdminService::new(
        Arc::new(users()),
        Arc::new(accounts()),
        Arc::new(subs),
        Arc::new(MockUsageRepository::new()),
        Arc::new(admin),
        ts::clock(),
        ts::ids(),
    )
}

fn actor() -> Actor {
    Actor { name: "user:1 root@example.com".into(), request_id: Some("req-1".into()) }
}

#[tokio::test]
async fn an_operator_sets_an_enterprise_limit_with_its_audit_entry_in_one_write() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Ok(Some(free_sub(8))));
    subs.expect_update().times(0);
    let mut admin = MockAdminRepository::new();
    admin
        .expect_update_subscription_audited()
        .withf(|s, expected, usage, entry| {
            s.plan() == PlanId::Enterprise
                && s.runs_limit_override() == Some(RunLimit::limited(20_000))
                && *expected == 3
                && *usage == UsageEffect::Keep
                && entry.action == AuditAction::SetPlan
                && entry.actor == "user:1 root@example.com"
                && entry.request_id.as_deref() == Some("req-1")
                && entry.target_user_id == Some(ts::user_id())
                && entry.target_account_id == Some(AccountId::personal(ts::user_id()))
                && entry.before.as_ref().map(|b| b["plan"] == "free") == Some(true)
                && entry
                    .after
                    .as_ref()
                    .map(|a| a["plan"] == "enterprise" && a["runs_limit_override"] == 20_000)
                    == Some(true)
        })
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    let sub = service(subs, admin)
        .set_plan(
            AccountId::personal(ts::user_id()),
            PlanId::Enterprise,
            Some(RunLimit::limited(20_000)),
            &actor(),
        )
        .await
        .expect("set");
    assert_eq!(sub.runs_used(), tollgate_domain::RunCount::new(8));
}

#[tokio::test]
async fn a_grant_retries_on_a_concurrent_change_and_records_the_reason() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Ok(Some(free_sub(10))));
    let mut admin = MockAdminRepository::new();
    let mut first = true;
    admin
        .expect_update_subscription_audited()
        .withf(|s, _, _, entry| {
            s.runs_granted() == RunCount::new(5)
                && entry.reason.as_deref() == Some("outage on the 3rd")
                && entry.after.as_ref().map(|a| a["runs_granted"] == 5) == Some(true)
        })
        .times(2)
        .returning(
            move |_, _, _, _| {
                if std::mem::take(&mut first) {
                    Err(UpdateSubscriptionError::Conflict)
                } else {
                    Ok(())
                }
            },
        );
    let sub = service(subs, admin)
        .grant(AccountId::personal(ts::user_id()), RunCount::new(5), "outage on the 3rd".into(), &actor())
        .await
        .expect("granted");
    assert_eq!(sub.runs_limit(&ts::catalog()), RunLimit::limited(15));
}

#[tokio::test]
async fn an_unlimited_free_plan_is_refused_and_nothing_is_saved() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Ok(Some(free_sub(0))));
    let mut admin = MockAdminRepository::new();
    admin.expect_update_subscription_audited().times(0);
    let err = service(subs, admin)
        .set_plan(AccountId::personal(ts::user_id()), PlanId::Free, Some(RunLimit::Unlimited), &actor())
        .await;
    assert!(matches!(err, Err(AdminError::Refused(AdminPlanError::UnlimitedFree))));
}

#[tokio::test]
async fn a_change_to_an_organisation_names_the_account_and_no_user() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().withf(|a| *a == TEAM).returning(|_| Ok(Some(free_sub(0))));
    let mut admin = MockAdminRepository::new();
    admin
        .expect_update_subscription_audited()
        .withf(|_, _, _, entry| entry.target_user_id.is_none() && entry.target_account_id == Some(TEAM))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    service(subs, admin).set_plan(TEAM, PlanId::Pro, None, &actor()).await.expect("set");
    let unknown = AdminService::new(
        Arc::new(users()),
        Arc::new({
            let mut none = MockAccountRepository::new();
            none.expect_find_account().returning(|_| Ok(None));
            none
        }),
        Arc::new(MockSubscriptionRepository::new()),
        Arc::new(MockUsageRepository::new()),
        Arc::new(MockAdminRepository::new()),
        ts::clock(),
        ts::ids(),
    );
    let err = unknown.grant(TEAM, RunCount::new(1), "why".into(), &actor()).await;
    assert!(matches!(err, Err(AdminError::UnknownAccount)));
}

#[tokio::test]
async fn setting_the_role_a_user_already_has_writes_nothing() {
    let mut admin = MockAdminRepository::new();
    admin.expect_set_role_audited().times(0);
    let user = service(MockSubscriptionRepository::new(), admin)
        .set_role(&email("ada@example.com"), Role::User, &actor())
        .await
        .expect("unchanged");
    assert_eq!(user.role, Role::User);
}

#[tokio::test]
async fn an_unknown_email_is_reported() {
    let service = service(MockSubscriptionRepository::new(), MockAdminRepository::new());
    assert!(matches!(service.show(&email("nobody@example.com")).await, Err(AdminError::UnknownUser)));
}

#[tokio::test]
async fn show_returns_the_user_and_current_subscription() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(|_| Ok(Some(free_sub(2))));
    let (user, sub) =
        service(subs, MockAdminRepository::new()).show(&email("ADA@example.com")).await.expect("found");
    assert_eq!((user.id, sub.plan()), (ts::user_id(), PlanId::Free));
}
