//! The payment provider on Stripe, webhook verification and version-tolerant parsing.
//!
//! Not implemented yet (issue #5): implements `PaymentProvider` and `WebhookVerifier` from
//! `tollgate-ports`. Until then checkout, portal and webhook are not served.
