//! The pool and the caps. An account's runs per period are one pool shared by its members; a
//! member may also have a cap on their own share. A consumption or a hold is admitted only if it
//! fits both — the pool (`used + reserved + units <= limit`) and the member's cap (the member's
//! `used + reserved + units <= cap`) — and the store applies the decision atomically to both
//! counters. A commit charges at most what was held and is never refused; a release or an expiry
//! gives the hold back to both; a refund gives a consumption back to both; a new period starts
//! both at zero.

use serde::Serialize;

use crate::plan::{RunCount, RunLimit};

/// Runs charged and runs held, in one period: the pool's, or one member's share of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counter {
    pub used: RunCount,
    pub reserved: RunCount,
}

impl Counter {
    /// `used + reserved`: what counts against a limit.
    pub fn committed(self) -> u64 {
        u64::from(self.used.get()) + u64::from(self.reserved.get())
    }
}

/// Which limit refuses a consumption or a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRefusal {
    /// The account's pool (HTTP 402 `SUBSCRIPTION_LIMIT_REACHED`).
    PoolLimit,
    /// The member's own cap (HTTP 402 `MEMBER_CAP_REACHED`).
    MemberCap,
}

/// May `units` more runs be consumed or held by a member whose share is `member` (capped at
/// `cap`, if any) from a pool at `pool` under `limit`? The pool is asked first: when the pool is
/// spent, raising the member's cap would not help, so the refusal names the pool.
///
/// # Errors
/// The [`PoolRefusal`] naming the limit the runs would exceed.
pub fn admit(
    limit: RunLimit,
    pool: Counter,
    cap: Option<RunCount>,
    member: Counter,
    units: RunCount,
) -> Result<(), PoolRefusal> {
    let fits = |committed: u64, bound: RunCount| committed + u64::from(units.get()) <= u64::from(bound.get());
    if let RunLimit::Limited(bound) = limit {
        if !fits(pool.committed(), bound) {
            return Err(PoolRefusal::PoolLimit);
        }
    }
    match cap {
        Some(cap) if !fits(member.committed(), cap) => Err(PoolRefusal::MemberCap),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
