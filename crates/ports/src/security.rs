//! Password hashing and token issuing.

use async_trait::async_trait;
use tollgate_domain::{Password, Role, UserId};

use crate::users::PasswordHash;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Every hashing worker is busy and the queue in front of them is full: nothing was hashed
    /// (HTTP 503 `OVERLOADED`, retry shortly).
    #[error("every password-hashing worker is busy")]
    Busy,
}

impl HashError {
    pub fn failed(e: impl std::fmt::Display) -> Self {
        Self::Failed(e.to_string().into())
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes with argon2id, off the async executor.
    ///
    /// # Errors
    /// [`HashError::Busy`] when every worker is busy and the queue is full (nothing hashed);
    /// `Failed` when hashing itself fails.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Checks `password` against `hash`. With `None` it checks against a dummy hash and returns
    /// `false`, taking the same time, so an unknown email cannot be told from a wrong password.
    ///
    /// # Errors
    /// As [`Self::hash`]; a wrong password is `Ok(false)`, never an error.
    async fn verify(&self, password: &Password, hash: Option<PasswordHash>) -> Result<bool, HashError>;
}

/// A signed access token and its lifetime.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in_secs: u64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("expires_in_secs", &self.expires_in_secs).finish_non_exhaustive()
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, forged, expired or not an access token")]
    Invalid,
    #[error("the token could not be signed")]
    Signing,
}

/// A new opaque refresh token: the text for the client and the hash to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub token: String,
    pub hash: String,
}

impl std::fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewRefreshToken([REDACTED])")
    }
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs an access token for the user and role.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when the token cannot be signed.
    fn issue_access(&self, user_id: UserId, role: Role) -> Result<AccessToken, TokenError>;

    /// Validates signature, algorithm, `iss`, `aud`, `exp` and `typ=access`.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for a token that is malformed, forged, expired or not an access
    /// token (one answer for all, so a caller learns nothing about why).
    fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// A new random refresh token and its hash.
    fn new_refresh_token(&self) -> NewRefreshToken;

    /// The hash under which a presented refresh token is stored.
    fn hash_refresh_token(&self, token: &str) -> String;

    /// How long a refresh token lives.
    fn refresh_ttl(&self) -> time::Duration;
}
