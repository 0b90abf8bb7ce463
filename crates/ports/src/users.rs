//! `UserRepository`: accounts and their credentials.

use async_trait::async_trait;
use tollgate_domain::{Email, Subscription, User, UserId};

use crate::error::StoreError;

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

    /// The user's id and password hash, by email (case-insensitively).
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown email is `Ok(None)`, never an error.
    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError>;

    /// The user.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown id is `Ok(None)`, never an error.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this email (case-insensitively).
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown email is `Ok(None)`, never an error.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}
