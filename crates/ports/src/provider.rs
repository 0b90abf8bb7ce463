//! The payment provider (Stripe) as the application sees it.

use async_trait::async_trait;
use tollgate_domain::{
    AccountId, BillingEvent, CustomerId, PlanId, ProviderSubscriptionId, Timestamp, UserId,
};

/// A provider failure. Its text is for logs, never for clients.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request (bad parameters, unknown price…).
    #[error("the payment provider refused the request: {0}")]
    Rejected(String),
    /// The provider could not be reached, timed out or failed (5xx).
    #[error("the payment provider is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A Checkout session to open for a subscription purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The account that will pay (Stripe's `client_reference_id` and metadata `account_id`).
    pub account_id: AccountId,
    /// Who started the Checkout (metadata `user_id`).
    pub user_id: UserId,
    pub customer_id: CustomerId,
    pub plan: PlanId,
    pub price_id: String,
    /// How many of the price: the account's seats for a per-seat plan, else 1.
    pub quantity: u32,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Creates the provider customer for an account (idempotent on `idempotency_key`): its
    /// metadata carries `account_id`, and `user_id` of whoever created it; returns its id.
    ///
    /// # Errors
    /// [`ProviderError::Rejected`] when the provider refuses the request; `Unavailable` when it
    /// cannot be reached, times out or fails (5xx).
    async fn create_customer(
        &self,
        account_id: AccountId,
        user_id: UserId,
        email: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<CustomerId, ProviderError>;

    /// Sets the quantity of the subscription's item (a per-seat plan's seats), proration left
    /// to the provider; idempotent on `idempotency_key`.
    ///
    /// # Errors
    /// [`ProviderError::Rejected`] (an unknown subscription, one without an item) or
    /// `Unavailable`, as [`Self::create_customer`].
    async fn set_quantity(
        &self,
        subscription_id: &ProviderSubscriptionId,
        quantity: u32,
        idempotency_key: &str,
    ) -> Result<(), ProviderError>;

    /// Opens a Checkout session in subscription mode.
    ///
    /// # Errors
    /// [`ProviderError::Rejected`] (an unknown price, bad parameters) or `Unavailable`, as
    /// [`Self::create_customer`].
    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError>;

    /// Opens a customer-portal session; returns its URL.
    ///
    /// # Errors
    /// [`ProviderError::Rejected`] (an unknown customer) or `Unavailable`, as
    /// [`Self::create_customer`].
    async fn create_portal_session(
        &self,
        customer_id: &CustomerId,
        return_url: &str,
    ) -> Result<String, ProviderError>;
}

/// A verified webhook event, reduced to what Tollgate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    pub id: String,
    pub event_type: String,
    pub created: Timestamp,
    /// `None` for event types Tollgate does not act on.
    pub event: Option<BillingEvent>,
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the signature is missing, malformed, too old or does not match")]
    InvalidSignature,
    #[error("the payload is not a valid event: {0}")]
    Malformed(String),
}

/// Verifies and parses provider webhooks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WebhookVerifier: Send + Sync {
    /// Checks `signature_header` over the raw `payload` at `now`, then parses the event.
    ///
    /// # Errors
    /// [`WebhookError::InvalidSignature`] when the header is missing, malformed, outside the
    /// tolerance or does not match; [`WebhookError::Malformed`] when a verified payload is not an event.
    fn verify(
        &self,
        payload: &[u8],
        signature_header: &str,
        now: Timestamp,
    ) -> Result<VerifiedEvent, WebhookError>;
}
