//! Tollgate's use cases: what the HTTP adapter and the CLI call. Each takes its ports
//! (`tollgate-ports`) as `Arc<dyn Trait>` and returns one error enum per operation, whose variants
//! the HTTP adapter maps to problem+json codes in one place. They are unit-tested here against
//! `mockall` mocks of the ports.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod billing;
mod current;
pub mod housekeeping;
pub mod metering;
pub mod redirect;
pub mod reservations;
pub mod service_keys;
pub mod sessions;
mod snapshots;
pub mod usage_history;
pub mod webhooks;

use tollgate_ports::StoreError;

/// A failure that is not the caller's fault. Never shown to clients beyond "unavailable" or
/// "internal error"; the source chain is logged.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A dependency is down or timed out: retry later (HTTP 503).
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug or broken invariant (HTTP 500).
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Too much waits to be written; nothing was done (HTTP 503 `OVERLOADED`).
    #[error("overloaded")]
    Overloaded,
}

impl Failure {
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }
}

impl From<tollgate_ports::HashError> for Failure {
    fn from(e: tollgate_ports::HashError) -> Self {
        match e {
            tollgate_ports::HashError::Busy => Self::Overloaded,
            e @ tollgate_ports::HashError::Failed(_) => Self::Internal(Box::new(e)),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(Box::new(e)),
            StoreError::Failed(_) => Self::Internal(Box::new(e)),
            StoreError::Overloaded => Self::Overloaded,
        }
    }
}

/// How many times a compare-and-set is retried before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 16;

#[cfg(test)]
pub(crate) mod test_support;
