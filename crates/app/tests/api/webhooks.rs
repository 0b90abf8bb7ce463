//! Stripe webhooks over HTTP: verified, exactly-once, order-independent (SPEC §4).

use reqwest::StatusCode;
use serde_json::Value;
use time::Duration;

use crate::helpers::{problem, spawn_app_with, Account, TestApp};
use crate::stripe_events::{stripe_settings, Billing, DAY, PRICE_BASIC, PRICE_PRO};

async fn stripe_app() -> TestApp {
    let settings = stripe_settings("http://127.0.0.1:9");
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&pairs).await
}

async fn on_basic(app: &TestApp, account: &Account) -> Billing {
    let billing = Billing::for_account(app, account).await;
    let t0 = billing.t0;
    let event = billing.subscription("customer.subscription.created", t0, "active", PRICE_BASIC, t0, false);
    assert_eq!(app.deliver_status(&event).await, "processed");
    billing
}

fn plan_status(sub: &Value) -> (String, String) {
    (
        sub["plan"].as_str().unwrap_or_default().to_owned(),
        sub["status"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn a_forged_missing_or_stale_signature_is_refused() {
    let app = stripe_app().await;
    let body = r#"{"id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{}}}"#;
    let send = |signature: Option<String>| {
        let mut req = app.client.post(app.url("/api/v1/billing/webhook")).body(body);
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        req.send()
    };
    // The server checks the tolerance against its own clock, fixed when the app started.
    let now = app.clock_now().unix_timestamp();
    let forged = tollgate_stripe::signature::sign(body.as_bytes(), b"not the secret", now);
    let stale = tollgate_stripe::signature::sign(
        body.as_bytes(),
        crate::stripe_events::WEBHOOK_SECRET.as_bytes(),
        now - 301,
    );
    for signature in [Some(forged), Some(stale), Some("t=1,v1=zz".into()), None] {
        problem(send(signature).await.unwrap(), StatusCode::BAD_REQUEST, "INVALID_SIGNATURE").await;
    }
}

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_changes_nothing() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let created = billing.subscription(
        "customer.subscription.created",
        billing.t0,
        "active",
        PRICE_BASIC,
        billing.t0,
        false,
    );
    assert_eq!(app.deliver_status(&created).await, "processed");
    app.create_session(&ada.access).await;
    let again = app.deliver(&created).await;
    assert_eq!(again.status(), StatusCode::OK);
    let body: Value = again.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["event_type"].as_str()),
        (Some("duplicate"), Some("customer.subscription.created"))
    );
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 1, "a replay never resets usage");
}

#[tokio::test]
async fn a_second_payment_event_for_the_same_period_changes_nothing() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = on_basic(&app, &ada).await;
    for _ in 0..3 {
        app.create_session(&ada.access).await;
    }
    assert_eq!(app.deliver_status(&billing.invoice_paid(billing.t0 + 1, billing.t0)).await, "processed");
    assert_eq!(app.deliver_status(&billing.invoice_paid(billing.t0 + 5, billing.t0)).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!(sub["monthly_agent_runs"], 3);
    // The renewal opens the next period, once.
    let next = billing.t0 + 30 * DAY;
    assert_eq!(app.deliver_status(&billing.invoice_paid(next, next)).await, "processed");
    app.create_session(&ada.access).await;
    assert_eq!(app.deliver_status(&billing.invoice_paid(next + 2, next)).await, "processed");
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 1);
}

#[tokio::test]
async fn a_subscription_event_before_the_checkout_event_still_upgrades() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let t0 = billing.t0;
    let active =
        billing.subscription("customer.subscription.created", t0 + 1, "active", PRICE_PRO, t0, false);
    assert_eq!(app.deliver_status(&active).await, "processed");
    assert_eq!(app.deliver_status(&billing.checkout_completed(t0, "pro", true)).await, "stale");
    let sub = app.subscription(&ada.access).await;
    assert_eq!(plan_status(&sub), ("pro".into(), "active".into()));
    assert_eq!(sub["monthly_agent_runs_limit"], 5000);
}

