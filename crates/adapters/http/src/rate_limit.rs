//! Login and register are rate limited per client address and per email (governor, GCRA).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Two keyed limiters sharing one quota; `None` when the limit is off.
pub struct AuthRateLimiter {
    limiters: Option<(DefaultKeyedRateLimiter<IpAddr>, DefaultKeyedRateLimiter<String>)>,
    clock: DefaultClock,
}

impl AuthRateLimiter {
    pub fn new(per_minute: u32) -> Self {
        let limiters = NonZeroU32::new(per_minute).map(|n| {
            let quota = Quota::per_minute(n);
            (RateLimiter::keyed(quota), RateLimiter::keyed(quota))
        });
        Self { limiters, clock: DefaultClock::default() }
    }

    /// `Err(seconds to wait)` when the client or the email has used its attempts.
    pub fn check(&self, client: Option<IpAddr>, email: Option<&str>) -> Result<(), u64> {
        let Some((by_client, by_email)) = &self.limiters else { return Ok(()) };
        let wait = |not_until: governor::NotUntil<_>| {
            let secs = not_until.wait_time_from(self.clock.now()).as_secs_f64().ceil();
            (secs as u64).max(1)
        };
        if let Some(ip) = client {
            by_client.check_key(&ip).map_err(wait)?;
        }
        if let Some(email) = email {
            by_email.check_key(&email.trim().to_lowercase()).map_err(wait)?;
        }
        // Forget idle keys now and then so the maps stay small.
        if by_client.len() > 10_000 {
            by_client.retain_recent();
        }
        if by_email.len() > 10_000 {
            by_email.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_client_and_per_email() {
        let limiter = AuthRateLimiter::new(2);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(limiter.check(Some(ip), Some("a@x.io")).is_ok());
        assert!(limiter.check(Some(ip), Some("b@x.io")).is_ok());
        let wait = limiter.check(Some(ip), Some("c@x.io")).expect_err("third attempt from one client");
        assert!((1..=60).contains(&wait));
        // Another client, but an email already tried twice (case-insensitively).
        assert!(limiter.check(Some(other), Some("A@x.io")).is_ok());
        assert!(limiter.check(Some(other), Some("a@X.io")).is_err());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = AuthRateLimiter::new(0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!((0..100).all(|_| limiter.check(Some(ip), Some("a@x.io")).is_ok()));
    }
}
