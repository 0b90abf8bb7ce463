//! Wire shapes of the service API: `/api/v1/usage/*` (check, consume, refund) and
//! `/api/v1/reservations` (hold, commit, release).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_ports::Reservation;
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire::{rfc3339, whole_number};

/// An id that, when the field is there, is one (`null` is not an id).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Uuid>, D::Error> {
    Uuid::deserialize(deserializer).map(Some)
}

/// The quota as the service API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceQuotaView {
    /// The account whose pool this is.
    pub account_id: Uuid,
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
            account_id: *q.account_id.as_uuid(),
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
    /// The user: alone, their personal account pays; with `account_id`, a member's use of it
    /// (their cap applied, 403 `NOT_A_MEMBER` if they are not one). One of the two is required.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub user_id: Option<Uuid>,
    /// The account that pays (alone: the account's own use, no member's cap).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub account_id: Option<Uuid>,
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
    /// The user: alone, their personal account pays; with `account_id`, a member's use of it
    /// (their cap applied, 403 `NOT_A_MEMBER` if they are not one). One of the two is required.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub user_id: Option<Uuid>,
    /// The account that pays (alone: the account's own use, no member's cap).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub account_id: Option<Uuid>,
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
    /// The user: alone, their personal account pays; with `account_id`, a member's use of it
    /// (their cap applied, 403 `NOT_A_MEMBER` if they are not one). One of the two is required.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub user_id: Option<Uuid>,
    /// The account that pays (alone: the account's own use, no member's cap).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Uuid, nullable = false)]
    pub account_id: Option<Uuid>,
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
    /// The account whose pool holds the runs.
    pub account_id: Uuid,
    /// The member it holds for; `null` for the account's own use.
    pub user_id: Option<Uuid>,
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
            account_id: *r.account_id.as_uuid(),
            user_id: r.user_id.map(|u| *u.as_uuid()),
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
