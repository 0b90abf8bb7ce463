//! Against a real Stripe emulator: localstripe (PyPI), started fresh on a free loopback port.
//! Its JSON follows an older API version, a good test of the adapter's tolerance. It implements
//! customers, plans, payment methods and subscriptions, and signs and delivers webhooks itself;
//! it has no Checkout or Portal (those are tested against an HTTP mock).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tollgate_ports::PaymentProvider;
use tollgate_stripe::StripeProvider;

struct LocalStripe {
    child: Child,
    base: String,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Starts localstripe, or says why not (outside CI only; CI=true fails instead).
async fn localstripe() -> Option<LocalStripe> {
    let binary = std::env::var("TOLLGATE_TEST_LOCALSTRIPE")
        .unwrap_or_else(|_| format!("{}/../../.venv/bin/localstripe", env!("CARGO_MANIFEST_DIR")));
    if !std::path::Path::new(&binary).exists() {
        assert!(!in_ci(), "localstripe is not installed at {binary} (scripts/localstripe.sh installs it)");
        eprintln!("SKIPPED: localstripe not installed at {binary}; run scripts/localstripe.sh");
        return None;
    }
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--from-scratch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let emulator = LocalStripe { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let ready = client
            .get(format!("{}/v1/customers", emulator.base))
            .basic_auth("sk_test_local", Some(""))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Some(emulator);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("localstripe did not start on port {port}");
}

impl LocalStripe {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let res = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .basic_auth("sk_test_local", Some(""))
            .form(form)
            .send()
            .await
            .expect("localstripe answered");
        let status = res.status();
        let body = res.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {body}");
        if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).expect("json")
        }
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .basic_auth("sk_test_local", Some(""))
            .send()
            .await
            .expect("localstripe answered")
            .json()
            .await
            .expect("json")
    }
}

#[tokio::test]
async fn a_customer_created_through_the_adapter_exists_in_the_emulator() {
    let Some(stripe) = localstripe().await else { return };
    let provider = StripeProvider::new("sk_test_local", &stripe.base).expect("client");
    let user: tollgate_domain::UserId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().expect("uuid");
    let key = format!("customer-{user}");
    let id = provider
        .create_customer(
            tollgate_domain::AccountId::personal(user),
            user,
            "ada@example.com",
            "Ada Lovelace",
            &key,
        )
        .await
        .expect("created");
    assert!(id.starts_with("cus_"), "{id}");
    let stored = stripe.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(stored["email"], "ada@example.com");
    assert_eq!(stored["name"], "Ada Lovelace");
    assert_eq!(stored["metadata"]["user_id"], user.to_string());
}

#[tokio::test]
async fn webhooks_signed_and_delivered_by_the_emulator_upgrade_the_user() {
    use reqwest::StatusCode;
    use serde_json::json;

    use crate::helpers::spawn_app_with;

    let Some(stripe) = localstripe().await else { return };
    let secret = "whsec_localstripe";
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_local"),
        ("STRIPE_WEBHOOK_SECRET", secret),
        ("STRIPE_API_BASE", stripe.base.as_str()),
        ("STRIPE_PRICE_ID_BASIC", "plan_basic"),
        ("STRIPE_PRICE_ID_PRO", "plan_pro"),
    ])
    .await;
    let ada = app.register("ada@example.com").await;
    // The emulator has no Checkout: the call fails (502), but the customer it creates first is stored.
    let checkout = app
        .post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": "basic"}))
        .await;
    assert_eq!(checkout.status(), StatusCode::BAD_GATEWAY);
    let customer = app.subscription(&ada.access).await["stripe_customer_id"]
        .as_str()
        .expect("customer linked")
        .to_owned();
    assert!(stripe.get(&format!("/v1/customers/{customer}")).await["id"] == customer.as_str());

    // The emulator delivers its signed events to the running server.
    let webhook_url = app.url("/api/v1/billing/webhook");
    stripe.post("/_config/webhooks/tollgate", &[("url", webhook_url.as_str()), ("secret", secret)]).await;
    stripe
        .post(
            "/v1/plans",
            &[
                ("id", "plan_basic"),
                ("amount", "1900"),
                ("currency", "usd"),
                ("interval", "month"),
                ("product[name]", "Basic"),
            ],
        )
        .await;
    let card = stripe
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let card = card["id"].as_str().expect("payment method").to_owned();
    stripe.post(&format!("/v1/payment_methods/{card}/attach"), &[("customer", customer.as_str())]).await;
    stripe
        .post(
            &format!("/v1/customers/{customer}"),
            &[("invoice_settings[default_payment_method]", card.as_str())],
        )
        .await;
    let subscription = stripe
        .post("/v1/subscriptions", &[("customer", customer.as_str()), ("items[0][plan]", "plan_basic")])
        .await;
    assert_eq!(subscription["status"], "active");

    let mut sub = serde_json::Value::Null;
    for _ in 0..100 {
        sub = app.subscription(&ada.access).await;
        if sub["plan"] == "basic" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((sub["plan"].as_str(), sub["status"].as_str()), (Some("basic"), Some("active")), "{sub}");
    assert_eq!(sub["monthly_agent_runs_limit"], 1000);
    let start = time::OffsetDateTime::parse(
        sub["current_period_start"].as_str().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert_eq!(start.unix_timestamp(), subscription["current_period_start"].as_i64().expect("period start"));

    // Cancelling in the emulator deletes the subscription: back to free.
    let id = subscription["id"].as_str().expect("subscription id");
    let res = reqwest::Client::new()
        .delete(format!("{}/v1/subscriptions/{id}", stripe.base))
        .basic_auth("sk_test_local", Some(""))
        .send()
        .await
        .expect("deleted");
    assert!(res.status().is_success());
    for _ in 0..100 {
        sub = app.subscription(&ada.access).await;
        if sub["plan"] == "free" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((sub["plan"].as_str(), sub["status"].as_str()), (Some("free"), Some("active")), "{sub}");
}
