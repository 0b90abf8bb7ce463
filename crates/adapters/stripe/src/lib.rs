//! The payment provider on Stripe.
//!
//! Outbound calls (customer, Checkout session, portal session) go through async-stripe with
//! idempotency keys. Webhooks are verified on the raw body (`signature`), then parsed from JSON
//! reading only the fields Tollgate uses, tolerant to API versions (`parse`), so neither Stripe's
//! newer objects nor an emulator's older ones break ingestion.

mod client;
pub mod parse;
pub mod signature;

use tollgate_domain::Timestamp;
use tollgate_ports::{VerifiedEvent, WebhookError, WebhookVerifier};

pub use client::StripeProvider;

/// Verifies `Stripe-Signature` with the endpoint's signing secret, then parses the event.
pub struct StripeWebhooks {
    secret: Vec<u8>,
    tolerance: time::Duration,
}

impl StripeWebhooks {
    pub fn new(secret: &str) -> Self {
        Self { secret: secret.as_bytes().to_vec(), tolerance: signature::TOLERANCE }
    }
}

impl WebhookVerifier for StripeWebhooks {
    fn verify(&self, payload: &[u8], header: &str, now: Timestamp) -> Result<VerifiedEvent, WebhookError> {
        signature::verify(payload, header, &self.secret, now, self.tolerance)?;
        parse::event(payload)
    }
}
