//! `Housekeeping`: deleting what is no longer needed. Each purge is a set of `DELETE … WHERE
//! <older than the cutoff>`, so replicas purging at the same time delete each row once, and a
//! row younger than its cutoff is never touched.

use async_trait::async_trait;
use tollgate_domain::Timestamp;

use super::StoreError;

/// The cutoffs of one purge: rows older than these go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Refresh tokens that expired before this.
    pub refresh_tokens_expired_before: Timestamp,
    /// Released or expired reservations settled before this (committed ones are kept: usage
    /// records point at them).
    pub reservations_settled_before: Timestamp,
    /// Webhook inbox entries received before this.
    pub inbox_received_before: Timestamp,
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: u64,
    pub reservations: u64,
    pub inbox_entries: u64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Housekeeping: Send + Sync {
    async fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError>;
}
