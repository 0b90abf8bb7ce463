//! The consumption decision: may this subscription spend `n` runs now, and if not, why.

use serde::Serialize;

use crate::plan::{PlanId, RunCount, RunLimit};
use crate::status::SubscriptionStatus;
use crate::Timestamp;

/// What the subscription looked like when a decision was made; the HTTP layer turns a refusal
/// into the 402 body's `subscription` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaSnapshot {
    /// The account whose pool this is.
    pub account_id: crate::AccountId,
    pub plan: PlanId,
    pub status: SubscriptionStatus,
    pub runs_used: RunCount,
    /// Runs held by live reservations, counted against the limit.
    pub runs_reserved: RunCount,
    pub runs_limit: RunLimit,
    /// When the counter next resets (the current period's end).
    #[serde(with = "time::serde::rfc3339")]
    pub resets_at: Timestamp,
    /// When this view was taken (the decision's `now`).
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: Timestamp,
}

impl QuotaSnapshot {
    /// Whole seconds from `as_of` until the counter resets (0 once due).
    pub fn seconds_to_reset(&self) -> i64 {
        (self.resets_at - self.as_of).whole_seconds().max(0)
    }

    /// What is left: `limit − used − reserved` (`None` when unlimited).
    pub fn remaining(&self) -> Option<u32> {
        self.runs_limit
            .remaining(RunCount::new(self.runs_used.get().saturating_add(self.runs_reserved.get())))
    }
}

/// Why a consumption is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The period's runs are spent; they come back at `snapshot.resets_at`.
    LimitReached,
    /// The subscription's status does not allow metered use (e.g. `unpaid`, or `past_due` beyond grace).
    Inactive,
    /// The pool has room, but the member's own cap for the period is spent (SPEC §13).
    MemberCap,
}

/// The answer to "may this subscription spend these runs now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeDecision {
    /// Allowed under `limit`; the store must still enforce it atomically.
    Allowed {
        limit: RunLimit,
        snapshot: QuotaSnapshot,
    },
    Refused {
        reason: Refusal,
        snapshot: QuotaSnapshot,
    },
}

impl ConsumeDecision {
    pub fn snapshot(&self) -> &QuotaSnapshot {
        match self {
            Self::Allowed { snapshot, .. } | Self::Refused { snapshot, .. } => snapshot,
        }
    }
}