#[tokio::test]
async fn an_incomplete_subscription_grants_nothing_until_it_is_active() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let t0 = billing.t0;
    let incomplete =
        billing.subscription("customer.subscription.created", t0, "incomplete", PRICE_BASIC, t0, false);
    assert_eq!(app.deliver_status(&incomplete).await, "ignored");
    assert_eq!(plan_status(&app.subscription(&ada.access).await), ("free".into(), "active".into()));
    let active =
        billing.subscription("customer.subscription.updated", t0 + 2, "active", PRICE_BASIC, t0, false);
    assert_eq!(app.deliver_status(&active).await, "processed");
    assert_eq!(plan_status(&app.subscription(&ada.access).await), ("basic".into(), "active".into()));
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_is_stale() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = on_basic(&app, &ada).await;
    let t0 = billing.t0;
    let newer =
        billing.subscription("customer.subscription.updated", t0 + 60, "active", PRICE_PRO, t0, false);
    let older =
        billing.subscription("customer.subscription.updated", t0 + 30, "past_due", PRICE_BASIC, t0, false);
    assert_eq!(app.deliver_status(&newer).await, "processed");
    assert_eq!(app.deliver_status(&older).await, "stale");
    assert_eq!(plan_status(&app.subscription(&ada.access).await), ("pro".into(), "active".into()));
}

#[tokio::test]
async fn a_plan_change_in_the_portal_keeps_the_usage_already_counted() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = on_basic(&app, &ada).await;
    for _ in 0..4 {
        app.create_session(&ada.access).await;
    }
    let upgrade = billing.subscription(
        "customer.subscription.updated",
        billing.t0 + 3600,
        "active",
        PRICE_PRO,
        billing.t0,
        false,
    );
    assert_eq!(app.deliver_status(&upgrade).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!(sub["plan"], "pro");
    assert_eq!((sub["monthly_agent_runs"].as_u64(), sub["remaining_runs"].as_u64()), (Some(4), Some(4996)));
}

