//! Outbound calls through async-stripe (customers, Checkout sessions, portal sessions).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_checkout::CheckoutSessionMode;
use stripe_core::customer::CreateCustomer;
use tollgate_domain::{AccountId, CustomerId, ProviderSubscriptionId, UserId};
use tollgate_ports::{CheckoutRequest, CheckoutSession, PaymentProvider, ProviderError};

/// How long one Stripe call may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// `PaymentProvider` on the Stripe API (or anything speaking it at `api_base`).
pub struct StripeProvider {
    client: stripe::Client,
}

impl StripeProvider {
    /// A client for `api_base` (`https://api.stripe.com` in production).
    pub fn new(secret_key: &str, api_base: &str) -> Result<Self, ProviderError> {
        let base = if api_base.ends_with('/') { api_base.to_owned() } else { format!("{api_base}/") };
        let client = stripe::ClientBuilder::new(secret_key)
            .url(base)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ProviderError::Rejected(format!("invalid Stripe client configuration: {e}")))?;
        Ok(Self { client })
    }
}

/// 4xx from Stripe: a refusal; anything else (5xx, 429, network, unreadable answer): unavailable.
fn provider_error(e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(details, status) if (400..500).contains(&status) && status != 429 => {
            let message = details.message.clone().unwrap_or_else(|| "no message".into());
            ProviderError::Rejected(format!("{status}: {message}"))
        }
        other => ProviderError::Unavailable(Box::new(other)),
    }
}

fn key(value: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(value)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Rejected(format!("invalid idempotency key: {e}")))
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    #[tracing::instrument(skip_all, fields(account_id = %account_id))]
    async fn create_customer(
        &self,
        account_id: AccountId,
        user_id: UserId,
        email: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<CustomerId, ProviderError> {
        let metadata = HashMap::from([
            ("account_id".to_owned(), account_id.to_string()),
            ("user_id".to_owned(), user_id.to_string()),
        ]);
        let customer = CreateCustomer::new()
            .email(email)
            .name(name)
            .metadata(metadata)
            .customize()
            .request_strategy(key(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(CustomerId::new(customer.id.to_string()))
    }

    #[tracing::instrument(skip_all, fields(subscription = %subscription_id.as_str(), quantity))]
    async fn set_quantity(
        &self,
        subscription_id: &ProviderSubscriptionId,
        quantity: u32,
        idempotency_key: &str,
    ) -> Result<(), ProviderError> {
        // The item's id, to change its quantity rather than add an item.
        let subscription = RetrieveSubscription::new(subscription_id.as_str())
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let item = subscription
            .items
            .data
            .first()
            .ok_or_else(|| ProviderError::Rejected("the subscription has no item".into()))?;
        let mut change = UpdateSubscriptionItems::new();
        change.id = Some(item.id.to_string());
        change.quantity = Some(u64::from(quantity.max(1)));
        UpdateSubscription::new(subscription_id.as_str())
            .items(vec![change])
            .customize()
            .request_strategy(key(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account_id = %request.account_id, plan = %request.plan))]
    async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let metadata = HashMap::from([
            ("account_id".to_owned(), request.account_id.to_string()),
            ("user_id".to_owned(), request.user_id.to_string()),
            ("plan".to_owned(), request.plan.as_str().to_owned()),
        ]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(request.price_id.clone());
        item.quantity = Some(u64::from(request.quantity.max(1)));
        let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
        subscription_data.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(request.customer_id.as_str())
            .client_reference_id(request.account_id.to_string())
            .line_items(vec![item])
            .metadata(metadata)
            .subscription_data(subscription_data)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone())
            .customize()
            .request_strategy(key(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let url =
            session.url.ok_or_else(|| ProviderError::Rejected("the checkout session has no url".into()))?;
        Ok(CheckoutSession { id: session.id.to_string(), url })
    }

    #[tracing::instrument(skip_all)]
    async fn create_portal_session(
        &self,
        customer_id: &CustomerId,
        return_url: &str,
    ) -> Result<String, ProviderError> {
        // A portal session has no natural key; a fresh one still makes this call safe to replay.
        #[allow(clippy::disallowed_methods, reason = "a per-call key for Stripe, not a Tollgate id")]
        let idempotency_key = format!("portal-{}", uuid::Uuid::new_v4());
        let session = CreateBillingPortalSession::new()
            .customer(customer_id.as_str())
            .return_url(return_url)
            .customize()
            .request_strategy(key(&idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(session.url)
    }
}
