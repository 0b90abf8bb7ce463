//! Rate limits, in memory, per process:
//! - sign-in attempts (login and register) per client address (governor's GCRA);
//! - failed logins per (email, client address), counted in a window that starts at the first
//!   failure: someone else's failures never lock a user out of the right password from another
//!   address, and the right password clears the count;
//! - Checkout sessions per user (GCRA).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tollgate_domain::UserId;

/// Keys kept before idle ones are forgotten.
const MAX_KEYS: usize = 10_000;

/// One keyed GCRA limiter; `None` when its limit is 0 (off).
struct Keyed<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn per_minute(n: u32) -> Self {
        let limiter = NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self { limiter, clock: DefaultClock::default() }
    }

    /// Takes one cell for `key`; `Err(seconds to wait)` when none is left.
    fn take(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        let taken = limiter.check_key(key).map_err(|not_until| {
            let secs = not_until.wait_time_from(self.clock.now()).as_secs_f64().ceil();
            (secs as u64).max(1)
        });
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
        }
        taken
    }
}

/// Failures per key within a window opened by the first failure.
struct Failures<K: Hash + Eq> {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq> Failures<K> {
    fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, seen: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds to wait)` when `key` has used its failures in the current window.
    fn check(&self, key: &K) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get(key) {
            Some((opened, count)) if *count >= self.limit && opened.elapsed() < self.window => {
                Err((self.window - opened.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    fn record(&self, key: K) {
        if self.limit == 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > MAX_KEYS {
            let window = self.window;
            seen.retain(|_, (opened, _)| opened.elapsed() < window);
        }
        let entry = seen.entry(key).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    fn clear(&self, key: &K) {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }
}

/// The sign-in and checkout limits.
pub struct RateLimits {
    attempts_by_client: Keyed<IpAddr>,
    failures: Failures<(String, IpAddr)>,
    checkouts_by_user: Keyed<UserId>,
}

/// A client address for limiting; requests without one (not over TCP) share one key.
fn client_key(client: Option<IpAddr>) -> IpAddr {
    client.unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn email_key(email: &str, client: Option<IpAddr>) -> (String, IpAddr) {
    (email.trim().to_lowercase(), client_key(client))
}

impl RateLimits {
    /// `sign_in_per_minute` attempts per client address and failed logins per (email, client)
    /// per minute; `checkouts_per_minute` Checkout sessions per user. 0 turns a limit off.
    pub fn new(sign_in_per_minute: u32, checkouts_per_minute: u32) -> Self {
        Self {
            attempts_by_client: Keyed::per_minute(sign_in_per_minute),
            failures: Failures::new(sign_in_per_minute, Duration::from_secs(60)),
            checkouts_by_user: Keyed::per_minute(checkouts_per_minute),
        }
    }

    /// Before a login or registration: `Err(seconds to wait)` when the client has used its
    /// attempts, or (with an email) when this email has failed too often from this client.
    pub fn sign_in_attempt(&self, client: Option<IpAddr>, email: Option<&str>) -> Result<(), u64> {
        if let Some(email) = email {
            self.failures.check(&email_key(email, client))?;
        }
        self.attempts_by_client.take(&client_key(client))
    }

    /// After a login: a failure counts against (email, client); a success clears it.
    pub fn sign_in_result(&self, client: Option<IpAddr>, email: &str, succeeded: bool) {
        let key = email_key(email, client);
        if succeeded {
            self.failures.clear(&key);
        } else {
            self.failures.record(key);
        }
    }

    /// Before opening a Checkout session for `user`.
    pub fn checkout(&self, user: UserId) -> Result<(), u64> {
        self.checkouts_by_user.take(&user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)));
    const THERE: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 1, 2)));

    #[test]
    fn attempts_are_limited_per_client_address() {
        let limits = RateLimits::new(2, 0);
        assert!(limits.sign_in_attempt(HERE, Some("a@x.io")).is_ok());
        assert!(limits.sign_in_attempt(HERE, Some("b@x.io")).is_ok());
        let wait = limits.sign_in_attempt(HERE, Some("c@x.io")).expect_err("third attempt from one client");
        assert!((1..=60).contains(&wait));
        assert!(limits.sign_in_attempt(THERE, Some("c@x.io")).is_ok());
    }

    #[test]
    fn failures_lock_only_their_own_email_and_address_and_success_clears_them() {
        let limits = RateLimits::new(3, 0);
        for _ in 0..3 {
            limits.sign_in_result(THERE, "Ada@x.io", false);
        }
        assert!(limits.failures.check(&email_key("ada@X.io", THERE)).is_err());
        // The same email from another address is not affected.
        assert!(limits.failures.check(&email_key("ada@x.io", HERE)).is_ok());
        limits.sign_in_result(THERE, "ada@x.io", true);
        assert!(limits.failures.check(&email_key("ada@x.io", THERE)).is_ok());
    }

    #[test]
    fn checkouts_are_limited_per_user_and_zero_turns_limits_off() {
        let limits = RateLimits::new(0, 1);
        let (a, b) =
            (UserId::from_uuid(uuid::Uuid::from_u128(1)), UserId::from_uuid(uuid::Uuid::from_u128(2)));
        assert!(limits.checkout(a).is_ok());
        assert!(limits.checkout(a).is_err());
        assert!(limits.checkout(b).is_ok());
        assert!((0..100).all(|_| limits.sign_in_attempt(HERE, Some("a@x.io")).is_ok()));
    }
}
