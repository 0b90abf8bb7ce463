use serde_json::{json, Value};

use super::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn wrap(kind: &str, object: Value) -> Vec<u8> {
    json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_750_000_000, "data": {"object": object}})
        .to_string()
        .into_bytes()
}

/// Current API: the period on the items, the price under `items.data[].price`.
fn current_subscription() -> Value {
    let mut sub = fixture("subscription");
    sub["id"] = "sub_1".into();
    sub["customer"] = "cus_1".into();
    sub["status"] = "active".into();
    sub["cancel_at_period_end"] = false.into();
    sub["items"]["data"][0]["price"]["id"] = "price_basic".into();
    sub["items"]["data"][0]["current_period_start"] = 1_750_000_000.into();
    sub["items"]["data"][0]["current_period_end"] = 1_752_592_000.into();
    sub
}

fn expected_period() -> Option<Period> {
    period(&json!(1_750_000_000), &json!(1_752_592_000))
}

#[test]
fn a_current_api_subscription_reads_its_period_and_price_from_its_items() {
    let parsed = event(&wrap("customer.subscription.updated", current_subscription())).expect("parsed");
    assert_eq!(parsed.id, "evt_1");
    assert_eq!(parsed.created.unix_timestamp(), 1_750_000_000);
    assert_eq!(
        parsed.event,
        Some(BillingEvent::SubscriptionChanged(ProviderSubscription {
            subscription_id: "sub_1".into(),
            customer_id: Some("cus_1".into()),
            price_id: Some("price_basic".into()),
            status: SubscriptionStatus::Active,
            period: expected_period(),
            cancel_at_period_end: false,
        }))
    );
}

#[test]
fn an_older_api_subscription_reads_its_period_from_itself_and_its_plan() {
    let older = json!({
        "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer"},
        "status": "past_due", "cancel_at_period_end": true,
        "current_period_start": 1_750_000_000, "current_period_end": 1_752_592_000,
        "plan": {"id": "price_basic", "object": "plan"},
        "items": {"data": [{"id": "si_1", "plan": {"id": "price_basic"}}]},
        "some_field_from_2017": {"anything": [1, 2, 3]}
    });
    let parsed = event(&wrap("customer.subscription.created", older)).expect("parsed");
    let Some(BillingEvent::SubscriptionChanged(s)) = parsed.event else { panic!("{:?}", parsed.event) };
    assert_eq!(s.customer_id.as_deref(), Some("cus_1"), "an expanded customer");
    assert_eq!(s.price_id.as_deref(), Some("price_basic"));
    assert_eq!(s.status, SubscriptionStatus::PastDue);
    assert_eq!(s.period, expected_period());
    assert!(s.cancel_at_period_end);
}

#[test]
fn an_invoice_finds_its_subscription_in_either_place() {
    let mut current = fixture("invoice");
    current["parent"] =
        json!({"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}});
    current["lines"]["data"][0]["period"] = json!({"start": 1_750_000_000, "end": 1_752_592_000});
    let parsed = event(&wrap("invoice.paid", current)).expect("parsed");
    assert_eq!(
        parsed.event,
        Some(BillingEvent::PaymentSucceeded {
            subscription_id: "sub_1".into(),
            customer_id: fixture("invoice")["customer"].as_str().map(Into::into),
            period: expected_period()
        })
    );
    let older = json!({"id": "in_1", "subscription": "sub_1", "customer": {"id": "cus_1"}, "lines": {"data": [
        {"type": "invoiceitem", "period": {"start": 1, "end": 1}},
        {"type": "subscription", "period": {"start": 1_750_000_000, "end": 1_752_592_000}}
    ]}});
    let parsed = event(&wrap("invoice.payment_succeeded", older)).expect("parsed");
    assert_eq!(
        parsed.event,
        Some(BillingEvent::PaymentSucceeded {
            subscription_id: "sub_1".into(),
            customer_id: Some("cus_1".into()),
            period: expected_period()
        })
    );
    let failed =
        event(&wrap("invoice.payment_failed", json!({"id": "in_2", "subscription": {"id": "sub_1"}})))
            .expect("parsed");
    assert_eq!(
        failed.event,
        Some(BillingEvent::PaymentFailed { subscription_id: "sub_1".into(), customer_id: None })
    );
}

#[test]
fn a_completed_checkout_carries_customer_subscription_plan_and_payment() {
    let mut session = fixture("checkout.session");
    session["mode"] = "subscription".into();
    session["customer"] = "cus_1".into();
    session["subscription"] = "sub_1".into();
    session["payment_status"] = "paid".into();
    session["metadata"] = json!({"user_id": "u", "plan": "pro"});
    let parsed = event(&wrap("checkout.session.completed", session.clone())).expect("parsed");
    assert_eq!(
        parsed.event,
        Some(BillingEvent::CheckoutCompleted {
            customer_id: Some("cus_1".into()),
            subscription_id: Some("sub_1".into()),
            plan: Some(PlanId::Pro),
            paid: true,
        })
    );
    session["payment_status"] = "unpaid".into();
    let Some(BillingEvent::CheckoutCompleted { paid, .. }) =
        event(&wrap("checkout.session.completed", session)).expect("parsed").event
    else {
        panic!("checkout")
    };
    assert!(!paid);
}

#[test]
fn deletion_and_unknown_types_are_read_and_other_modes_ignored() {
    let deleted = event(&wrap("customer.subscription.deleted", current_subscription())).expect("parsed");
    assert_eq!(deleted.event, Some(BillingEvent::SubscriptionDeleted { subscription_id: "sub_1".into() }));
    let unknown = event(&wrap("charge.refunded", json!({"id": "ch_1"}))).expect("parsed");
    assert_eq!((unknown.event_type.as_str(), unknown.event), ("charge.refunded", None));
    let mut payment = fixture("checkout.session");
    payment["mode"] = "payment".into();
    assert_eq!(event(&wrap("checkout.session.completed", payment)).expect("parsed").event, None);
    let fixture_event = event(fixture("event").to_string().as_bytes()).expect("parsed");
    assert_eq!(fixture_event.event, None);
}

#[test]
fn an_event_without_id_type_or_time_is_malformed() {
    for bad in [
        json!({"type": "invoice.paid", "created": 1}),
        json!({"id": "evt_1", "created": 1}),
        json!({"id": "evt_1", "type": "invoice.paid"}),
        json!([1, 2]),
    ] {
        assert!(matches!(event(bad.to_string().as_bytes()), Err(WebhookError::Malformed(_))), "{bad}");
    }
    assert!(matches!(event(b"not json"), Err(WebhookError::Malformed(_))));
}
