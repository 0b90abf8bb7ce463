use std::sync::Arc;

use tollgate_domain::{BillingEvent, PlanId, ProviderSubscription, SubscriptionStatus, UsageEffect};

use super::*;
use crate::test_support::{self as ts, free_sub, outage, NOW};
use tollgate_ports::{InboxOutcome, MockSubscriptionRepository, MockWebhookInbox, MockWebhookVerifier};

fn active_basic() -> BillingEvent {
    BillingEvent::SubscriptionChanged(ProviderSubscription {
        subscription_id: "sub_1".into(),
        customer_id: Some("cus_1".into()),
        price_id: Some("price_basic".into()),
        status: SubscriptionStatus::Active,
        period: Some(tollgate_domain::Period::monthly(NOW, 0)),
        cancel_at_period_end: false,
    })
}

fn verified(event: Option<BillingEvent>) -> VerifiedEvent {
    VerifiedEvent {
        id: "evt_1".into(),
        event_type: "customer.subscription.updated".into(),
        created: NOW,
        event,
    }
}

fn verifier(event: Option<BillingEvent>) -> MockWebhookVerifier {
    let mut v = MockWebhookVerifier::new();
    v.expect_verify().returning(move |_, _, _| Ok(verified(event.clone())));
    v
}

fn known_customer() -> MockSubscriptionRepository {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_find_by_provider_subscription().returning(|_| Ok(None));
    subs.expect_find_by_customer().returning(|c| {
        let sub = free_sub(6);
        let sub = ts::with(&sub, |p| {
            p.billing.customer_id = Some("cus_1".into());
        });
        Ok((c == "cus_1").then_some(sub))
    });
    subs
}

fn service(
    verifier: Option<MockWebhookVerifier>,
    inbox: MockWebhookInbox,
    subs: MockSubscriptionRepository,
) -> WebhookService {
    let verifier = verifier.map(|v| Arc::new(v) as Arc<dyn WebhookVerifier>);
    WebhookService::new(verifier, Arc::new(inbox), Arc::new(subs), ts::policy(), ts::clock())
}

fn fresh_inbox() -> MockWebhookInbox {
    let mut inbox = MockWebhookInbox::new();
    inbox.expect_contains().returning(|_| Ok(false));
    inbox
}

#[tokio::test]
async fn without_a_webhook_secret_the_webhook_is_not_configured() {
    let err = service(None, MockWebhookInbox::new(), MockSubscriptionRepository::new())
        .handle(b"{}", "t=1,v1=x")
        .await;
    assert!(matches!(err, Err(HandleWebhookError::NotConfigured)));
}

#[tokio::test]
async fn a_bad_signature_is_rejected_before_anything_is_read() {
    let mut v = MockWebhookVerifier::new();
    v.expect_verify().returning(|_, _, _| Err(WebhookError::InvalidSignature));
    let mut inbox = MockWebhookInbox::new();
    inbox.expect_contains().times(0);
    let err = service(Some(v), inbox, MockSubscriptionRepository::new()).handle(b"{}", "t=1,v1=x").await;
    assert!(matches!(err, Err(HandleWebhookError::Rejected(WebhookError::InvalidSignature))));
}

#[tokio::test]
async fn a_subscription_update_is_applied_and_recorded_in_one_store_call() {
    let mut inbox = fresh_inbox();
    inbox
        .expect_record()
        .withf(|entry, change| {
            let Some(change) = change else { return false };
            entry.event_id == "evt_1"
                && entry.outcome == InboxOutcome::Processed
                && change.expected_version == 3
                && change.usage == UsageEffect::Reset
                && change.subscription.plan() == PlanId::Basic
                && change.subscription.billing().subscription_id.as_deref() == Some("sub_1")
        })
        .times(1)
        .returning(|_, _| Ok(RecordOutcome::Recorded));
    let receipt = service(Some(verifier(Some(active_basic()))), inbox, known_customer())
        .handle(b"{}", "sig")
        .await
        .expect("handled");
    assert_eq!(receipt.status, WebhookStatus::Processed);
    assert_eq!(receipt.event_id, "evt_1");
}

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_changes_nothing() {
    let mut inbox = MockWebhookInbox::new();
    inbox.expect_contains().returning(|_| Ok(true));
    inbox.expect_record().times(0);
    let receipt = service(Some(verifier(Some(active_basic()))), inbox, MockSubscriptionRepository::new())
        .handle(b"{}", "sig")
        .await
        .expect("handled");
    assert_eq!(receipt.status, WebhookStatus::Duplicate);
}

