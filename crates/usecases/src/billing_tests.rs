use std::sync::Arc;

use mockall::predicate::eq;
use tollgate_domain::{AccountId, PlanId, SubscriptionStatus, UsageEffect};

use crate::accounts::Acting;

use super::*;
use crate::test_support::{self as ts, free_sub};
use tollgate_ports::{
    MockAccountRepository, MockPaymentProvider, MockSubscriptionRepository, MockUserRepository,
    UpdateSubscriptionError,
};

fn redirects() -> RedirectPolicy {
    RedirectPolicy::new(["http://localhost:3000"]).expect("valid")
}

fn service(
    subs: MockSubscriptionRepository,
    users: MockUserRepository,
    provider: Option<MockPaymentProvider>,
) -> BillingService {
    let provider = provider.map(|p| Arc::new(p) as Arc<dyn PaymentProvider>);
    BillingService::new(
        Arc::new(subs),
        Arc::new(users),
        Arc::new(MockAccountRepository::new()),
        provider,
        ts::policy(),
        redirects(),
        ts::clock(),
        ts::ids(),
    )
}

fn subs_returning(sub: Subscription) -> MockSubscriptionRepository {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_get_by_account().returning(move |_| Ok(Some(sub.clone())));
    subs
}

fn with_customer(customer: &str) -> Subscription {
    let sub = free_sub(0);
    ts::with(&sub, |p| {
        p.billing.customer_id = Some(customer.into());
    })
}

fn checkout_ok() -> MockPaymentProvider {
    let mut provider = MockPaymentProvider::new();
    provider.expect_create_checkout_session().returning(|r| {
        Ok(CheckoutSession { id: "cs_test_1".into(), url: format!("https://checkout.test/{}", r.price_id) })
    });
    provider
}

