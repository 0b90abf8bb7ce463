//! Wire shapes of `/api/v1/billing/*`: plans, the subscription and its quota, trial, Checkout,
//! the portal and the Stripe webhook.

use serde::{Deserialize, Serialize};
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_domain::{Plan, PlanCatalog, Subscription};
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire::rfc3339;

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    pub amount_minor: u64,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    /// `null` when unlimited.
    pub monthly_agent_runs_limit: Option<u32>,
    /// `null` for a custom price.
    pub price: Option<PriceView>,
    pub self_serve_checkout: bool,
}

impl From<&Plan> for PlanView {
    fn from(p: &Plan) -> Self {
        Self {
            id: p.id.as_str().to_owned(),
            name: p.name.clone(),
            monthly_agent_runs_limit: p.runs.as_option(),
            price: p
                .price
                .map(|m| PriceView { amount_minor: m.amount_minor(), currency: m.currency().to_string() }),
            self_serve_checkout: p.self_serve,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialTermsView {
    pub days: u16,
    pub runs: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlansResponse {
    pub plans: Vec<PlanView>,
    pub trial: TrialTermsView,
}

impl From<&PlanCatalog> for PlansResponse {
    fn from(c: &PlanCatalog) -> Self {
        Self {
            plans: c.plans().iter().map(PlanView::from).collect(),
            trial: TrialTermsView { days: c.trial().days, runs: c.trial().runs.get() },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: Uuid,
    /// The account it belongs to (SPEC §13).
    pub account_id: Uuid,
    /// The account's id again, under its name from before accounts (for a personal account it
    /// is its user's id); read `account_id`.
    #[schema(deprecated)]
    pub user_id: Uuid,
    pub plan: String,
    pub status: String,
    pub monthly_agent_runs: u32,
    /// `null` when unlimited.
    pub monthly_agent_runs_limit: Option<u32>,
    /// Runs held by live reservations, counted against the limit.
    pub reserved_runs: u32,
    /// Extra runs an operator granted for this period (already in the limit).
    pub granted_runs: u32,
    /// `limit − used − reserved`; `null` when unlimited.
    pub remaining_runs: Option<u32>,
    pub current_period_start: String,
    pub current_period_end: String,
    pub cancel_at_period_end: bool,
    pub is_trial: bool,
    pub trial_end: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SubscriptionView {
    pub fn new(s: &Subscription, catalog: &PlanCatalog) -> Self {
        let limit = s.runs_limit(catalog);
        Self {
            id: *s.id().as_uuid(),
            account_id: *s.account_id().as_uuid(),
            user_id: *s.account_id().as_uuid(),
            plan: s.plan().as_str().to_owned(),
            status: s.status().as_str().to_owned(),
            monthly_agent_runs: s.runs_used().get(),
            monthly_agent_runs_limit: limit.as_option(),
            reserved_runs: s.runs_reserved().get(),
            granted_runs: s.runs_granted().get(),
            remaining_runs: limit.remaining(tollgate_domain::RunCount::new(
                s.runs_used().get().saturating_add(s.runs_reserved().get()),
            )),
            current_period_start: rfc3339(s.period().start()),
            current_period_end: rfc3339(s.period().end()),
            cancel_at_period_end: s.cancel_at_period_end(),
            is_trial: s.is_trial(),
            trial_end: s.trial().map(|t| rfc3339(t.ends_at)),
            stripe_customer_id: s.billing().customer_id.as_deref().map(str::to_owned),
            created_at: rfc3339(s.created_at()),
            updated_at: rfc3339(s.updated_at()),
        }
    }
}

/// The quota in a 402 answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    pub plan: String,
    pub status: String,
    pub monthly_agent_runs: u32,
    pub monthly_agent_runs_limit: Option<u32>,
    /// Runs held by live reservations, counted against the limit.
    pub reserved_runs: u32,
    /// What is left: limit − used − reserved (`null` when unlimited).
    pub remaining_runs: Option<u32>,
    pub resets_at: String,
}

impl QuotaView {
    pub fn resets_at_text(&self) -> &str {
        &self.resets_at
    }
}

impl From<&QuotaSnapshot> for QuotaView {
    fn from(q: &QuotaSnapshot) -> Self {
        Self {
            plan: q.plan.as_str().to_owned(),
            status: q.status.as_str().to_owned(),
            monthly_agent_runs: q.runs_used.get(),
            monthly_agent_runs_limit: q.runs_limit.as_option(),
            reserved_runs: q.runs_reserved.get(),
            remaining_runs: q.remaining(),
            resets_at: rfc3339(q.resets_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialResponse {
    pub message: String,
    pub trial_end: String,
    pub runs_limit: u32,
}

/// The plans Checkout sells.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CheckoutPlan {
    Basic,
    Pro,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    #[schema(value_type = CheckoutPlan, required = true)]
    pub plan: Option<String>,
    /// On an allowed origin (`TOLLGATE_ALLOWED_REDIRECT_ORIGINS`); may contain `{CHECKOUT_SESSION_ID}`.
    #[schema(max_length = 2048)]
    pub success_url: Option<String>,
    /// On an allowed origin.
    #[schema(max_length = 2048)]
    pub cancel_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutResponse {
    pub checkout_session_id: String,
    pub checkout_url: String,
}

#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalRequest {
    /// On an allowed origin (`TOLLGATE_ALLOWED_REDIRECT_ORIGINS`).
    #[schema(max_length = 2048)]
    #[param(max_length = 2048)]
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalResponse {
    pub portal_url: String,
}

/// A Stripe event, as far as the document describes it (the signature covers the raw body).
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "read by serde and utoipa only")]
pub struct StripeEvent {
    /// `evt_…`.
    id: String,
    /// e.g. `customer.subscription.updated`.
    #[schema(rename = "type")]
    kind: String,
    /// Unix seconds.
    created: i64,
    data: StripeEventData,
}

/// The event's object.
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "read by serde and utoipa only")]
pub struct StripeEventData {
    object: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// `processed`, `duplicate`, `stale` or `ignored`.
    pub status: &'static str,
    pub event_id: String,
    pub event_type: String,
}
