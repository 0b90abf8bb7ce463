//! Sessions, the metered resource.

use std::sync::Arc;

use tollgate_domain::plan::RunCount;
use tollgate_domain::{AccountId, SessionId, UserId};

use crate::metering::{MeterError, Metered, MeteringService};
use crate::Failure;
use tollgate_ports::{
    Clock, IdGenerator, IdempotencyKey, Page, Payer, Session, SessionRepository, UsageReason,
};

/// A title is trimmed and at most this many characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The title is too long or has control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most 200 characters without control characters")]
pub struct InvalidTitle;

/// Validates an optional session title; blank means none.
pub fn parse_title(raw: Option<&str>) -> Result<Option<String>, InvalidTitle> {
    let Some(title) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(InvalidTitle);
    }
    Ok(Some(title.to_owned()))
}

pub struct SessionService {
    sessions: Arc<dyn SessionRepository>,
    metering: Arc<MeteringService>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl SessionService {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        metering: Arc<MeteringService>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { sessions, metering, clock, ids }
    }

    /// Creates a session, consuming `units` runs in the same transaction. A retry with the same
    /// idempotency key returns the original session and consumes nothing.
    pub async fn create(
        &self,
        payer: Payer,
        user: UserId,
        title: Option<String>,
        units: RunCount,
        key: Option<IdempotencyKey>,
    ) -> Result<Metered<Session>, MeterError> {
        let session = Session {
            id: SessionId::from_uuid(self.ids.new_id()),
            account_id: payer.account,
            user_id: user,
            title,
            created_at: self.clock.now(),
        };
        let repo = Arc::clone(&self.sessions);
        self.metering
            .meter(payer, units, key, UsageReason::SessionCreate, move |consumption| {
                let (repo, session) = (Arc::clone(&repo), session.clone());
                async move { repo.create_metered(&session, &consumption).await }
            })
            .await
    }

    /// Creates a session without consuming (when its route is not configured as metered).
    pub async fn create_unmetered(
        &self,
        account: AccountId,
        user: UserId,
        title: Option<String>,
    ) -> Result<Session, Failure> {
        let session = Session {
            id: SessionId::from_uuid(self.ids.new_id()),
            account_id: account,
            user_id: user,
            title,
            created_at: self.clock.now(),
        };
        self.sessions.create(&session).await?;
        Ok(session)
    }

    /// The sessions `user` made in `account`, newest first.
    pub async fn list(
        &self,
        user: UserId,
        account: AccountId,
        page: Page,
    ) -> Result<(Vec<Session>, u64), Failure> {
        Ok(self.sessions.list(user, account, page).await?)
    }

    /// The session, or `None` if it does not exist or belongs to someone else.
    pub async fn get(&self, user: UserId, id: SessionId) -> Result<Option<Session>, Failure> {
        Ok(self.sessions.get(user, id).await?)
    }

    /// Deletes the caller's session; no runs are given back.
    pub async fn delete(&self, user: UserId, id: SessionId) -> Result<bool, Failure> {
        Ok(self.sessions.delete(user, id).await?)
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