#[tokio::test]
async fn cancel_at_period_end_keeps_the_plan_until_deletion_returns_to_free() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = on_basic(&app, &ada).await;
    let cancel = billing.subscription(
        "customer.subscription.updated",
        billing.t0 + 60,
        "active",
        PRICE_BASIC,
        billing.t0,
        true,
    );
    assert_eq!(app.deliver_status(&cancel).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!((sub["plan"].as_str(), sub["cancel_at_period_end"].as_bool()), (Some("basic"), Some(true)));
    app.create_session(&ada.access).await;
    assert_eq!(app.deliver_status(&billing.deleted(billing.t0 + 120)).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!(plan_status(&sub), ("free".into(), "active".into()));
    assert_eq!(
        (sub["monthly_agent_runs"].as_u64(), sub["cancel_at_period_end"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED, "never locked out");
}

#[tokio::test]
async fn a_failed_payment_allows_use_within_the_grace_window_and_blocks_beyond() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = on_basic(&app, &ada).await;
    let failed_at = app.clock_now().unix_timestamp();
    assert_eq!(app.deliver_status(&billing.payment_failed(failed_at)).await, "processed");
    assert_eq!(app.subscription(&ada.access).await["status"], "past_due");
    app.clock.advance(Duration::hours(71));
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    app.clock.advance(Duration::hours(2));
    problem(app.create_session(&ada.access).await, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_INACTIVE")
        .await;
    // Paying again restores it.
    assert_eq!(
        app.deliver_status(&billing.invoice_paid(failed_at + 73 * 3600, billing.t0)).await,
        "processed"
    );
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn older_and_current_payload_shapes_both_apply() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let older = billing.older_subscription(
        "customer.subscription.created",
        billing.t0,
        "active",
        PRICE_BASIC,
        billing.t0,
    );
    assert_eq!(app.deliver_status(&older).await, "processed");
    let sub = app.subscription(&ada.access).await;
    assert_eq!(sub["plan"], "basic");
    let start = time::OffsetDateTime::from_unix_timestamp(billing.t0).unwrap();
    let shown = time::OffsetDateTime::parse(
        sub["current_period_start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(shown, start);
    let current = billing.subscription(
        "customer.subscription.updated",
        billing.t0 + 10,
        "active",
        PRICE_PRO,
        billing.t0,
        false,
    );
    assert_eq!(app.deliver_status(&current).await, "processed");
    assert_eq!(app.subscription(&ada.access).await["plan"], "pro");
}

#[tokio::test]
async fn events_about_strangers_and_types_tollgate_ignores_are_acknowledged() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let stranger = Billing { customer: "cus_nobody".into(), ..billing };
    let event = stranger.subscription(
        "customer.subscription.created",
        stranger.t0,
        "active",
        PRICE_PRO,
        stranger.t0,
        false,
    );
    assert_eq!(app.deliver_status(&event).await, "ignored");
    let mut other = event.clone();
    other["id"] = "evt_other_type".into();
    other["type"] = "charge.refunded".into();
    assert_eq!(app.deliver_status(&other).await, "ignored");
    assert_eq!(app.subscription(&ada.access).await["plan"], "free");
}

#[tokio::test]
async fn a_payment_that_overtakes_its_subscription_is_deferred_then_applied_on_redelivery() {
    let app = stripe_app().await;
    let ada = app.register("ada@example.com").await;
    let billing = Billing::for_account(&app, &ada).await;
    let t0 = billing.t0;
    assert_eq!(
        app.deliver_status(&billing.subscription(
            "customer.subscription.created",
            t0,
            "incomplete",
            PRICE_BASIC,
            t0,
            false
        ))
        .await,
        "ignored"
    );
    let renewal = billing.invoice_paid(t0 + 30 * DAY, t0 + 30 * DAY);
    let early = app.deliver(&renewal).await;
    let status = early.status();
    let text = early.text().await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("EVENT_OUT_OF_ORDER"), "{text}");
    let active =
        billing.subscription("customer.subscription.updated", t0 + 1, "active", PRICE_BASIC, t0, false);
    assert_eq!(app.deliver_status(&active).await, "processed");
    // Stripe redelivers the deferred event: it applies now.
    assert_eq!(app.deliver_status(&renewal).await, "processed");
    let sub = app.subscription(&ada.access).await;
    let start = time::OffsetDateTime::parse(
        sub["current_period_start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(start.unix_timestamp(), t0 + 30 * DAY);
}

/// The entitlement part of the subscription JSON.
fn entitlement(sub: &Value) -> Vec<Value> {
    [
        "plan",
        "status",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "monthly_agent_runs",
        "is_trial",
    ]
    .iter()
    .map(|k| sub[*k].clone())
    .collect()
}

/// Checkout from free, then the renewal a month later: five events as Stripe sends them.
fn realistic_sequence(b: &Billing) -> Vec<Value> {
    let t0 = b.t0;
    let next = t0 + 30 * DAY;
    vec![
        b.subscription("customer.subscription.created", t0, "incomplete", PRICE_BASIC, t0, false),
        b.checkout_completed(t0 + 1, "basic", true),
        b.invoice_paid(t0 + 1, t0),
        b.subscription("customer.subscription.updated", t0 + 1, "active", PRICE_BASIC, t0, false),
        b.invoice_paid(next, next),
    ]
}

/// Delivers in order; a non-2xx answer goes to the back of the queue, as Stripe retries.
async fn deliver_all(app: &TestApp, events: Vec<Value>) {
    let mut queue: std::collections::VecDeque<Value> = events.into();
    let mut deliveries = 0;
    while let Some(event) = queue.pop_front() {
        deliveries += 1;
        assert!(deliveries < 50, "events kept failing");
        let res = app.deliver(&event).await;
        if !res.status().is_success() {
            assert_eq!(res.status(), StatusCode::CONFLICT, "only deferrals are retried");
            queue.push_back(event);
        }
    }
}

#[test]
fn any_order_and_duplication_of_a_checkout_and_renewal_ends_in_the_in_order_state() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let app = rt.block_on(stripe_app());
    let expected = rt.block_on(async {
        let reference = app.register("reference@example.com").await;
        let billing = Billing::for_account(&app, &reference).await;
        deliver_all(&app, realistic_sequence(&billing)).await;
        entitlement(&app.subscription(&reference.access).await)
    });
    assert_eq!(expected[0], "basic");
    let cases = std::sync::atomic::AtomicU32::new(0);
    let strategy = (
        Just((0..5usize).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec((0..5usize, 0..8usize), 0..4),
    );
    let mut runner = TestRunner::new(Config { cases: 40, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |(order, duplicates)| {
            let n = cases.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let got = rt.block_on(async {
                let account = app.register(&format!("user{n}@example.com")).await;
                let billing = Billing::for_account(&app, &account).await;
                let events = realistic_sequence(&billing);
                let mut sent: Vec<Value> = order.iter().map(|i| events[*i].clone()).collect();
                for (which, at) in &duplicates {
                    sent.insert((*at).min(sent.len()), events[*which].clone());
                }
                deliver_all(&app, sent).await;
                entitlement(&app.subscription(&account.access).await)
            });
            // Periods differ per user only through t0, which is the same fixed clock for all.
            prop_assert_eq!(&got, &expected, "order {:?} duplicates {:?}", order, duplicates);
            Ok(())
        })
        .expect("every permutation ends in the in-order state");
}
