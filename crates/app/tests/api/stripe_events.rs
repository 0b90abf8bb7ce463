//! Signed Stripe events for the webhook tests, shaped like the current API (or an older one).

use serde_json::{json, Value};
use tollgate_domain::{SubscriptionId, UserId};

use crate::helpers::{Account, TestApp};

pub const WEBHOOK_SECRET: &str = "whsec_tollgate_test";
pub const PRICE_BASIC: &str = "price_basic_test";
pub const PRICE_PRO: &str = "price_pro_test";
pub const DAY: i64 = 86_400;

/// The settings that turn Stripe on, against `api_base`.
pub fn stripe_settings(api_base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STRIPE_SECRET_KEY", "sk_test_tollgate".to_owned()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("STRIPE_PRICE_ID_BASIC", PRICE_BASIC.to_owned()),
        ("STRIPE_PRICE_ID_PRO", PRICE_PRO.to_owned()),
        ("STRIPE_API_BASE", api_base.to_owned()),
    ]
}

/// Events about one user's Stripe customer and subscription.
pub struct Billing {
    pub customer: String,
    pub subscription: String,
    /// `created` of the first event; the first period starts here.
    pub t0: i64,
    pub counter: std::cell::Cell<u32>,
}

impl Billing {
    /// Links a fresh customer id to the account (as the first Checkout does) and returns its events.
    pub async fn for_account(app: &TestApp, account: &Account) -> Self {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let customer = format!("cus_{}", &n[..14]);
        let user: UserId = account.id.parse().expect("user id");
        let subs = app.store.ports().subs;
        let mut sub = subs
            .get_by_account(tollgate_domain::AccountId::personal(user))
            .await
            .expect("store")
            .expect("subscription");
        let expected = sub.version();
        let effect = sub.link_customer(&customer.as_str().into(), sub.created_at());
        subs.update(&sub, expected, effect).await.expect("linked");
        let _ = SubscriptionId::from_uuid(*sub.id().as_uuid());
        Self {
            customer,
            subscription: format!("sub_{}", &n[14..28]),
            t0: app.clock_now().unix_timestamp(),
            counter: std::cell::Cell::new(0),
        }
    }

    fn envelope(&self, kind: &str, created: i64, object: Value) -> Value {
        self.counter.set(self.counter.get() + 1);
        json!({"id": format!("evt_{}_{}", self.subscription, self.counter.get()), "object": "event",
               "type": kind, "created": created, "livemode": false, "api_version": "2026-08-27.basil",
               "data": {"object": object}})
    }

    /// `customer.subscription.created|updated` in the current API's shape.
    pub fn subscription(
        &self,
        kind: &str,
        created: i64,
        status: &str,
        price: &str,
        period_start: i64,
        cancel: bool,
    ) -> Value {
        let object = json!({
            "id": self.subscription, "object": "subscription", "customer": self.customer, "status": status,
            "cancel_at_period_end": cancel, "metadata": {},
            "items": {"object": "list", "data": [{
                "id": "si_1", "object": "subscription_item",
                "price": {"id": price, "object": "price", "unit_amount": 1900, "currency": "usd"},
                "current_period_start": period_start, "current_period_end": period_start + 30 * DAY
            }]}
        });
        self.envelope(kind, created, object)
    }

    /// The same, in an older API's shape (period on the subscription, price as `plan`).
    pub fn older_subscription(
        &self,
        kind: &str,
        created: i64,
        status: &str,
        price: &str,
        period_start: i64,
    ) -> Value {
        let object = json!({
            "id": self.subscription, "object": "subscription", "customer": self.customer, "status": status,
            "cancel_at_period_end": false, "plan": {"id": price, "object": "plan"},
            "current_period_start": period_start, "current_period_end": period_start + 30 * DAY,
            "items": {"data": [{"id": "si_1", "plan": {"id": price}}]}
        });
        self.envelope(kind, created, object)
    }

    pub fn deleted(&self, created: i64) -> Value {
        let object = json!({"id": self.subscription, "object": "subscription", "customer": self.customer, "status": "canceled"});
        self.envelope("customer.subscription.deleted", created, object)
    }

    pub fn checkout_completed(&self, created: i64, plan: &str, paid: bool) -> Value {
        let object = json!({
            "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "customer": self.customer,
            "subscription": self.subscription, "payment_status": if paid { "paid" } else { "unpaid" },
            "status": "complete", "client_reference_id": "u", "metadata": {"plan": plan}
        });
        self.envelope("checkout.session.completed", created, object)
    }

    /// `invoice.paid` for the period starting at `period_start` (current shape: `parent`).
    pub fn invoice_paid(&self, created: i64, period_start: i64) -> Value {
        let object = json!({
            "id": format!("in_{created}"), "object": "invoice", "customer": self.customer, "status": "paid",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": self.subscription}},
            "lines": {"data": [{"id": "il_1", "parent": {"subscription_item_details": {"subscription": self.subscription}},
                                "period": {"start": period_start, "end": period_start + 30 * DAY}}]}
        });
        self.envelope("invoice.paid", created, object)
    }

    pub fn payment_failed(&self, created: i64) -> Value {
        let object = json!({"id": format!("in_f{created}"), "object": "invoice", "customer": self.customer,
                            "subscription": self.subscription, "status": "open"});
        self.envelope("invoice.payment_failed", created, object)
    }
}

impl TestApp {
    pub fn clock_now(&self) -> time::OffsetDateTime {
        use tollgate_domain::Clock;
        self.clock.now()
    }

    /// Posts `event` signed as Stripe would, now.
    pub async fn deliver(&self, event: &Value) -> reqwest::Response {
        let body = event.to_string();
        // Signed at the application's "now": the tolerance is checked against its clock.
        let now = self.clock_now().unix_timestamp();
        let signature = tollgate_stripe::signature::sign(body.as_bytes(), WEBHOOK_SECRET.as_bytes(), now);
        self.client
            .post(self.url("/api/v1/billing/webhook"))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("delivered")
    }

    /// Delivers and returns the answer's `status` (or the problem code).
    pub async fn deliver_status(&self, event: &Value) -> String {
        let res = self.deliver(event).await;
        let body: Value = res.json().await.expect("json");
        body["status"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| body["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}
