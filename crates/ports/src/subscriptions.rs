//! `SubscriptionRepository`: compare-and-set updates of the subscription aggregate.

use async_trait::async_trait;
use tollgate_domain::{AccountId, CustomerId, ProviderSubscriptionId, Subscription, Timestamp, UsageEffect};

use crate::error::StoreError;

/// Why a compare-and-set update of a subscription did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateSubscriptionError {
    /// The stored version is not the expected one: someone else changed it first. Reload and retry.
    #[error("the subscription was changed concurrently")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// The account's subscription.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown account is `Ok(None)`, never an error.
    async fn get_by_account(&self, account: AccountId) -> Result<Option<Subscription>, StoreError>;

    /// The subscription of a provider customer.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown customer is `Ok(None)`, never an error.
    async fn find_by_customer(&self, customer_id: &CustomerId) -> Result<Option<Subscription>, StoreError>;

    /// The subscription with this provider subscription id.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown id is `Ok(None)`, never an error.
    async fn find_by_provider_subscription(
        &self,
        subscription_id: &ProviderSubscriptionId,
    ) -> Result<Option<Subscription>, StoreError>;

    /// Expires the account's reservations past their expiry and gives their runs back (lazily,
    /// before a decision or a read that shows `runs_reserved`). Returns the runs given back.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn expire_holds(&self, account: AccountId, now: Timestamp) -> Result<u32, StoreError>;

    /// Writes `subscription`'s state if the stored version is still `expected_version`
    /// (compare-and-set; this is how a period rollover happens exactly once). The usage
    /// counter is never written from the snapshot: it is kept, or set to 0 when `usage` is
    /// [`UsageEffect::Reset`].
    ///
    /// # Errors
    /// [`UpdateSubscriptionError::Conflict`] when the version has moved on (or the row is gone).
    async fn update(
        &self,
        subscription: &Subscription,
        expected_version: i64,
        usage: UsageEffect,
    ) -> Result<(), UpdateSubscriptionError>;
}
