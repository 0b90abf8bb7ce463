//! `ServiceKeyRepository`: the keys agent backends use for the service API (SPEC §7.2). Only a
//! hash of each key is stored.

use async_trait::async_trait;
use tollgate_domain::Timestamp;
use uuid::Uuid;

use crate::admin::AuditEntry;
use crate::error::StoreError;

/// A stored service key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceKey {
    pub id: Uuid,
    /// The operator's name for it (`tollgate key create NAME`), unique.
    pub name: String,
    /// SHA-256 of the key; the key itself is shown once, at creation.
    pub key_hash: String,
    pub created_at: Timestamp,
    /// Set when revoked; a revoked key authenticates nothing, on every replica at once (keys are
    /// looked up on each request).
    pub revoked_at: Option<Timestamp>,
    /// The key's first characters (`tgk_` and 8 more), kept so an operator can tell keys apart;
    /// `None` for keys made before prefixes were kept.
    pub prefix: Option<String>,
    /// When the key last authenticated a request, to within [`LAST_USE_RESOLUTION`].
    pub last_used_at: Option<Timestamp>,
}

/// A key's last use is written at most this often (a write per request would cost every request).
pub const LAST_USE_RESOLUTION: time::Duration = time::Duration::minutes(1);

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateServiceKeyError {
    #[error("a service key with this name exists")]
    DuplicateName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ServiceKeyRepository: Send + Sync {
    /// Stores `key` and writes `entry`, in one transaction.
    ///
    /// # Errors
    /// [`CreateServiceKeyError::DuplicateName`] when the name is taken (revoked keys keep theirs);
    /// nothing is written.
    async fn create(&self, key: &ServiceKey, entry: &AuditEntry) -> Result<(), CreateServiceKeyError>;

    /// Every key, oldest first.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn list(&self) -> Result<Vec<ServiceKey>, StoreError>;

    /// Revokes the named key at `at` (once) and writes `entry`, in one transaction; returns
    /// whether a key of that name exists (nothing is written when none does).
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown name is `Ok(false)`.
    async fn revoke(&self, name: &str, at: Timestamp, entry: &AuditEntry) -> Result<bool, StoreError>;

    /// The key with this hash, if it exists and is not revoked.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown or revoked key is `Ok(None)`, never an error.
    async fn find_active(&self, key_hash: &str) -> Result<Option<ServiceKey>, StoreError>;

    /// Records that key `id` was used at `at`, unless a use at or after `not_before` is recorded
    /// already (so replicas racing on one key write once per [`LAST_USE_RESOLUTION`]).
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown id writes nothing and is `Ok(())`.
    async fn touch(&self, id: Uuid, at: Timestamp, not_before: Timestamp) -> Result<(), StoreError>;
}
