//! Wire shapes (SPEC §3), kept apart from domain types. Timestamps are RFC 3339 UTC.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_domain::{Plan, PlanCatalog, Subscription, User};
use tollgate_ports::outbound::{Reservation, Session};
use utoipa::ToSchema;
use uuid::Uuid;

/// A time as the API writes it (RFC 3339, UTC).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

// ---- auth ---------------------------------------------------------------------------------

/// Fields are read as optional so that every missing one is listed in the 422; the document says
/// what a valid request is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Not blank, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub fullname: Option<String>,
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token whose family to revoke; absent or `null` revokes nothing.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub fullname: String,
    pub email: String,
    pub role: String,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: *u.id.as_uuid(),
            fullname: u.fullname.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            role: u.role.as_str().to_owned(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    #[serde(flatten)]
    pub tokens: TokenResponse,
}

// ---- billing ------------------------------------------------------------------------------

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
            user_id: *s.user_id().as_uuid(),
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

// ---- sessions -----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct CreateSessionRequest {
    /// Trimmed; blank or `null` means none.
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub title: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub title: Option<String>,
    pub created_at: String,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self { id: *s.id.as_uuid(), title: s.title.clone(), created_at: rfc3339(s.created_at) }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Default 0.
    #[param(minimum = 0, maximum = 4294967295u32)]
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub status: &'static str,
}

// ---- service API (SPEC §7.2) --------------------------------------------------------------

/// A whole number as JSON Schema's `integer` means it: `5` and `5.0` alike; `null` is absent.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(D::Error::custom(format!("invalid value: {n}, expected a whole number"))),
    }
}

/// The quota as the service API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceQuotaView {
    pub plan: String,
    pub status: String,
    pub monthly_agent_runs: u32,
    /// `null` when unlimited.
    pub monthly_agent_runs_limit: Option<u32>,
    /// Runs held by reservations, counted against the quota.
    pub reserved_runs: u32,
    /// `null` when unlimited.
    pub remaining_runs: Option<u32>,
    pub resets_at: String,
}

