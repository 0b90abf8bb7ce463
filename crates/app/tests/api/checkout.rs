//! Checkout and the customer portal over HTTP, against an HTTP mock of Stripe answering with
//! Stripe's own fixture objects.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{problem, spawn_app_with, TestApp};
use crate::stripe_events::{stripe_settings, Billing, PRICE_BASIC};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../adapters/stripe/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

async fn app_with_stripe(server: &MockServer) -> TestApp {
    let settings = stripe_settings(&server.uri());
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&pairs).await
}

async fn mock(server: &MockServer, route: &str, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn checkout_creates_the_customer_once_and_returns_the_session() {
    let stripe = MockServer::start().await;
    mock(&stripe, "/v1/customers", fixture("customer"), 1).await;
    mock(&stripe, "/v1/checkout/sessions", fixture("checkout.session"), 2).await;
    let app = app_with_stripe(&stripe).await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..2 {
        let res = app
            .post(
                "/api/v1/billing/create-checkout-session",
                Some(&ada.access),
                json!({"plan": "basic", "success_url": "http://localhost:3000/thanks"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["checkout_session_id"], fixture("checkout.session")["id"]);
        assert_eq!(body["checkout_url"], fixture("checkout.session")["url"]);
    }
    assert_eq!(app.subscription(&ada.access).await["stripe_customer_id"], "cus_QXg1o8vcGmoR32");
    let sent: Vec<String> =
        stripe.received_requests().await.unwrap().iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(
        sent.iter().filter(|p| *p == "/v1/customers").count(),
        1,
        "the customer is created once: {sent:?}"
    );
}

#[tokio::test]
async fn checkout_redirects_must_stay_on_allowed_origins() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let ada = app.register("ada@example.com").await;
    let res = app
        .post(
            "/api/v1/billing/create-checkout-session",
            Some(&ada.access),
            json!({"plan": "pro", "cancel_url": "https://evil.example/"}),
        )
        .await;
    problem(res, StatusCode::BAD_REQUEST, "INVALID_REDIRECT_URL").await;
    assert!(stripe.received_requests().await.unwrap().is_empty(), "nothing was sent to Stripe");
}

#[tokio::test]
async fn a_paying_subscriber_cannot_check_out_again_and_uses_the_portal() {
    let stripe = MockServer::start().await;
    mock(&stripe, "/v1/billing_portal/sessions", fixture("billing_portal.session"), 1).await;
    let app = app_with_stripe(&stripe).await;
    let ada = app.register("ada@example.com").await;
    let no_account = app.post("/api/v1/billing/create-portal-session", Some(&ada.access), json!({})).await;
    problem(no_account, StatusCode::CONFLICT, "NO_BILLING_ACCOUNT").await;
    let billing = Billing::for_account(&app, &ada).await;
    let active = billing.subscription(
        "customer.subscription.created",
        billing.t0,
        "active",
        PRICE_BASIC,
        billing.t0,
        false,
    );
    assert_eq!(app.deliver_status(&active).await, "processed");
    let again =
        app.post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": "pro"})).await;
    problem(again, StatusCode::CONFLICT, "ALREADY_SUBSCRIBED").await;
    let portal = app
        .post(
            "/api/v1/billing/create-portal-session?return_url=http%3A%2F%2Flocalhost%3A3000%2Faccount",
            Some(&ada.access),
            json!({}),
        )
        .await;
    assert_eq!(portal.status(), StatusCode::OK);
    let body: Value = portal.json().await.unwrap();
    assert_eq!(body["portal_url"], fixture("billing_portal.session")["url"]);
}

#[tokio::test]
async fn a_stripe_failure_is_a_502_without_stripe_internals() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "internal detail sk_live_123"}})),
        )
        .mount(&stripe)
        .await;
    let app = app_with_stripe(&stripe).await;
    let ada = app.register("ada@example.com").await;
    let res = app
        .post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": "basic"}))
        .await;
    let body = problem(res, StatusCode::BAD_GATEWAY, "PAYMENT_PROVIDER_ERROR").await;
    assert!(!body.to_string().contains("sk_live") && !body.to_string().contains("internal detail"), "{body}");
}
