//! Values the contract tests build on.

use time::macros::datetime;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{
    Email, FullName, Role, RunCount, Subscription, SubscriptionId, SubscriptionParts, Timestamp, User, UserId,
};
use tollgate_ports::outbound::{Consumption, IdempotencyKey, PasswordHash, Session, UsageReason};
use uuid::Uuid;

use crate::Subject;

/// Whole microseconds, as both stores keep them.
pub const T0: Timestamp = datetime!(2026-03-15 12:00:00.123456 UTC);

pub fn id() -> Uuid {
    Uuid::new_v4()
}

pub fn user(email: &str) -> User {
    User {
        id: UserId::from_uuid(id()),
        fullname: FullName::parse("Ada Lovelace").expect("valid"),
        email: Email::parse(email).expect("valid"),
        role: Role::User,
        created_at: T0,
    }
}

pub fn hash() -> PasswordHash {
    PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into())
}

/// Registers a user with a fresh free subscription; returns both.
pub async fn registered(s: &Subject, email: &str) -> (User, Subscription) {
    let user = user(email);
    let sub = Subscription::new_free(SubscriptionId::from_uuid(id()), user.id, T0);
    s.users.create(&user, &hash(), &sub).await.expect("user created");
    (user, sub)
}

pub fn consumption(user: UserId, version: i64, limit: RunLimit, key: Option<&str>) -> Consumption {
    Consumption {
        record_id: id(),
        user_id: user,
        units: RunCount::new(1),
        limit,
        expected_version: version,
        idempotency_key: key.and_then(IdempotencyKey::parse),
        reason: UsageReason::Route("POST /test".into()),
        at: T0,
    }
}

pub fn session(user: UserId, title: &str, at: Timestamp) -> Session {
    Session {
        id: tollgate_domain::SessionId::from_uuid(id()),
        user_id: user,
        title: Some(title.to_owned()),
        created_at: at,
    }
}

/// `sub` with some of its parts changed (fixtures set states the rules would take many steps to reach).
pub fn with(sub: &Subscription, change: impl FnOnce(&mut SubscriptionParts)) -> Subscription {
    let mut parts = sub.parts();
    change(&mut parts);
    Subscription::from_parts(parts)
}
