//! Fixtures shared by the service tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use time::macros::datetime;
use time::Duration;
use tollgate_domain::{
    Email, FixedClock, FullName, PlanCatalog, Role, Subscription, SubscriptionId, Timestamp, User, UserId,
};
use uuid::Uuid;

use crate::metering::QuotaPolicy;
use tollgate_ports::{IdGenerator, StoreError};

pub const SIGNUP: Timestamp = datetime!(2026-03-01 08:00 UTC);
pub const NOW: Timestamp = datetime!(2026-03-15 12:00 UTC);

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(NOW))
}

/// Ids 1, 2, 3… so expectations can name them.
#[derive(Default)]
pub struct SeqIds(AtomicU64);

impl IdGenerator for SeqIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst) + 1))
    }
}

pub fn ids() -> Arc<SeqIds> {
    Arc::new(SeqIds::default())
}

pub fn catalog() -> Arc<PlanCatalog> {
    Arc::new(PlanCatalog::with_defaults(Some("price_basic".into()), Some("price_pro".into())))
}

pub fn policy() -> QuotaPolicy {
    QuotaPolicy { catalog: catalog(), past_due_grace: Duration::hours(72) }
}

pub fn user_id() -> UserId {
    UserId::from_uuid(Uuid::from_u128(0xA11CE))
}

pub fn user() -> User {
    User {
        id: user_id(),
        fullname: FullName::parse("Ada Lovelace").expect("valid"),
        email: Email::parse("ada@example.com").expect("valid"),
        role: Role::User,
        created_at: SIGNUP,
    }
}

/// A free subscription signed up at `SIGNUP` with `used` runs, at version 3.
pub fn free_sub(used: u32) -> Subscription {
    let sub = Subscription::new_free(
        SubscriptionId::from_uuid(Uuid::from_u128(0x5B)),
        tollgate_domain::AccountId::personal(user_id()),
        SIGNUP,
    );
    with(&sub, |p| {
        p.runs_used = tollgate_domain::RunCount::new(used);
        p.version = 3;
    })
}

pub fn outage() -> StoreError {
    StoreError::unavailable(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"))
}

/// `sub` with some of its parts changed (fixtures set states the rules would take many steps to reach).
pub fn with(
    sub: &tollgate_domain::Subscription,
    change: impl FnOnce(&mut tollgate_domain::SubscriptionParts),
) -> tollgate_domain::Subscription {
    let mut parts = sub.parts();
    change(&mut parts);
    tollgate_domain::Subscription::from_parts(parts)
}
