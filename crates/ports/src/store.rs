//! The store as a whole: its health check, and every repository port (one file each, beside
//! this one) bundled for the use cases. Both stores (SQLite, Postgres) implement all of them and
//! pass one contract suite.
//!
//! Every repository method may fail with [`StoreError`] (`Unavailable` when the store cannot be
//! reached, `Failed` otherwise); each method's `# Errors` section says what else it returns, and
//! what is an answer rather than an error (a missing row is `Ok(None)` or `Ok(false)`; a refusal
//! is an outcome enum's variant).

use async_trait::async_trait;

use crate::accounts::AccountRepository;
use crate::admin::AdminRepository;
use crate::error::StoreError;
use crate::housekeeping::Housekeeping;
use crate::inbox::WebhookInbox;
use crate::reservations::ReservationRepository;
use crate::service_keys::ServiceKeyRepository;
use crate::sessions::SessionRepository;
use crate::subscriptions::SubscriptionRepository;
use crate::tokens::RefreshTokenRepository;
use crate::usage::UsageRepository;
use crate::users::UserRepository;

/// The connections of a store's pools, this replica's (for the pool gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolConnections {
    /// In use by a request.
    pub active: u32,
    /// Open and waiting.
    pub idle: u32,
}

/// Whether the store answers (for `/ready`), and how its pools are doing.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Whether the store answers a trivial query now.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn ping(&self) -> Result<(), StoreError>;

    fn connections(&self) -> PoolConnections;
}

/// Every repository port, implemented by one store.
pub trait Repositories:
    UserRepository
    + AccountRepository
    + SubscriptionRepository
    + UsageRepository
    + SessionRepository
    + RefreshTokenRepository
    + WebhookInbox
    + ServiceKeyRepository
    + ReservationRepository
    + Housekeeping
    + AdminRepository
    + HealthCheck
{
}

impl<S> Repositories for S where
    S: UserRepository
        + AccountRepository
        + SubscriptionRepository
        + UsageRepository
        + SessionRepository
        + RefreshTokenRepository
        + WebhookInbox
        + ServiceKeyRepository
        + ReservationRepository
        + Housekeeping
        + AdminRepository
        + HealthCheck
{
}

/// One store's ports, each as its own trait object (what the use cases take).
#[derive(Clone)]
pub struct RepositoryPorts {
    pub users: std::sync::Arc<dyn UserRepository>,
    pub accounts: std::sync::Arc<dyn AccountRepository>,
    pub subs: std::sync::Arc<dyn SubscriptionRepository>,
    pub usage: std::sync::Arc<dyn UsageRepository>,
    pub sessions: std::sync::Arc<dyn SessionRepository>,
    pub tokens: std::sync::Arc<dyn RefreshTokenRepository>,
    pub inbox: std::sync::Arc<dyn WebhookInbox>,
    pub service_keys: std::sync::Arc<dyn ServiceKeyRepository>,
    pub reservations: std::sync::Arc<dyn ReservationRepository>,
    pub housekeeping: std::sync::Arc<dyn Housekeeping>,
    pub admin: std::sync::Arc<dyn AdminRepository>,
    pub health: std::sync::Arc<dyn HealthCheck>,
}

impl RepositoryPorts {
    pub fn of<S: Repositories + 'static>(store: std::sync::Arc<S>) -> Self {
        Self {
            users: store.clone(),
            accounts: store.clone(),
            subs: store.clone(),
            usage: store.clone(),
            sessions: store.clone(),
            tokens: store.clone(),
            inbox: store.clone(),
            service_keys: store.clone(),
            reservations: store.clone(),
            housekeeping: store.clone(),
            admin: store.clone(),
            health: store,
        }
    }
}
