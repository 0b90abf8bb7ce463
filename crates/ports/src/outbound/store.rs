//! Repository ports, one per aggregate. Both stores (SQLite, Postgres) implement all of them and
//! pass one contract suite.
//!
//! Every method may fail with [`StoreError`]; the `# Errors` sections list only what else an
//! adapter must return.

use async_trait::async_trait;
use serde::Serialize;
use tollgate_domain::plan::{RunCount, RunLimit};
use tollgate_domain::{Email, SessionId, Subscription, Timestamp, UsageEffect, User, UserId};
use uuid::Uuid;

use super::StoreError;

/// An argon2 PHC string. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A user with their password hash, for login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: PasswordHash,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the email address is already registered")]
    DuplicateEmail,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates the user, their credentials and their first subscription in one transaction.
    ///
    /// # Errors
    /// [`CreateUserError::DuplicateEmail`] when the email is taken (emails are unique
    /// case-insensitively); nothing is written then.
    async fn create(
        &self,
        user: &User,
        password_hash: &PasswordHash,
        subscription: &Subscription,
    ) -> Result<(), CreateUserError>;

    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError>;

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}

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
    async fn get_by_user(&self, user: UserId) -> Result<Option<Subscription>, StoreError>;

    async fn find_by_customer(&self, customer_id: &str) -> Result<Option<Subscription>, StoreError>;

    async fn find_by_provider_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<Option<Subscription>, StoreError>;

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

/// A client-supplied idempotency key, unique per user. 1–255 visible ASCII characters. It may
/// carry a fingerprint of the request it came with: a later request with the same key but
/// another fingerprint is a mistake, not a retry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: Option<String>,
}

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self { key: raw.to_owned(), fingerprint: None })
    }

    /// The key bound to a fingerprint (a hash) of its request.
    pub fn for_request(self, fingerprint: impl Into<String>) -> Self {
        Self { fingerprint: Some(fingerprint.into()), ..self }
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// Whether a consumption stored with `stored` answers this request (a missing fingerprint on
    /// either side matches).
    pub fn matches(&self, stored: Option<&str>) -> bool {
        match (self.fingerprint(), stored) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }
}

/// A request to spend runs, conditional on the state the decision was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    pub record_id: Uuid,
    pub user_id: UserId,
    pub units: RunCount,
    /// The limit the decision allowed; the store enforces `used + units <= limit` itself.
    pub limit: RunLimit,
    /// The subscription version the decision was made on; the store refuses if it moved.
    pub expected_version: i64,
    pub idempotency_key: Option<IdempotencyKey>,
    /// What consumed the runs, e.g. `session.create`.
    pub reason: String,
    pub at: Timestamp,
}

/// What a conditional consumption did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome<T> {
    /// Counted; `runs_used` is the counter after this consumption.
    Consumed { value: T, runs_used: RunCount },
    /// A consumption with the same idempotency key exists; nothing was counted. `value` is what
    /// it produced, if that still exists.
    Replayed { value: Option<T> },
    /// `used + units` would pass the limit; nothing was written.
    LimitReached { runs_used: RunCount },
    /// The idempotency key was used before with another request (fingerprints differ); nothing
    /// was written.
    KeyMismatch,
    /// The subscription changed since the decision (version moved); nothing was written.
    StaleState,
}

/// A recorded consumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecord {
    pub id: Uuid,
    pub user_id: UserId,
    pub units: u32,
    pub reason: String,
    pub idempotency_key: Option<String>,
    pub resource_id: Option<Uuid>,
    pub refunded: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UsageRepository: Send + Sync {
    /// Atomically: increments the period counter by `units` where the version matches and
    /// `used + units <= limit` (one conditional statement, never read-modify-write) and writes
    /// the usage record. Returns the record id as the value.
    async fn consume(&self, consumption: &Consumption) -> Result<ConsumeOutcome<Uuid>, StoreError>;

    /// Gives back the runs of a consumption whose work failed (counter decremented, record
    /// marked refunded), once. Returns whether anything was refunded.
    async fn refund(&self, record_id: Uuid) -> Result<bool, StoreError>;

    /// The user's usage records, newest first.
    async fn list(&self, user: UserId, limit: u32) -> Result<Vec<UsageRecord>, StoreError>;
}

/// A session, the metered resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub title: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// A page request: newest first, `limit` items after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Creates `session` and consumes its runs in one transaction (counter, usage record with
    /// `resource_id = session.id`, session row). A replayed idempotency key returns the session
    /// the first request created.
    async fn create_metered(
        &self,
        session: &Session,
        consumption: &Consumption,
    ) -> Result<ConsumeOutcome<Session>, StoreError>;

    /// Creates a session without consuming anything.
    async fn create(&self, session: &Session) -> Result<(), StoreError>;

    /// The user's sessions, newest first, and the total count.
    async fn list(&self, user: UserId, page: Page) -> Result<(Vec<Session>, u64), StoreError>;

    /// The session if it exists *and* belongs to `user`.
    async fn get(&self, user: UserId, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Deletes the session if it belongs to `user`; returns whether it did.
    async fn delete(&self, user: UserId, id: SessionId) -> Result<bool, StoreError>;
}

/// A stored refresh token (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: UserId,
    pub token_hash: String,
    pub expires_at: Timestamp,
    /// Set when the token was exchanged for a new one.
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// What an attempt to rotate a refresh token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated,
    /// The token had already been rotated or revoked: a reuse. Nothing was inserted.
    AlreadyUsed,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;

    async fn find_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;

    /// Marks `old_id` rotated, only if it is neither rotated nor revoked, and inserts `new` —
    /// atomically, so two concurrent uses of one token cannot both succeed.
    async fn rotate(
        &self,
        old_id: Uuid,
        new: &RefreshTokenRecord,
        at: Timestamp,
    ) -> Result<RotateOutcome, StoreError>;

    /// Revokes every token of the family.
    async fn revoke_family(&self, family_id: Uuid, at: Timestamp) -> Result<(), StoreError>;
}

/// A provider event as recorded in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub event_id: String,
    pub event_type: String,
    pub created: Timestamp,
    pub received_at: Timestamp,
    /// `applied`, `stale`, `ignored`.
    pub outcome: String,
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

/// Whether the store answers (for `/ready`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every repository port, implemented by one store.
pub trait Repositories:
    UserRepository
    + SubscriptionRepository
    + UsageRepository
    + SessionRepository
    + RefreshTokenRepository
    + WebhookInbox
    + HealthCheck
{
}

impl<S> Repositories for S where
    S: UserRepository
        + SubscriptionRepository
        + UsageRepository
        + SessionRepository
        + RefreshTokenRepository
        + WebhookInbox
        + HealthCheck
{
}

/// One store's ports, each as its own trait object (what the use cases take).
#[derive(Clone)]
pub struct RepositoryPorts {
    pub users: std::sync::Arc<dyn UserRepository>,
    pub subs: std::sync::Arc<dyn SubscriptionRepository>,
    pub usage: std::sync::Arc<dyn UsageRepository>,
    pub sessions: std::sync::Arc<dyn SessionRepository>,
    pub tokens: std::sync::Arc<dyn RefreshTokenRepository>,
    pub inbox: std::sync::Arc<dyn WebhookInbox>,
    pub health: std::sync::Arc<dyn HealthCheck>,
}

impl RepositoryPorts {
    pub fn of<S: Repositories + 'static>(store: std::sync::Arc<S>) -> Self {
        Self {
            users: store.clone(),
            subs: store.clone(),
            usage: store.clone(),
            sessions: store.clone(),
            tokens: store.clone(),
            inbox: store.clone(),
            health: store,
        }
    }
}
