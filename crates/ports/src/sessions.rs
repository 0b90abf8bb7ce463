//! `SessionRepository`: the metered resource.

use async_trait::async_trait;
use serde::Serialize;
use tollgate_domain::{AccountId, SessionId, Timestamp, UserId};

use crate::error::StoreError;
use crate::usage::{ConsumeOutcome, Consumption};

/// A session, the metered resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: SessionId,
    /// The account that paid for it.
    pub account_id: AccountId,
    /// Who made it (sessions are their maker's).
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
    ///
    /// # Errors
    /// [`StoreError::Overloaded`] when the write queue is full (nothing is written), else `Unavailable`
    /// or `Failed`. A refusal (the limit, a stale version, a key seen with another request) is an
    /// outcome, never an error.
    async fn create_metered(
        &self,
        session: &Session,
        consumption: &Consumption,
    ) -> Result<ConsumeOutcome<Session>, StoreError>;

    /// Creates a session without consuming anything.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn create(&self, session: &Session) -> Result<(), StoreError>;

    /// The sessions `user` made in `account`, newest first, and their total count.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn list(
        &self,
        user: UserId,
        account: AccountId,
        page: Page,
    ) -> Result<(Vec<Session>, u64), StoreError>;

    /// The session if it exists *and* belongs to `user`.
    ///
    /// # Errors
    /// Only [`StoreError`]; another user's session is `Ok(None)`, never an error.
    async fn get(&self, user: UserId, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Deletes the session if it belongs to `user`; returns whether it did.
    ///
    /// # Errors
    /// Only [`StoreError`]; another user's or an unknown session is `Ok(false)`.
    async fn delete(&self, user: UserId, id: SessionId) -> Result<bool, StoreError>;
}
