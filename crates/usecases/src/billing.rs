//! Plans, the caller's subscription, trials, Checkout and the customer portal.

use std::sync::Arc;

use tollgate_domain::plan::CheckoutPlanError;
use tollgate_domain::subscription::TrialError;
use tollgate_domain::{
    AccountId, AccountKind, CustomerId, PlanCatalog, PlanId, Subscription, SubscriptionStatus,
};

use crate::accounts::Acting;

use crate::current::{load_current, update_current, CurrentError};
use crate::metering::QuotaPolicy;
use crate::redirect::RedirectPolicy;
use crate::Failure;
use tollgate_ports::{
    AccountRepository, CheckoutRequest, CheckoutSession, Clock, IdGenerator, PaymentProvider, ProviderError,
    SubscriptionRepository, UserRepository,
};

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("no subscription for this account")]
    NotFound,
    /// Only an organisation's owners and admins may change its billing.
    #[error("only owners and admins manage an organisation's billing")]
    RoleRequired,
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
    accounts: Arc<dyn AccountRepository>,
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
        accounts: Arc<dyn AccountRepository>,
        provider: Option<Arc<dyn PaymentProvider>>,
        policy: QuotaPolicy,
        redirects: RedirectPolicy,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { subs, users, accounts, provider, policy, redirects, clock, ids }
    }

    pub fn catalog(&self) -> &PlanCatalog {
        &self.policy.catalog
    }

    /// The account's subscription as of now (an ended trial or period is rolled over lazily).
    /// Every member may read it.
    pub async fn subscription(&self, account: AccountId) -> Result<Subscription, SubscriptionError> {
        Ok(load_current(self.subs.as_ref(), account, self.clock.now()).await?)
    }

    /// Whether `acting` may change the account's billing (an organisation's owners and admins):
    /// asked before anything else, so a member learns nothing of the billing's configuration.
    fn may_manage(acting: &Acting) -> Result<(), SubscriptionError> {
        if acting.manages_billing() {
            Ok(())
        } else {
            Err(SubscriptionError::RoleRequired)
        }
    }

    /// Starts the 14-day trial (once per account, from free, never after a paid subscription).
    pub async fn activate_trial(&self, acting: &Acting) -> Result<Subscription, ActivateTrialError> {
        Self::may_manage(acting)?;
        let terms = self.policy.catalog.trial();
        self.change(acting.account, |sub, now| {
            sub.start_trial(now, terms).map_err(ActivateTrialError::Unavailable)
        })
        .await
    }

    /// Opens a Checkout session for `plan`, creating the provider customer first if needed.
    pub async fn start_checkout(
        &self,
        acting: &Acting,
        plan: &str,
        success_url: Option<&str>,
        cancel_url: Option<&str>,
    ) -> Result<CheckoutSession, CheckoutError> {
        Self::may_manage(acting)?;
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
        let sub = self.subscription(acting.account).await?;
        let paying = matches!(
            sub.status(),
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        );
        if sub.billing().granted && paying {
            return Err(CheckoutError::AlreadySubscribed);
        }
        let customer_id = match sub.billing().customer_id.clone() {
            Some(id) => id,
            None => self.create_customer(provider.as_ref(), acting).await?,
        };
        let request = CheckoutRequest {
            account_id: acting.account,
            user_id: acting.user,
            customer_id,
            plan,
            price_id,
            quantity: if self.policy.catalog.get(plan).per_seat { sub.seats() } else { 1 },
            success_url,
            cancel_url,
            idempotency_key: format!("checkout-{}", self.ids.new_id()),
        };
        provider.create_checkout_session(&request).await.map_err(CheckoutError::Provider)
    }

    /// Opens the provider's customer portal.
    pub async fn open_portal(
        &self,
        acting: &Acting,
        return_url: Option<&str>,
    ) -> Result<String, PortalError> {
        Self::may_manage(acting)?;
        let provider = self.provider.as_ref().ok_or(PortalError::NotConfigured)?;
        let return_url = self.redirect(return_url, "/billing").ok_or(PortalError::InvalidRedirect)?;
        let sub = self.subscription(acting.account).await?;
        let customer = sub.billing().customer_id.clone().ok_or(PortalError::NoBillingAccount)?;
        provider.create_portal_session(&customer, &return_url).await.map_err(PortalError::Provider)
    }

    fn redirect(&self, given: Option<&str>, default_path: &str) -> Option<String> {
        match given {
            Some(url) => self.redirects.check(url).ok(),
            None => self.redirects.default_url(default_path),
        }
    }

    /// Creates the provider customer once and stores its id: the account's, billed to the email
    /// of whoever first checks out for it, named after them (a personal account) or the
    /// organisation. The idempotency key is derived from the account, so concurrent first
    /// checkouts create one customer.
    async fn create_customer(
        &self,
        provider: &dyn PaymentProvider,
        acting: &Acting,
    ) -> Result<CustomerId, CheckoutError> {
        let user = self
            .users
            .find_by_id(acting.user)
            .await
            .map_err(Failure::from)
            .map_err(SubscriptionError::from)?;
        let user = user.ok_or(SubscriptionError::NotFound)?;
        let name = match acting.kind {
            AccountKind::Personal => user.fullname.as_str().to_owned(),
            AccountKind::Organisation => {
                let account = self.accounts.find_account(acting.account).await.map_err(Failure::from);
                account
                    .map_err(SubscriptionError::from)?
                    .ok_or(SubscriptionError::NotFound)?
                    .name
                    .as_str()
                    .to_owned()
            }
        };
        // A personal account keeps the key it always had (its id is its user's).
        let key = format!("customer-{}", acting.account);
        let id = provider
            .create_customer(acting.account, acting.user, user.email.as_str(), &name, &key)
            .await
            .map_err(CheckoutError::Provider)?;
        let stored = self
            .change(acting.account, |sub, now| Ok::<_, CurrentError>(sub.link_customer(&id, now)))
            .await
            .map_err(SubscriptionError::from)?;
        Ok(stored.billing().customer_id.clone().unwrap_or(id))
    }

    async fn change<E: From<CurrentError>>(
        &self,
        account: AccountId,
        f: impl Fn(&mut Subscription, tollgate_domain::Timestamp) -> Result<tollgate_domain::UsageEffect, E>,
    ) -> Result<Subscription, E> {
        update_current(self.subs.as_ref(), self.clock.as_ref(), account, f).await
    }
}

#[cfg(test)]
#[path = "billing_tests.rs"]
mod tests;