#[tokio::test]
async fn the_trial_is_saved_with_its_own_period_and_a_fresh_counter() {
    let mut subs = subs_returning(free_sub(4));
    subs.expect_update()
        .withf(|s, expected, usage| {
            *expected == 3
                && *usage == UsageEffect::Reset
                && s.status() == SubscriptionStatus::Trialing
                && s.period().start() == ts::NOW
                && s.period().end() == ts::NOW + time::Duration::days(14)
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let sub = service(subs, MockUserRepository::new(), None)
        .activate_trial(&Acting::personal(ts::user_id()))
        .await
        .expect("trial");
    assert!(sub.is_trial());
}

#[tokio::test]
async fn a_second_trial_is_unavailable() {
    let sub = free_sub(0);
    let sub = ts::with(&sub, |p| {
        p.trial_used = true;
    });
    let mut subs = subs_returning(sub);
    subs.expect_update().times(0);
    let err =
        service(subs, MockUserRepository::new(), None).activate_trial(&Acting::personal(ts::user_id())).await;
    assert!(matches!(err, Err(ActivateTrialError::Unavailable(TrialError::AlreadyUsed))));
}

#[tokio::test]
async fn a_trial_racing_another_change_is_retried_on_the_new_state() {
    let mut subs = subs_returning(free_sub(0));
    let mut seq = mockall::Sequence::new();
    subs.expect_update()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(UpdateSubscriptionError::Conflict));
    subs.expect_update().times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
    assert!(service(subs, MockUserRepository::new(), None)
        .activate_trial(&Acting::personal(ts::user_id()))
        .await
        .is_ok());
}

#[tokio::test]
async fn checkout_refuses_free_enterprise_and_unknown_plans() {
    for plan in ["free", "enterprise", "platinum", ""] {
        let err = service(
            MockSubscriptionRepository::new(),
            MockUserRepository::new(),
            Some(MockPaymentProvider::new()),
        )
        .start_checkout(&Acting::personal(ts::user_id()), plan, None, None)
        .await;
        assert!(matches!(err, Err(CheckoutError::InvalidPlan)), "{plan}");
    }
}

#[tokio::test]
async fn checkout_without_a_provider_is_not_configured() {
    let err = service(MockSubscriptionRepository::new(), MockUserRepository::new(), None)
        .start_checkout(&Acting::personal(ts::user_id()), "basic", None, None)
        .await;
    assert!(matches!(err, Err(CheckoutError::NotConfigured)));
}

#[tokio::test]
async fn checkout_to_a_foreign_origin_is_refused_before_calling_the_provider() {
    let mut provider = MockPaymentProvider::new();
    provider.expect_create_checkout_session().times(0);
    let err = service(MockSubscriptionRepository::new(), MockUserRepository::new(), Some(provider))
        .start_checkout(&Acting::personal(ts::user_id()), "pro", Some("https://evil.example/"), None)
        .await;
    assert!(matches!(err, Err(CheckoutError::InvalidRedirect)));
}

#[tokio::test]
async fn the_first_checkout_creates_the_customer_once_and_stores_it() {
    let mut subs = subs_returning(free_sub(0));
    subs.expect_update()
        .withf(|s, _, usage| {
            s.billing().customer_id.as_deref() == Some("cus_new") && *usage == UsageEffect::Keep
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().returning(|_| Ok(Some(ts::user())));
    let mut provider = checkout_ok();
    let key = format!("customer-{}", ts::user_id());
    provider
        .expect_create_customer()
        .withf(move |a, u, email, name, k| {
            *a == AccountId::personal(ts::user_id())
                && *u == ts::user_id()
                && email == "ada@example.com"
                && name == "Ada Lovelace"
                && k == key
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok("cus_new".into()));
    let session = service(subs, users, Some(provider))
        .start_checkout(&Acting::personal(ts::user_id()), "Pro", Some("http://localhost:3000/done"), None)
        .await
        .expect("checkout");
    assert_eq!(session.url, "https://checkout.test/price_pro");
}

#[tokio::test]
async fn checkout_sends_the_plan_price_customer_user_and_allowed_urls() {
    let mut provider = MockPaymentProvider::new();
    provider.expect_create_customer().times(0);
    provider
        .expect_create_checkout_session()
        .withf(|r| {
            r.customer_id == "cus_1"
                && r.price_id == "price_basic"
                && r.plan == PlanId::Basic
                && r.user_id == ts::user_id()
                && r.quantity == 1
                && r.success_url == "http://localhost:3000/billing/success"
                && r.cancel_url == "http://localhost:3000/back"
                && r.idempotency_key.starts_with("checkout-")
        })
        .returning(|_| Ok(CheckoutSession { id: "cs_1".into(), url: "https://checkout.test/cs_1".into() }));
    let session = service(subs_returning(with_customer("cus_1")), MockUserRepository::new(), Some(provider))
        .start_checkout(&Acting::personal(ts::user_id()), "basic", None, Some("http://localhost:3000/back"))
        .await
        .expect("checkout");
    assert_eq!(session.id, "cs_1");
}

#[tokio::test]
async fn checkout_with_an_active_paid_subscription_is_already_subscribed() {
    let sub = with_customer("cus_1");
    let sub = ts::with(&sub, |p| {
        p.plan = PlanId::Basic;
        p.billing.granted = true;
        p.billing.subscription_id = Some("sub_1".into());
    });
    let mut provider = MockPaymentProvider::new();
    provider.expect_create_checkout_session().times(0);
    let err = service(subs_returning(sub), MockUserRepository::new(), Some(provider))
        .start_checkout(&Acting::personal(ts::user_id()), "pro", None, None)
        .await;
    assert!(matches!(err, Err(CheckoutError::AlreadySubscribed)));
}

#[tokio::test]
async fn a_provider_failure_during_checkout_is_reported_as_such() {
    let mut provider = MockPaymentProvider::new();
    provider
        .expect_create_checkout_session()
        .returning(|_| Err(ProviderError::Rejected("No such price".into())));
    let err = service(subs_returning(with_customer("cus_1")), MockUserRepository::new(), Some(provider))
        .start_checkout(&Acting::personal(ts::user_id()), "pro", None, None)
        .await;
    assert!(matches!(err, Err(CheckoutError::Provider(ProviderError::Rejected(_)))));
}

#[tokio::test]
async fn the_portal_needs_a_billing_account() {
    let mut provider = MockPaymentProvider::new();
    provider.expect_create_portal_session().times(0);
    let err = service(subs_returning(free_sub(0)), MockUserRepository::new(), Some(provider))
        .open_portal(&Acting::personal(ts::user_id()), None)
        .await;
    assert!(matches!(err, Err(PortalError::NoBillingAccount)));
}

#[tokio::test]
async fn the_portal_opens_for_the_stored_customer_with_an_allowed_return_url() {
    let mut provider = MockPaymentProvider::new();
    provider
        .expect_create_portal_session()
        .with(eq(tollgate_domain::CustomerId::new("cus_1")), eq("http://localhost:3000/account"))
        .returning(|_, _| Ok("https://portal.test/s".into()));
    let service = service(subs_returning(with_customer("cus_1")), MockUserRepository::new(), Some(provider));
    let url = service
        .open_portal(&Acting::personal(ts::user_id()), Some("http://localhost:3000/account"))
        .await
        .expect("portal");
    assert_eq!(url, "https://portal.test/s");
    assert!(matches!(
        service.open_portal(&Acting::personal(ts::user_id()), Some("https://elsewhere.test/")).await,
        Err(PortalError::InvalidRedirect)
    ));
}

#[tokio::test]
async fn the_portal_without_a_provider_is_not_configured() {
    let err = service(MockSubscriptionRepository::new(), MockUserRepository::new(), None)
        .open_portal(&Acting::personal(ts::user_id()), None)
        .await;
    assert!(matches!(err, Err(PortalError::NotConfigured)));
}
