//! Values the contract tests build on.

use time::macros::datetime;
use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{
    AccountId, Email, FullName, Role, RunCount, Subscription, SubscriptionId, SubscriptionParts, Timestamp,
    User, UserId,
};
use tollgate_ports::{
    ConsumeOutcome, Consumption, IdempotencyKey, InboxEntry, InboxOutcome, PasswordHash, RefreshTokenRecord,
    Session, UsageReason,
};
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
    let sub = Subscription::new_free(SubscriptionId::from_uuid(id()), AccountId::personal(user.id), T0);
    s.users.create(&user, &hash(), &sub).await.expect("user created");
    (user, sub)
}

pub fn consumption(user: UserId, version: i64, limit: RunLimit, key: Option<&str>) -> Consumption {
    Consumption {
        record_id: id(),
        account_id: AccountId::personal(user),
        user_id: Some(user),
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
        account_id: AccountId::personal(user),
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

pub const TEN: RunLimit = RunLimit::Limited(RunCount::new(10));

pub fn hold(
    user: tollgate_domain::UserId,
    version: i64,
    limit: RunLimit,
    runs: u32,
    key: Option<&str>,
) -> Consumption {
    Consumption { units: RunCount::new(runs), ..consumption(user, version, limit, key) }
}

/// A metered write's outcome, by kind: its runs used after, or the id a replay answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Consumed(u32),
    Replayed(Option<Uuid>),
    Mismatch,
    LimitReached(u32),
    NotAMember,
    MemberCapReached(u32),
    Stale,
}

pub fn got<T>(outcome: ConsumeOutcome<T>, id: impl Fn(T) -> Uuid) -> Got {
    match outcome {
        ConsumeOutcome::Consumed { runs_used, .. } => Got::Consumed(runs_used.get()),
        ConsumeOutcome::Replayed { value } => Got::Replayed(value.map(id)),
        ConsumeOutcome::KeyMismatch => Got::Mismatch,
        ConsumeOutcome::LimitReached { runs_used } => Got::LimitReached(runs_used.get()),
        ConsumeOutcome::StaleState => Got::Stale,
        ConsumeOutcome::NotAMember => Got::NotAMember,
        ConsumeOutcome::MemberCapReached { runs_used } => Got::MemberCapReached(runs_used.get()),
    }
}

pub async fn used_and_reserved(s: &Subject, user: tollgate_domain::UserId) -> (u32, u32) {
    let sub = s
        .subs
        .get_by_account(AccountId::personal(user))
        .await
        .expect("the store answers")
        .expect("the user has a subscription");
    (sub.runs_used().get(), sub.runs_reserved().get())
}

pub fn token(user: tollgate_domain::UserId, family: uuid::Uuid, hash: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: id(),
        family_id: family,
        user_id: user,
        token_hash: hash.into(),
        expires_at: T0 + Duration::days(30),
        rotated_at: None,
        revoked_at: None,
        created_at: T0,
    }
}

pub fn entry(event_id: &str) -> InboxEntry {
    InboxEntry {
        event_id: event_id.into(),
        event_type: "customer.subscription.updated".into(),
        created: T0,
        received_at: T0 + Duration::seconds(1),
        outcome: InboxOutcome::Processed,
    }
}
