//! Plans, the caller's subscription, trials, Checkout and the customer portal.

use std::sync::Arc;

use tollgate_domain::plan::CheckoutPlanError;
use tollgate_domain::subscription::TrialError;
use tollgate_domain::{CustomerId, PlanCatalog, PlanId, Subscription, SubscriptionStatus, UserId};

use crate::current::{load_current, update_current, CurrentError};
use crate::metering::QuotaPolicy;
use crate::redirect::RedirectPolicy;
use crate::Failure;
use tollgate_ports::{
    CheckoutRequest, CheckoutSession, Clock, IdGenerator, PaymentProvider, ProviderError,
    SubscriptionRepository, UserRepository,
};

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("no subscription for this user")]
    NotFound,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CurrentError> for ActivateTrialError {
    fn from(e: CurrentError) -> Self {
        Self::Subscription(e.into())
    }
}

impl From<CurrentError> for SubscriptionError {
    fn from(e: CurrentError) -> Self {
        match e {
            CurrentError::NotFound => Self::NotFound,
            other => other.into_failure().map_or(Self::NotFound, Self::Failure),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActivateTrialError {
    #[error(transparent)]
    Unavailable(TrialError),
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Unknown, `free` or `enterprise`.
    #[error("this plan cannot be bought through checkout")]
    InvalidPlan,
    #[error("the redirect URL is not allowed")]
    InvalidRedirect,
    #[error("a paid subscription is already active")]
    AlreadySubscribed,
    /// No provider, or no price for the plan.
    #[error("payments are not configured")]
    NotConfigured,
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The user never went through Checkout.
    #[error("no billing account yet")]
    NoBillingAccount,
    #[error("the redirect URL is not allowed")]
    InvalidRedirect,
    #[error("payments are not configured")]
    NotConfigured,
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
}

pub struct BillingService {
    subs: Arc<dyn SubscriptionRepository>,
    users: Arc<dyn UserRepository>,
    provider: Option<Arc<dyn PaymentProvider>>,
    policy: QuotaPolicy,
    redirects: RedirectPolicy,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl BillingService {
    #[allow(clippy::too_many_arguments, reason = "one argument per port the service uses")]
    pub fn new(
        subs: Arc<dyn SubscriptionRepository>,
        users: Arc<dyn UserRepository>,
        provider: Option<Arc<dyn PaymentProvider>>,
        policy: QuotaPolicy,
        redirects: RedirectPolicy,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { subs, users, provider, policy, redirects, clock, ids }
    }

    pub fn catalog(&self) -> &PlanCatalog {
        &self.policy.catalog
    }

    /// The caller's subscription as of now (an ended trial or period is rolled over lazily).
    pub async fn subscription(&self, user: UserId) -> Result<Subscription, SubscriptionError> {
        Ok(load_current(self.subs.as_ref(), user, self.clock.now()).await?)
    }

    /// Starts the 14-day trial (once, from free, never after a paid subscription).
    pub async fn activate_trial(&self, user: UserId) -> Result<Subscription, ActivateTrialError> {
        let terms = self.policy.catalog.trial();
        self.change(user, |sub, now| sub.start_trial(now, terms).map_err(ActivateTrialError::Unavailable))
            .await
    }

    /// Opens a Checkout session for `plan`, creating the provider customer first if needed.
    pub async fn start_checkout(
        &self,
        user: UserId,
        plan: &str,
        success_url: Option<&str>,
        cancel_url: Option<&str>,
    ) -> Result<CheckoutSession, CheckoutError> {
        let plan: PlanId = plan.parse().map_err(|_| CheckoutError::InvalidPlan)?;
        let price_id = match self.policy.catalog.checkout_price(plan) {
            Ok(price) => price.to_owned(),
            Err(CheckoutPlanError::NotSelfServe(_)) => return Err(CheckoutError::InvalidPlan),
            Err(CheckoutPlanError::PriceNotConfigured(_)) => return Err(CheckoutError::NotConfigured),
        };
        let provider = self.provider.as_ref().ok_or(CheckoutError::NotConfigured)?;
        let success_url =
            self.redirect(success_url, "/billing/success").ok_or(CheckoutError::InvalidRedirect)?;
        let cancel_url =
            self.redirect(cancel_url, "/billing/cancel").ok_or(CheckoutError::InvalidRedirect)?;
        let sub = self.subscription(user).await?;
        let paying = matches!(
            sub.status(),
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        );
        if sub.billing().granted && paying {
            return Err(CheckoutError::AlreadySubscribed);
        }
        let customer_id = match sub.billing().customer_id.clone() {
            Some(id) => id,
            None => self.create_customer(provider.as_ref(), user).await?,
        };
        let request = CheckoutRequest {
            user_id: user,
            customer_id,
            plan,
            price_id,
            success_url,
            cancel_url,
            idempotency_key: format!("checkout-{}", self.ids.new_id()),
        };
        provider.create_checkout_session(&request).await.map_err(CheckoutError::Provider)
    }

    /// Opens the provider's customer portal.
    pub async fn open_portal(&self, user: UserId, return_url: Option<&str>) -> Result<String, PortalError> {
        let provider = self.provider.as_ref().ok_or(PortalError::NotConfigured)?;
        let return_url = self.redirect(return_url, "/billing").ok_or(PortalError::InvalidRedirect)?;
        let sub = self.subscription(user).await?;
        let customer = sub.billing().customer_id.clone().ok_or(PortalError::NoBillingAccount)?;
        provider.create_portal_session(&customer, &return_url).await.map_err(PortalError::Provider)
    }

    fn redirect(&self, given: Option<&str>, default_path: &str) -> Option<String> {
        match given {
            Some(url) => self.redirects.check(url).ok(),
            None => self.redirects.default_url(default_path),
        }
    }

    /// Creates the provider customer once and stores its id. The idempotency key is derived from
    /// the user, so concurrent first checkouts create one customer.
    async fn create_customer(
        &self,
        provider: &dyn PaymentProvider,
        user: UserId,
    ) -> Result<CustomerId, CheckoutError> {
        let account =
            self.users.find_by_id(user).await.map_err(Failure::from).map_err(SubscriptionError::from)?;
        let account = account.ok_or(SubscriptionError::NotFound)?;
        let key = format!("customer-{user}");
        let id = provider
            .create_customer(user, account.email.as_str(), account.fullname.as_str(), &key)
            .await
            .map_err(CheckoutError::Provider)?;
        let stored = self
            .change(user, |sub, now| Ok::<_, CurrentError>(sub.link_customer(&id, now)))
            .await
            .map_err(SubscriptionError::from)?;
        Ok(stored.billing().customer_id.clone().unwrap_or(id))
    }

    async fn change<E: From<CurrentError>>(
        &self,
        user: UserId,
        f: impl Fn(&mut Subscription, tollgate_domain::Timestamp) -> Result<tollgate_domain::UsageEffect, E>,
    ) -> Result<Subscription, E> {
        update_current(self.subs.as_ref(), self.clock.as_ref(), user, f).await
    }
}

#[cfg(test)]
#[path = "billing_tests.rs"]
mod tests;