impl From<&QuotaSnapshot> for ServiceQuotaView {
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

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct UsageCheckRequest {
    pub user_id: Uuid,
    /// Runs the caller is about to spend (default 1).
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub runs: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageCheckResponse {
    /// Whether `runs` could be consumed now (nothing is debited).
    pub allowed: bool,
    /// Why not: `SUBSCRIPTION_LIMIT_REACHED` or `SUBSCRIPTION_INACTIVE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub subscription: ServiceQuotaView,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct UsageConsumeRequest {
    pub user_id: Uuid,
    /// Runs to consume (default 1).
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub runs: Option<u32>,
    /// What consumed them, recorded with the usage (at most 200 characters).
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageConsumeResponse {
    /// Give it to `POST /usage/refund` if the run fails.
    pub consumption_id: Uuid,
    pub runs: u32,
    pub subscription: ServiceQuotaView,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UsageRefundRequest {
    pub consumption_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRefundResponse {
    pub consumption_id: Uuid,
    /// Always `true`: refunded now or before.
    pub refunded: bool,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ReserveRequest {
    pub user_id: Uuid,
    /// Runs to hold (default 1).
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub runs: Option<u32>,
    /// How long the hold lives, 1–86,400 (default 900); past it the runs come back.
    #[schema(minimum = 1, maximum = 86400)]
    #[serde(default, deserialize_with = "whole_number")]
    pub ttl_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CommitRequest {
    /// Runs the work actually cost, at most the runs held (default: all of them).
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub runs: Option<u32>,
}

/// A reservation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Runs held.
    pub runs: u32,
    /// Runs charged by the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed_runs: Option<u32>,
    /// `held`, `committed`, `released` or `expired`.
    pub status: &'static str,
    pub expires_at: String,
    pub created_at: String,
}

impl ReservationView {
    pub fn new(r: &Reservation, now: OffsetDateTime) -> Self {
        Self {
            id: r.id,
            user_id: *r.user_id.as_uuid(),
            runs: r.runs.get(),
            committed_runs: r.committed_runs.map(|n| n.get()),
            status: r.status_at(now).as_str(),
            expires_at: rfc3339(r.expires_at),
            created_at: rfc3339(r.created_at),
        }
    }
}

/// A new hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservedResponse {
    #[serde(flatten)]
    pub reservation: ReservationView,
    pub subscription: ServiceQuotaView,
}

/// A commit's or release's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettledResponse {
    pub id: Uuid,
    /// `committed`, `released` or `expired`.
    pub status: &'static str,
    /// Runs charged (commits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
}

// ---- usage history (SPEC §8) --------------------------------------------------------------

/// Which records, grouped how.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// RFC 3339; default 30 days before `to`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// `day` (UTC days, the default) or `period` (the subscription's monthly periods).
    #[param(pattern = "^(day|period)$")]
    pub granularity: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBucketView {
    pub start: String,
    pub end: String,
    /// Runs consumed in the bucket, refunded ones included.
    pub runs_consumed: u64,
    /// Of those, runs given back.
    pub runs_refunded: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageHistoryResponse {
    pub buckets: Vec<UsageBucketView>,
    pub total_consumed: u64,
    pub total_refunded: u64,
}

impl UsageHistoryResponse {
    pub fn new(buckets: &[tollgate_ports::services::usage_history::UsageBucket]) -> Self {
        Self {
            buckets: buckets
                .iter()
                .map(|b| UsageBucketView {
                    start: rfc3339(b.start),
                    end: rfc3339(b.end),
                    runs_consumed: b.runs_consumed,
                    runs_refunded: b.runs_refunded,
                })
                .collect(),
            total_consumed: buckets.iter().map(|b| b.runs_consumed).sum(),
            total_refunded: buckets.iter().map(|b| b.runs_refunded).sum(),
        }
    }
}

// ---- admin (SPEC §8) ----------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUserQuery {
    /// Part of the email or the name (case-insensitive); all users when absent.
    #[param(max_length = 200)]
    pub query: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Default 0.
    #[param(minimum = 0, maximum = 4294967295u32)]
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserPage {
    pub items: Vec<UserView>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRecordView {
    pub id: Uuid,
    pub runs: u32,
    /// `session.create`, `METHOD /route`, `service:<reason>` or `reservation.commit`.
    pub reason: String,
    pub refunded: bool,
    /// What the runs paid for (a session, a reservation), when known.
    pub resource_id: Option<Uuid>,
    pub at: String,
}

impl From<&tollgate_ports::outbound::UsageRecord> for UsageRecordView {
    fn from(r: &tollgate_ports::outbound::UsageRecord) -> Self {
        Self {
            id: r.id,
            runs: r.units,
            reason: r.reason.stored(),
            refunded: r.refunded,
            resource_id: r.resource_id,
            at: rfc3339(r.at),
        }
    }
}

/// One user as an operator sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserDetail {
    pub user: UserView,
    pub subscription: SubscriptionView,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    /// The newest usage records (at most 20).
    pub recent_usage: Vec<UsageRecordView>,
}

impl AdminUserDetail {
    pub fn new(d: &tollgate_ports::services::admin::UserDetail, catalog: &PlanCatalog) -> Self {
        let billing = d.subscription.billing();
        Self {
            user: UserView::from(&d.user),
            subscription: SubscriptionView::new(&d.subscription, catalog),
            stripe_customer_id: billing.customer_id.as_deref().map(str::to_owned),
            stripe_subscription_id: billing.subscription_id.as_deref().map(str::to_owned),
            recent_usage: d.recent_usage.iter().map(UsageRecordView::from).collect(),
        }
    }
}

/// Every plan an operator may set.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AdminPlan {
    Free,
    Basic,
    Pro,
    Enterprise,
}

/// The word a limit may be instead of a number.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unlimited {
    Unlimited,
}

/// A per-customer limit: a whole number of runs per period, or `"unlimited"`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RunsLimitInput {
    Runs(u32),
    Unlimited(Unlimited),
}

impl<'de> Deserialize<'de> for RunsLimitInput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(word) if word == "unlimited" => {
                Ok(Self::Unlimited(Unlimited::Unlimited))
            }
            serde_json::Value::Number(n) => match n.as_f64() {
                // The document's `int32`: at most 2,147,483,647 runs per period.
                Some(n) if n.fract() == 0.0 && (0.0..=f64::from(i32::MAX)).contains(&n) => {
                    Ok(Self::Runs(n as u32))
                }
                _ => Err(D::Error::custom(format!("invalid value: {n}, expected a whole number of runs"))),
            },
            other => Err(D::Error::custom(format!("invalid value: {other}, expected runs or \"unlimited\""))),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminPlanRequest {
    #[schema(value_type = AdminPlan, required = true)]
    pub plan: Option<String>,
    /// The customer's own limit; absent or `null`: the plan's.
    #[schema(nullable)]
    pub runs_limit: Option<RunsLimitInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminGrantRequest {
    /// Extra runs for the current period.
    #[schema(value_type = u32, minimum = 1, maximum = 1000000, required = true)]
    #[serde(default, deserialize_with = "whole_number")]
    pub runs: Option<u32>,
    /// Why (kept in the audit log): 1–500 characters.
    #[schema(
        value_type = String,
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u2069\\uFEFF]*[^\\s\\u0000-\\u001F\\u007F-\\u009F\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u2069\\uFEFF][^\\u0000-\\u001F\\u007F-\\u009F\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u2069\\uFEFF]*$",
        required = true
    )]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Default 0.
    #[param(minimum = 0, maximum = 4294967295u32)]
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: Uuid,
    /// `user:<id> <email>` (admin API) or `cli:<login>` (command line).
    pub actor: String,
    /// `user.set_plan`, `user.grant_runs` or `user.set_role`.
    pub action: String,
    pub target_user_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub at: String,
}

impl From<&tollgate_ports::outbound::AuditEntry> for AuditEntryView {
    fn from(e: &tollgate_ports::outbound::AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor.clone(),
            action: e.action.as_str().to_owned(),
            target_user_id: e.target_user_id.map(|u| *u.as_uuid()),
            before: e.before.clone(),
            after: e.after.clone(),
            reason: e.reason.clone(),
            request_id: e.request_id.clone(),
            at: rfc3339(e.at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}
