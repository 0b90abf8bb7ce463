use std::error::Error as StdError;

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// A store failure that is not part of an operation's contract.
///
/// Adapters translate driver errors into this at the boundary; no driver type crosses it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or timed out (a transient failure: HTTP 503, retry later).
    #[error("the store is unavailable")]
    Unavailable(#[source] Source),
    /// Anything else (a bug, corrupted data, a broken invariant).
    #[error("the store failed")]
    Failed(#[source] Source),
    /// More writes wait than the store's write queue takes: nothing was written (HTTP 503
    /// `OVERLOADED`, retry shortly). Only the group-committed writes (`consume`, `hold`,
    /// `commit`, `create_metered`) return it; their `# Errors` sections say so.
    #[error("the store's write queue is full")]
    Overloaded,
}

impl StoreError {
    pub fn unavailable(source: impl Into<Source>) -> Self {
        Self::Unavailable(source.into())
    }

    pub fn failed(source: impl Into<Source>) -> Self {
        Self::Failed(source.into())
    }
}
