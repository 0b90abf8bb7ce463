//! Housekeeping (SPEC §8): expired refresh tokens, released and expired reservations after 7
//! days, webhook inbox entries after the retention, idempotency keys after 7 days. Safe on every
//! replica at once (each purge is `DELETE … WHERE older than`, in bounded chunks).

use std::sync::Arc;

use time::Duration;

use crate::Failure;
use tollgate_ports::{Clock, Housekeeping, PurgeCutoffs, Purged};

/// Settled (released or expired) reservations are kept this long.
pub const SETTLED_RESERVATIONS_KEPT: Duration = Duration::days(7);
/// An `Idempotency-Key` replays its request this long; then it is forgotten (docs/http.md).
pub const IDEMPOTENCY_KEYS_KEPT: Duration = Duration::days(7);
/// The shortest inbox retention: longer than Stripe retries a delivery (3 days), so a redelivery
/// is still recognised as a duplicate.
pub const MIN_INBOX_RETENTION: Duration = Duration::days(7);

pub struct HousekeepingService {
    store: Arc<dyn Housekeeping>,
    clock: Arc<dyn Clock>,
    inbox_retention: Duration,
}

impl HousekeepingService {
    /// `inbox_retention` below [`MIN_INBOX_RETENTION`] is raised to it.
    pub fn new(store: Arc<dyn Housekeeping>, clock: Arc<dyn Clock>, inbox_retention: Duration) -> Self {
        Self { store, clock, inbox_retention: inbox_retention.max(MIN_INBOX_RETENTION) }
    }

    /// The cutoffs as of now.
    pub fn cutoffs(&self) -> PurgeCutoffs {
        let now = self.clock.now();
        PurgeCutoffs {
            refresh_tokens_expired_before: now,
            reservations_settled_before: now - SETTLED_RESERVATIONS_KEPT,
            inbox_received_before: now - self.inbox_retention,
            idempotency_keys_before: now - IDEMPOTENCY_KEYS_KEPT,
        }
    }

    pub async fn run(&self) -> Result<Purged, Failure> {
        Ok(self.store.purge(self.cutoffs()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self as ts, NOW};
    use tollgate_ports::MockHousekeeping;

    #[test]
    fn the_cutoffs_keep_settled_holds_a_week_and_the_inbox_at_least_a_week() {
        let service =
            HousekeepingService::new(Arc::new(MockHousekeeping::new()), ts::clock(), Duration::days(2));
        let c = service.cutoffs();
        assert_eq!(c.refresh_tokens_expired_before, NOW);
        assert_eq!(c.reservations_settled_before, NOW - Duration::days(7));
        assert_eq!(c.inbox_received_before, NOW - Duration::days(7), "raised to the minimum");
        assert_eq!(c.idempotency_keys_before, NOW - Duration::days(7));
        let service =
            HousekeepingService::new(Arc::new(MockHousekeeping::new()), ts::clock(), Duration::days(90));
        assert_eq!(service.cutoffs().inbox_received_before, NOW - Duration::days(90));
    }
}