#[tokio::test]
async fn a_duplicate_racing_its_twin_is_caught_when_recording() {
    let mut inbox = fresh_inbox();
    inbox.expect_record().returning(|_, _| Ok(RecordOutcome::Duplicate));
    let receipt =
        service(Some(verifier(Some(active_basic()))), inbox, known_customer()).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Duplicate);
}

#[tokio::test]
async fn an_event_about_an_unknown_customer_is_recorded_and_ignored() {
    let mut event = active_basic();
    if let BillingEvent::SubscriptionChanged(s) = &mut event {
        s.customer_id = Some("cus_stranger".into());
    }
    let mut inbox = fresh_inbox();
    inbox
        .expect_record()
        .withf(|e, change| e.outcome == InboxOutcome::Ignored && change.is_none())
        .times(1)
        .returning(|_, _| Ok(RecordOutcome::Recorded));
    let receipt = service(Some(verifier(Some(event))), inbox, known_customer()).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Ignored);
}

#[tokio::test]
async fn an_event_type_tollgate_does_not_act_on_is_ignored() {
    let mut inbox = fresh_inbox();
    inbox.expect_record().withf(|_, change| change.is_none()).returning(|_, _| Ok(RecordOutcome::Recorded));
    let receipt =
        service(Some(verifier(None)), inbox, MockSubscriptionRepository::new()).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Ignored);
}

#[tokio::test]
async fn a_conflicting_concurrent_change_is_reapplied_on_the_fresh_state() {
    let mut inbox = fresh_inbox();
    let mut seq = mockall::Sequence::new();
    inbox
        .expect_record()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(UpdateSubscriptionError::Conflict));
    inbox.expect_record().times(1).in_sequence(&mut seq).returning(|_, _| Ok(RecordOutcome::Recorded));
    let receipt =
        service(Some(verifier(Some(active_basic()))), inbox, known_customer()).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Processed);
}

#[tokio::test]
async fn a_stale_event_is_acknowledged_as_stale() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_find_by_provider_subscription().returning(|_| {
        let sub = free_sub(0);
        let sub = ts::with(&sub, |p| {
            p.billing.customer_id = Some("cus_1".into());
            p.billing.subscription_id = Some("sub_1".into());
            p.billing.last_event_at = Some(NOW + time::Duration::minutes(1));
        });
        Ok(Some(sub))
    });
    let mut inbox = fresh_inbox();
    inbox
        .expect_record()
        .withf(|e, change| e.outcome == InboxOutcome::Stale && change.is_none())
        .returning(|_, _| Ok(RecordOutcome::Recorded));
    let receipt = service(Some(verifier(Some(active_basic()))), inbox, subs).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Stale);
}

#[tokio::test]
async fn a_store_outage_fails_the_delivery_so_the_provider_retries() {
    let mut inbox = MockWebhookInbox::new();
    inbox.expect_contains().returning(|_| Err(outage()));
    let err = service(Some(verifier(Some(active_basic()))), inbox, MockSubscriptionRepository::new())
        .handle(b"{}", "s")
        .await;
    assert!(matches!(err, Err(HandleWebhookError::Failure(Failure::Unavailable(_)))));
}

#[tokio::test]
async fn a_payment_before_its_grant_is_deferred_and_not_recorded() {
    let mut subs = MockSubscriptionRepository::new();
    subs.expect_find_by_provider_subscription().returning(|_| {
        let sub = free_sub(0);
        let sub = ts::with(&sub, |p| {
            p.billing.customer_id = Some("cus_1".into());
            p.billing.subscription_id = Some("sub_1".into());
        });
        Ok(Some(sub))
    });
    let mut inbox = fresh_inbox();
    inbox.expect_record().times(0);
    let paid =
        BillingEvent::PaymentSucceeded { subscription_id: "sub_1".into(), customer_id: None, period: None };
    let receipt = service(Some(verifier(Some(paid))), inbox, subs).handle(b"{}", "s").await;
    assert_eq!(receipt.expect("handled").status, WebhookStatus::Deferred);
}
