//! `WebhookInbox`: provider events recorded exactly once, with their change.

use async_trait::async_trait;
use tollgate_domain::{Subscription, Timestamp, UsageEffect};

use crate::error::StoreError;
use crate::subscriptions::UpdateSubscriptionError;

/// What an event recorded in the inbox did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// It changed the subscription.
    Processed,
    /// Older than what was already applied.
    Stale,
    /// Nothing to do.
    Ignored,
}

impl InboxOutcome {
    /// As stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
        }
    }
}

/// A provider event as recorded in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub event_id: String,
    pub event_type: String,
    pub created: Timestamp,
    pub received_at: Timestamp,
    pub outcome: InboxOutcome,
}

/// A subscription state change to commit with an inbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    pub subscription: Subscription,
    pub expected_version: i64,
    pub usage: UsageEffect,
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded,
    /// This event id was already recorded; nothing was written.
    Duplicate,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookInbox: Send + Sync {
    /// Whether the event id is recorded already.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn contains(&self, event_id: &str) -> Result<bool, StoreError>;

    /// Records the event (its id is the primary key) and applies `change` in one transaction.
    ///
    /// # Errors
    /// [`UpdateSubscriptionError::Conflict`] when `change`'s compare-and-set fails; nothing is
    /// written then (not even the inbox entry), so the event can be applied again.
    async fn record(
        &self,
        entry: &InboxEntry,
        change: Option<SubscriptionChange>,
    ) -> Result<RecordOutcome, UpdateSubscriptionError>;
}
