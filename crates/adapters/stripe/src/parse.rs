//! Reads a verified event's JSON, taking only the fields Tollgate uses and tolerating API
//! versions: a subscription's period on the subscription (older) or on its items (current); its
//! price at `items.data[].price.id` or, older, `plan.id`; an invoice's subscription at
//! `subscription` or `parent.subscription_details.subscription`; an expandable field as an id
//! string or an object with an `id`. Unknown fields and event types are ignored.

use serde_json::Value;
use tollgate_domain::{
    BillingEvent, Period, PlanId, ProviderSubscription, ProviderSubscriptionId, SubscriptionStatus, Timestamp,
};
use tollgate_ports::{VerifiedEvent, WebhookError};

fn malformed(what: &str) -> WebhookError {
    WebhookError::Malformed(what.to_owned())
}

/// An id that may be expanded into an object.
/// An id, given as a string or as an expanded object with an `id`.
fn id_of<T: From<String>>(value: &Value) -> Option<T> {
    match value {
        Value::String(id) if !id.is_empty() => Some(T::from(id.clone())),
        Value::Object(object) => object.get("id").and_then(Value::as_str).map(|id| T::from(id.to_owned())),
        _ => None,
    }
}

fn timestamp(value: &Value) -> Option<Timestamp> {
    value.as_i64().and_then(|t| Timestamp::from_unix_timestamp(t).ok())
}

fn period(start: &Value, end: &Value) -> Option<Period> {
    Period::new(timestamp(start)?, timestamp(end)?).ok()
}

/// The event, or `Malformed` when it lacks an id, type or creation time.
pub fn event(payload: &[u8]) -> Result<VerifiedEvent, WebhookError> {
    let json: Value = serde_json::from_slice(payload).map_err(|_| malformed("not JSON"))?;
    let id =
        json.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| malformed("no id"))?;
    let event_type = json.get("type").and_then(Value::as_str).ok_or_else(|| malformed("no type"))?;
    let created = json.get("created").and_then(timestamp).ok_or_else(|| malformed("no created"))?;
    let object = &json["data"]["object"];
    let billing = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => checkout(object),
        "customer.subscription.created" | "customer.subscription.updated" => subscription(object),
        "customer.subscription.deleted" => {
            id_of(&object["id"]).map(|subscription_id| BillingEvent::SubscriptionDeleted { subscription_id })
        }
        "invoice.payment_succeeded" | "invoice.paid" => {
            invoice_subscription(object).map(|subscription_id| BillingEvent::PaymentSucceeded {
                subscription_id,
                customer_id: id_of(&object["customer"]),
                period: invoice_period(object),
            })
        }
        "invoice.payment_failed" => invoice_subscription(object).map(|subscription_id| {
            BillingEvent::PaymentFailed { subscription_id, customer_id: id_of(&object["customer"]) }
        }),
        _ => None,
    };
    Ok(VerifiedEvent { id: id.to_owned(), event_type: event_type.to_owned(), created, event: billing })
}

fn checkout(object: &Value) -> Option<BillingEvent> {
    if object["mode"].as_str().is_some_and(|m| m != "subscription") {
        return None;
    }
    let payment = object["payment_status"].as_str().unwrap_or_default();
    Some(BillingEvent::CheckoutCompleted {
        customer_id: id_of(&object["customer"]),
        subscription_id: id_of(&object["subscription"]),
        plan: object["metadata"]["plan"].as_str().and_then(|p| p.parse::<PlanId>().ok()),
        paid: matches!(payment, "paid" | "no_payment_required"),
    })
}

fn subscription(object: &Value) -> Option<BillingEvent> {
    let subscription_id = id_of(&object["id"])?;
    let status = object["status"].as_str()?.parse::<SubscriptionStatus>().ok()?;
    let item = &object["items"]["data"][0];
    let price_id = id_of(&item["price"]).or_else(|| id_of(&item["plan"])).or_else(|| id_of(&object["plan"]));
    let period = period(&item["current_period_start"], &item["current_period_end"])
        .or_else(|| period(&object["current_period_start"], &object["current_period_end"]));
    Some(BillingEvent::SubscriptionChanged(ProviderSubscription {
        subscription_id,
        customer_id: id_of(&object["customer"]),
        price_id,
        status,
        period,
        cancel_at_period_end: object["cancel_at_period_end"].as_bool().unwrap_or(false),
    }))
}

fn invoice_subscription(object: &Value) -> Option<ProviderSubscriptionId> {
    id_of(&object["subscription"])
        .or_else(|| id_of(&object["parent"]["subscription_details"]["subscription"]))
}

/// The billing period the invoice pays for: its subscription line's period.
fn invoice_period(object: &Value) -> Option<Period> {
    let lines = object["lines"]["data"].as_array()?;
    let is_subscription_line = |line: &&Value| {
        line["type"].as_str() == Some("subscription")
            || line["parent"]["subscription_item_details"].is_object()
    };
    lines
        .iter()
        .filter(is_subscription_line)
        .chain(lines.iter())
        .find_map(|line| period(&line["period"]["start"], &line["period"]["end"]))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
