//! The clock seam: every rule that depends on "now" takes it from here.

use std::sync::Mutex;

use crate::Timestamp;

/// Source of the current time. Production uses the system clock (in the ports crate); tests use
/// [`FixedClock`].
pub trait Clock: Send + Sync {
    /// The current instant, in UTC.
    fn now(&self) -> Timestamp;
}

/// A clock that stands still until it is moved; for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *guard += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_fixed_clock_only_moves_when_told() {
        let clock = FixedClock::new(datetime!(2026-01-31 12:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-31 12:00 UTC));
        clock.advance(time::Duration::days(1));
        assert_eq!(clock.now(), datetime!(2026-02-01 12:00 UTC));
        clock.set(datetime!(2027-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2027-01-01 00:00 UTC));
    }
}
