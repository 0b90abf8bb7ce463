//! The outbound calls against an HTTP mock answering with Stripe's own fixture objects: the
//! form parameters and idempotency keys sent, and the error mapping.

#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

use std::collections::HashMap;

use serde_json::{json, Value};
use tollgate_domain::{PlanId, UserId};
use tollgate_ports::{CheckoutRequest, PaymentProvider, ProviderError};
use tollgate_stripe::StripeProvider;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

fn user() -> UserId {
    "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().expect("uuid")
}

/// An organisation the user belongs to.
fn team() -> tollgate_domain::AccountId {
    "0193a1b2-0000-7000-8000-00000000000a".parse().expect("uuid")
}

async fn provider(server: &MockServer) -> StripeProvider {
    StripeProvider::new("sk_test_tollgate", &server.uri()).expect("client")
}

#[tokio::test]
async fn the_customer_is_created_with_email_name_user_id_and_the_given_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(header("authorization", "Bearer sk_test_tollgate"))
        .and(header("idempotency-key", "customer-67e55044-10b1-426f-9247-bb680e5fe0c8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("customer")))
        .expect(1)
        .mount(&server)
        .await;
    let id = provider(&server)
        .await
        .create_customer(
            tollgate_domain::AccountId::personal(user()),
            user(),
            "ada@example.com",
            "Ada Lovelace",
            "customer-67e55044-10b1-426f-9247-bb680e5fe0c8",
        )
        .await
        .expect("created");
    assert_eq!(id, "cus_QXg1o8vcGmoR32");
    let sent = form(&server.received_requests().await.expect("recorded")[0]);
    assert_eq!(sent["email"], "ada@example.com");
    assert_eq!(sent["name"], "Ada Lovelace");
    assert_eq!(sent["metadata[user_id]"], user().to_string());
    assert_eq!(sent["metadata[account_id]"], user().to_string(), "a personal account's id is its user's");
}

#[tokio::test]
async fn checkout_is_a_subscription_for_the_plans_price_tagged_with_the_user_and_plan() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("idempotency-key", "checkout-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("checkout.session")))
        .expect(1)
        .mount(&server)
        .await;
    let request = CheckoutRequest {
        account_id: team(),
        user_id: user(),
        customer_id: "cus_1".into(),
        plan: PlanId::Pro,
        price_id: "price_pro".into(),
        quantity: 3,
        success_url: "http://localhost:3000/ok".into(),
        cancel_url: "http://localhost:3000/no".into(),
        idempotency_key: "checkout-1".into(),
    };
    let session = provider(&server).await.create_checkout_session(&request).await.expect("session");
    let expected = fixture("checkout.session");
    assert_eq!(Some(session.id.as_str()), expected["id"].as_str());
    assert_eq!(Some(session.url.as_str()), expected["url"].as_str());
    let sent = form(&server.received_requests().await.expect("recorded")[0]);
    let want = [
        ("mode", "subscription"),
        ("customer", "cus_1"),
        ("client_reference_id", "0193a1b2-0000-7000-8000-00000000000a"),
        ("metadata[account_id]", "0193a1b2-0000-7000-8000-00000000000a"),
        ("subscription_data[metadata][account_id]", "0193a1b2-0000-7000-8000-00000000000a"),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "3"),
        ("metadata[user_id]", "67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ("metadata[plan]", "pro"),
        ("subscription_data[metadata][user_id]", "67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ("subscription_data[metadata][plan]", "pro"),
        ("success_url", "http://localhost:3000/ok"),
        ("cancel_url", "http://localhost:3000/no"),
    ];
    for (key, value) in want {
        assert_eq!(sent.get(key).map(String::as_str), Some(value), "{key} in {sent:?}");
    }
}

#[tokio::test]
async fn the_portal_session_is_opened_for_the_customer_with_the_return_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("billing_portal.session")))
        .expect(1)
        .mount(&server)
        .await;
    let url = provider(&server)
        .await
        .create_portal_session(&"cus_1".into(), "http://localhost:3000/account")
        .await
        .expect("url");
    assert_eq!(Some(url.as_str()), fixture("billing_portal.session")["url"].as_str());
    let request = &server.received_requests().await.expect("recorded")[0];
    let sent = form(request);
    assert_eq!(sent["customer"], "cus_1");
    assert_eq!(sent["return_url"], "http://localhost:3000/account");
    let key = request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(key.starts_with("portal-"), "an idempotency key is sent: {key:?}");
}

#[tokio::test]
async fn a_refusal_from_stripe_is_rejected_and_an_outage_is_unavailable() {
    let server = MockServer::start().await;
    let error = json!({"error": {"type": "invalid_request_error", "message": "No such price: 'price_x'", "param": "line_items[0][price]"}});
    Mock::given(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(400).set_body_json(error))
        .mount(&server)
        .await;
    Mock::given(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let p = provider(&server).await;
    match p.create_customer(tollgate_domain::AccountId::personal(user()), user(), "a@b.co", "A", "k").await {
        Err(ProviderError::Rejected(message)) => assert!(message.contains("No such price"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.create_portal_session(&"cus_1".into(), "http://x").await,
        Err(ProviderError::Unavailable(_))
    ));
    let unreachable = StripeProvider::new("sk_test", "http://127.0.0.1:9").expect("client");
    assert!(matches!(
        unreachable
            .create_customer(tollgate_domain::AccountId::personal(user()), user(), "a@b.co", "A", "k")
            .await,
        Err(ProviderError::Unavailable(_))
    ));
}

/// A per-seat subscription's quantity: its one item is read, then changed (not a new item
/// added), under the idempotency key given.
#[tokio::test]
async fn a_quantity_change_updates_the_subscriptions_item_under_its_key() {
    let server = MockServer::start().await;
    let subscription = fixture("subscription");
    let id = subscription["id"].as_str().expect("id").to_owned();
    let item = subscription["items"]["data"][0]["id"].as_str().expect("item").to_owned();
    Mock::given(method("GET"))
        .and(path(format!("/v1/subscriptions/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/subscriptions/{id}")))
        .and(header("idempotency-key", "seats-acme-7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(subscription))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server)
        .await
        .set_quantity(&tollgate_domain::ProviderSubscriptionId::new(id), 3, "seats-acme-7")
        .await
        .expect("updated");
    let received = server.received_requests().await.expect("recorded");
    let sent = form(&received[1]);
    assert_eq!(sent.get("items[0][id]"), Some(&item));
    assert_eq!(sent.get("items[0][quantity]").map(String::as_str), Some("3"));
}
