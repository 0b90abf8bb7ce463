//! Provider webhooks: verified, exactly-once, order-independent.

use std::sync::Arc;

use tollgate_domain::{EventVerdict, Subscription};

use crate::metering::QuotaPolicy;
use crate::{Failure, MAX_ATTEMPTS};
use tollgate_ports::{
    Clock, InboxEntry, InboxOutcome, NoTelemetry, RecordOutcome, SubscriptionChange, SubscriptionRepository,
    Telemetry, UpdateSubscriptionError, VerifiedEvent, WebhookError, WebhookInbox, WebhookVerifier,
};

/// How an event was handled; `status` in the webhook's 200 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookStatus {
    Processed,
    /// Already recorded; nothing changed.
    Duplicate,
    /// Older than what was already applied; nothing changed but ids.
    Stale,
    /// A type Tollgate does not act on, or about a customer/subscription it does not know.
    Ignored,
    /// Arrived before the event it depends on; not recorded, so the provider's redelivery
    /// applies it (the HTTP answer is non-2xx).
    Deferred,
}

impl WebhookStatus {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
            Self::Deferred => "deferred",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReceipt {
    pub status: WebhookStatus,
    pub event_id: String,
    pub event_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleWebhookError {
    #[error("webhooks are not configured")]
    NotConfigured,
    #[error(transparent)]
    Rejected(#[from] WebhookError),
    /// Transient: answer 5xx so the provider retries.
    #[error(transparent)]
    Failure(#[from] Failure),
}

pub struct WebhookService {
    verifier: Option<Arc<dyn WebhookVerifier>>,
    inbox: Arc<dyn WebhookInbox>,
    subs: Arc<dyn SubscriptionRepository>,
    policy: QuotaPolicy,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
}

impl WebhookService {
    pub fn new(
        verifier: Option<Arc<dyn WebhookVerifier>>,
        inbox: Arc<dyn WebhookInbox>,
        subs: Arc<dyn SubscriptionRepository>,
        policy: QuotaPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { verifier, inbox, subs, policy, clock, telemetry: Arc::new(NoTelemetry) }
    }

    /// Reports each event's type and outcome to `telemetry` (metrics).
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Verifies the signature on the raw payload, then applies the event exactly once.
    pub async fn handle(
        &self,
        payload: &[u8],
        signature: &str,
    ) -> Result<WebhookReceipt, HandleWebhookError> {
        let verifier = self.verifier.as_ref().ok_or(HandleWebhookError::NotConfigured)?;
        let event = match verifier.verify(payload, signature, self.clock.now()) {
            Ok(event) => event,
            Err(e) => {
                // Unverified: its claimed type is not to be trusted (nor to grow the label set).
                self.telemetry.webhook_event("unverified", "rejected");
                return Err(e.into());
            }
        };
        let status = self.apply(&event).await?;
        // Types Tollgate acts on by name; every other (verified) type as `other`, so the label
        // set stays bounded.
        let label = if event.event.is_some() { event.event_type.as_str() } else { "other" };
        self.telemetry.webhook_event(label, status.as_str());
        Ok(WebhookReceipt { status, event_id: event.id, event_type: event.event_type })
    }

    /// Applies a verified event: records its id and its effect in one transaction.
    pub async fn apply(&self, event: &VerifiedEvent) -> Result<WebhookStatus, Failure> {
        if self.inbox.contains(&event.id).await? {
            return Ok(WebhookStatus::Duplicate);
        }
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let target = match &event.event {
                Some(billing) => self.find_subscription(billing).await?,
                None => None,
            };
            let (status, change) = match (target, &event.event) {
                (Some(mut sub), Some(billing)) => {
                    let expected = sub.version();
                    let rolled = sub.refresh(now);
                    let (verdict, effect) =
                        sub.apply_billing_event(billing, event.created, &self.policy.catalog);
                    if verdict == EventVerdict::NotYet {
                        tracing::info!(event_id = %event.id, "event arrived before the one it depends on; deferred");
                        return Ok(WebhookStatus::Deferred);
                    }
                    let effect = rolled.then(effect);
                    let status = match verdict {
                        EventVerdict::Applied => WebhookStatus::Processed,
                        EventVerdict::Stale => WebhookStatus::Stale,
                        EventVerdict::Ignored | EventVerdict::NotYet => WebhookStatus::Ignored,
                    };
                    let change = effect.changed().then_some(SubscriptionChange {
                        subscription: sub,
                        expected_version: expected,
                        usage: effect,
                    });
                    (status, change)
                }
                _ => (WebhookStatus::Ignored, None),
            };
            let entry = InboxEntry {
                event_id: event.id.clone(),
                event_type: event.event_type.clone(),
                created: event.created,
                received_at: now,
                outcome: match status {
                    WebhookStatus::Processed => InboxOutcome::Processed,
                    WebhookStatus::Stale => InboxOutcome::Stale,
                    _ => InboxOutcome::Ignored,
                },
            };
            match self.inbox.record(&entry, change).await {
                Ok(RecordOutcome::Recorded) => return Ok(status),
                Ok(RecordOutcome::Duplicate) => return Ok(WebhookStatus::Duplicate),
                Err(UpdateSubscriptionError::Conflict) => continue,
                Err(UpdateSubscriptionError::Store(e)) => return Err(e.into()),
            }
        }
        Err(Failure::internal("subscription kept changing while an event was applied"))
    }

    /// The subscription an event is about: by provider subscription id, else by customer id.
    async fn find_subscription(
        &self,
        event: &tollgate_domain::BillingEvent,
    ) -> Result<Option<Subscription>, Failure> {
        if let Some(id) = event.subscription_id() {
            if let Some(sub) = self.subs.find_by_provider_subscription(id).await? {
                return Ok(Some(sub));
            }
        }
        match event.customer_id() {
            Some(customer) => Ok(self.subs.find_by_customer(customer).await?),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
