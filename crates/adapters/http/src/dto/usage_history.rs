//! Wire shapes of `/api/v1/billing/usage`: usage records grouped by day or month.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::rfc3339;

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
    /// One member's use only (owners and admins may name anyone; a member, themselves).
    #[param(format = Uuid)]
    pub user_id: Option<String>,
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
    pub fn new(buckets: &[tollgate_usecases::usage_history::UsageBucket]) -> Self {
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
