//! `Housekeeping`: deleting what is no longer needed. Each purge is a series of `DELETE … WHERE
//! <older than the cutoff>` in bounded chunks ([`PURGE_CHUNK`] rows a statement, each its own
//! transaction), so a first purge after a long pause never holds the writer for long, replicas
//! purging at the same time delete each row once, and a row younger than its cutoff is never
//! touched.

use async_trait::async_trait;
use tollgate_domain::Timestamp;

use crate::error::StoreError;

/// The most rows one purge statement deletes (or one key expiry clears) before the writer is
/// given back to metered writes.
pub const PURGE_CHUNK: i64 = 1_000;

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
    /// Idempotency keys of consumptions and holds made before this stop replaying: the key is
    /// cleared (the record is kept), so the same key later is a new request (SPEC §12.1).
    pub idempotency_keys_before: Timestamp,
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: u64,
    pub reservations: u64,
    pub inbox_entries: u64,
    /// Idempotency keys cleared.
    pub idempotency_keys: u64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Housekeeping: Send + Sync {
    /// Deletes what is past its cutoff, in chunks that let metered writes go first; returns how
    /// much of each went.
    ///
    /// # Errors
    /// Only [`StoreError`]; a chunk deleted before the error stays deleted (purging again goes on).
    async fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError>;
}
