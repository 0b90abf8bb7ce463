//! `RefreshTokenRepository`: refresh tokens, stored as hashes, rotated atomically.

use async_trait::async_trait;
use tollgate_domain::{Timestamp, UserId};
use uuid::Uuid;

use crate::error::StoreError;

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
    /// Stores a new refresh token.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;

    /// The token stored under this hash, whatever its state.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown hash is `Ok(None)`, never an error.
    async fn find_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError>;

    /// Marks `old_id` rotated, only if it is neither rotated nor revoked, and inserts `new` —
    /// atomically, so two concurrent uses of one token cannot both succeed.
    ///
    /// # Errors
    /// Only [`StoreError`]; a token already rotated or revoked is an outcome.
    async fn rotate(
        &self,
        old_id: Uuid,
        new: &RefreshTokenRecord,
        at: Timestamp,
    ) -> Result<RotateOutcome, StoreError>;

    /// Revokes every token of the family.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown family writes nothing and is `Ok(())`.
    async fn revoke_family(&self, family_id: Uuid, at: Timestamp) -> Result<(), StoreError>;
}
