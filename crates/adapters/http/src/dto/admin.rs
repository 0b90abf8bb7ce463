//! Wire shapes of `/api/v1/admin/*`: users, plans set by hand, grants and the audit log.

use serde::{Deserialize, Serialize};
use tollgate_domain::PlanCatalog;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::UserView;
use super::billing::SubscriptionView;
use super::wire::{rfc3339, whole_number};

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

impl From<&tollgate_ports::UsageRecord> for UsageRecordView {
    fn from(r: &tollgate_ports::UsageRecord) -> Self {
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
    pub fn new(d: &tollgate_usecases::admin::UserDetail, catalog: &PlanCatalog) -> Self {
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

/// One account as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccountDetail {
    #[schema(value_type = Object)]
    pub account: serde_json::Value,
    pub subscription: SubscriptionView,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub members: Vec<super::accounts::MemberView>,
    /// The newest usage records (at most 20).
    pub recent_usage: Vec<UsageRecordView>,
}

impl AdminAccountDetail {
    pub fn new(d: &tollgate_usecases::admin::AccountDetail, catalog: &PlanCatalog) -> Self {
        let billing = d.subscription.billing();
        Self {
            account: serde_json::json!({
                "id": d.account.id,
                "name": d.account.name.as_str(),
                "kind": d.account.kind.as_str(),
                "created_at": rfc3339(d.account.created_at),
            }),
            subscription: SubscriptionView::new(&d.subscription, catalog),
            stripe_customer_id: billing.customer_id.as_deref().map(str::to_owned),
            stripe_subscription_id: billing.subscription_id.as_deref().map(str::to_owned),
            members: d.members.iter().map(super::accounts::MemberView::from).collect(),
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
    /// The account changed (a user's changes name their personal account).
    pub target_account_id: Option<Uuid>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub at: String,
}

impl From<&tollgate_ports::AuditEntry> for AuditEntryView {
    fn from(e: &tollgate_ports::AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor.clone(),
            action: e.action.as_str().to_owned(),
            target_user_id: e.target_user_id.map(|u| *u.as_uuid()),
            target_account_id: e.target_account_id.map(|a| *a.as_uuid()),
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
