//! Rows: one per table, with plain column types (timestamps as [`Ts`]), read with
//! `sqlx::FromRow` on either store and converted to domain values here once.

use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::{BillingLink, Trial};
use tollgate_domain::{
    Account, AccountId, AccountKind, AccountName, CustomerId, Email, FullName, Invitation, InvitationId,
    MemberRole, Membership, Period, PlanId, ProviderSubscriptionId, Role, RunCount, SessionId, Subscription,
    SubscriptionId, SubscriptionParts, SubscriptionStatus, User, UserId,
};
use tollgate_ports::{
    AccountMembership, AuditAction, AuditEntry, MemberUse, PasswordHash, RefreshTokenRecord, Reservation,
    ReservationStatus, ServiceKey, Session, StoreError, UsageReason, UsageRecord, UserCredentials,
};
use uuid::Uuid;

use crate::Ts;

fn corrupt(what: &str) -> StoreError {
    StoreError::failed(format!("stored {what} is invalid"))
}

/// `audit_log`: `before`/`after` as JSON text (the same on both stores).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub actor: String,
    pub action: String,
    pub target_user_id: Option<Uuid>,
    pub target_account_id: Option<Uuid>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub at: Ts,
}

impl AuditRow {
    pub fn from_domain(e: &AuditEntry) -> Self {
        Self {
            id: e.id,
            actor: e.actor.clone(),
            action: e.action.as_str().to_owned(),
            target_user_id: e.target_user_id.map(|u| *u.as_uuid()),
            target_account_id: e.target_account_id.map(|a| *a.as_uuid()),
            before: e.before.as_ref().map(serde_json::Value::to_string),
            after: e.after.as_ref().map(serde_json::Value::to_string),
            reason: e.reason.clone(),
            request_id: e.request_id.clone(),
            at: Ts(e.at),
        }
    }

    pub fn into_domain(self) -> Result<AuditEntry, StoreError> {
        let json = |text: Option<String>| {
            text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt("audit value"))).transpose()
        };
        Ok(AuditEntry {
            id: self.id,
            actor: self.actor,
            action: AuditAction::parse(&self.action).ok_or_else(|| corrupt("audit action"))?,
            target_user_id: self.target_user_id.map(UserId::from_uuid),
            target_account_id: self.target_account_id.map(AccountId::from_uuid),
            before: json(self.before)?,
            after: json(self.after)?,
            reason: self.reason,
            request_id: self.request_id,
            at: self.at.0,
        })
    }
}

/// `limit_override` column: NULL = none, -1 = unlimited, n ≥ 0 = that many runs.
pub const UNLIMITED: i64 = -1;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub fullname: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: Ts,
}

impl UserRow {
    pub fn from_domain(user: &User, hash: &PasswordHash) -> Self {
        Self {
            id: *user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            fullname: user.fullname.as_str().to_owned(),
            role: user.role.as_str().to_owned(),
            password_hash: hash.0.clone(),
            created_at: Ts(user.created_at),
        }
    }

    pub fn into_credentials(self) -> Result<UserCredentials, StoreError> {
        let password_hash = PasswordHash(self.password_hash.clone());
        Ok(UserCredentials { user: self.into_user()?, password_hash })
    }

    pub fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            fullname: FullName::parse(&self.fullname).map_err(|_| corrupt("full name"))?,
            email: Email::parse(&self.email).map_err(|_| corrupt("email"))?,
            role: self.role.parse::<Role>().map_err(|_| corrupt("role"))?,
            created_at: self.created_at.0,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub plan: String,
    pub status: String,
    pub runs_used: i64,
    pub runs_reserved: i64,
    pub period_start: Ts,
    pub period_end: Ts,
    pub period_anchor: Ts,
    pub limit_override: Option<i64>,
    pub runs_granted: i64,
    pub seats: i64,
    pub cancel_at_period_end: bool,
    pub trial_started_at: Option<Ts>,
    pub trial_ends_at: Option<Ts>,
    pub trial_used: bool,
    pub has_paid: bool,
    pub past_due_since: Option<Ts>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_granted: bool,
    pub stripe_last_event_at: Option<Ts>,
    pub version: i64,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl SubscriptionRow {
    pub fn from_domain(s: &Subscription) -> Self {
        Self {
            id: *s.id().as_uuid(),
            account_id: *s.account_id().as_uuid(),
            plan: s.plan().as_str().to_owned(),
            status: s.status().as_str().to_owned(),
            runs_used: i64::from(s.runs_used().get()),
            runs_reserved: i64::from(s.runs_reserved().get()),
            period_start: Ts(s.period().start()),
            period_end: Ts(s.period().end()),
            period_anchor: Ts(s.period_anchor()),
            limit_override: s.runs_limit_override().map(|l| l.as_option().map_or(UNLIMITED, i64::from)),
            runs_granted: i64::from(s.runs_granted().get()),
            seats: i64::from(s.seats()),
            cancel_at_period_end: s.cancel_at_period_end(),
            trial_started_at: s.trial().map(|t| Ts(t.started_at)),
            trial_ends_at: s.trial().map(|t| Ts(t.ends_at)),
            trial_used: s.trial_used(),
            has_paid: s.has_paid(),
            past_due_since: s.past_due_since().map(Ts),
            stripe_customer_id: s.billing().customer_id.as_deref().map(str::to_owned),
            stripe_subscription_id: s.billing().subscription_id.as_deref().map(str::to_owned),
            stripe_granted: s.billing().granted,
            stripe_last_event_at: s.billing().last_event_at.map(Ts),
            version: s.version(),
            created_at: Ts(s.created_at()),
            updated_at: Ts(s.updated_at()),
        }
    }

    pub fn into_domain(self) -> Result<Subscription, StoreError> {
        let runs_limit_override = match self.limit_override {
            None => None,
            Some(UNLIMITED) => Some(RunLimit::Unlimited),
            Some(n) => Some(RunLimit::limited(u32::try_from(n).map_err(|_| corrupt("limit"))?)),
        };
        let trial = match (self.trial_started_at, self.trial_ends_at) {
            (Some(started_at), Some(ends_at)) => Some(Trial { started_at: started_at.0, ends_at: ends_at.0 }),
            (None, None) => None,
            _ => return Err(corrupt("trial")),
        };
        Ok(Subscription::from_parts(SubscriptionParts {
            id: SubscriptionId::from_uuid(self.id),
            account_id: AccountId::from_uuid(self.account_id),
            plan: self.plan.parse::<PlanId>().map_err(|_| corrupt("plan"))?,
            status: self.status.parse::<SubscriptionStatus>().map_err(|_| corrupt("status"))?,
            runs_used: RunCount::new(u32::try_from(self.runs_used).map_err(|_| corrupt("usage"))?),
            runs_reserved: RunCount::new(
                u32::try_from(self.runs_reserved).map_err(|_| corrupt("reserved runs"))?,
            ),
            period: Period::new(self.period_start.0, self.period_end.0).map_err(|_| corrupt("period"))?,
            period_anchor: self.period_anchor.0,
            runs_limit_override,
            runs_granted: RunCount::new(
                u32::try_from(self.runs_granted).map_err(|_| corrupt("granted runs"))?,
            ),
            seats: u32::try_from(self.seats).map_err(|_| corrupt("seats"))?,
            cancel_at_period_end: self.cancel_at_period_end,
            trial,
            trial_used: self.trial_used,
            has_paid: self.has_paid,
            past_due_since: self.past_due_since.map(|t| t.0),
            billing: BillingLink {
                customer_id: self.stripe_customer_id.map(CustomerId::new),
                subscription_id: self.stripe_subscription_id.map(ProviderSubscriptionId::new),
                granted: self.stripe_granted,
                last_event_at: self.stripe_last_event_at.map(|t| t.0),
            },
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub created_at: Ts,
}

impl AccountRow {
    pub fn into_domain(self) -> Result<Account, StoreError> {
        Ok(Account {
            id: AccountId::from_uuid(self.id),
            kind: self.kind.parse::<AccountKind>().map_err(|_| corrupt("account kind"))?,
            name: AccountName::parse(&self.name).map_err(|_| corrupt("account name"))?,
            created_at: self.created_at.0,
        })
    }
}

/// An account and the reader's role in it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountWithRole {
    #[sqlx(flatten)]
    pub account: AccountRow,
    pub role: String,
}

impl AccountWithRole {
    pub fn into_domain(self) -> Result<AccountMembership, StoreError> {
        Ok(AccountMembership { account: self.account.into_domain()?, role: parse_role(&self.role)? })
    }
}

/// A stored member role.
pub fn parse_role(role: &str) -> Result<MemberRole, StoreError> {
    role.parse::<MemberRole>().map_err(|_| corrupt("member role"))
}

/// A membership with its member's email and counters.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub runs_cap: Option<i64>,
    pub runs_used: i64,
    pub runs_reserved: i64,
    pub joined_at: Ts,
    pub email: String,
}

impl MemberRow {
    pub fn into_domain(self) -> Result<MemberUse, StoreError> {
        let count = |n: i64| u32::try_from(n).map(RunCount::new).map_err(|_| corrupt("member runs"));
        Ok(MemberUse {
            membership: Membership {
                account_id: AccountId::from_uuid(self.account_id),
                user_id: UserId::from_uuid(self.user_id),
                role: parse_role(&self.role)?,
                runs_cap: self.runs_cap.map(count).transpose()?,
                joined_at: self.joined_at.0,
            },
            email: Email::parse(&self.email).map_err(|_| corrupt("email"))?,
            runs_used: count(self.runs_used)?,
            runs_reserved: count(self.runs_reserved)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Uuid,
    pub created_at: Ts,
    pub expires_at: Ts,
    pub accepted_at: Option<Ts>,
}

impl InvitationRow {
    pub fn into_domain(self) -> Result<Invitation, StoreError> {
        Ok(Invitation {
            id: InvitationId::from_uuid(self.id),
            account_id: AccountId::from_uuid(self.account_id),
            email: Email::parse(&self.email).map_err(|_| corrupt("email"))?,
            role: parse_role(&self.role)?,
            invited_by: UserId::from_uuid(self.invited_by),
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            accepted_at: self.accepted_at.map(|t| t.0),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub title: Option<String>,
    pub created_at: Ts,
}

impl SessionRow {
    pub fn into_domain(self) -> Session {
        Session {
            id: SessionId::from_uuid(self.id),
            account_id: AccountId::from_uuid(self.account_id),
            user_id: UserId::from_uuid(self.user_id),
            title: self.title,
            created_at: self.created_at.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub token_hash: String,
    pub expires_at: Ts,
    pub rotated_at: Option<Ts>,
    pub revoked_at: Option<Ts>,
    pub created_at: Ts,
}

impl RefreshTokenRow {
    pub fn into_domain(self) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: self.id,
            family_id: self.family_id,
            user_id: UserId::from_uuid(self.user_id),
            token_hash: self.token_hash,
            expires_at: self.expires_at.0,
            rotated_at: self.rotated_at.map(|t| t.0),
            revoked_at: self.revoked_at.map(|t| t.0),
            created_at: self.created_at.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Option<Uuid>,
    pub units: i64,
    pub reason: String,
    pub idempotency_key: Option<String>,
    pub resource_id: Option<Uuid>,
    pub refunded: bool,
    pub created_at: Ts,
}

impl UsageRow {
    pub fn into_domain(self) -> Result<UsageRecord, StoreError> {
        Ok(UsageRecord {
            id: self.id,
            account_id: AccountId::from_uuid(self.account_id),
            user_id: self.user_id.map(UserId::from_uuid),
            units: u32::try_from(self.units).map_err(|_| corrupt("units"))?,
            reason: UsageReason::from_stored(self.reason),
            idempotency_key: self.idempotency_key,
            resource_id: self.resource_id,
            refunded: self.refunded,
            at: self.created_at.0,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservationRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Option<Uuid>,
    pub runs: i64,
    pub committed_runs: Option<i64>,
    pub status: String,
    pub expires_at: Ts,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl ReservationRow {
    pub fn into_domain(self) -> Result<Reservation, StoreError> {
        let count = |n: i64| u32::try_from(n).map(RunCount::new).map_err(|_| corrupt("reservation runs"));
        Ok(Reservation {
            id: self.id,
            account_id: AccountId::from_uuid(self.account_id),
            user_id: self.user_id.map(UserId::from_uuid),
            runs: count(self.runs)?,
            committed_runs: self.committed_runs.map(count).transpose()?,
            status: ReservationStatus::from_stored(&self.status)
                .ok_or_else(|| corrupt("reservation status"))?,
            expires_at: self.expires_at.0,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// `SELECT <every reservations column> FROM reservations <tail>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_reservation {
    ($tail:literal) => {
        concat!(
            "SELECT id, account_id, user_id, runs, committed_runs, status, expires_at, created_at, updated_at FROM reservations ",
            $tail
        )
    };
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceKeyRow {
    pub id: Uuid,
    pub name: String,
    pub key_hash: String,
    pub created_at: Ts,
    pub revoked_at: Option<Ts>,
    pub prefix: Option<String>,
    pub last_used_at: Option<Ts>,
}

impl ServiceKeyRow {
    pub fn into_domain(self) -> ServiceKey {
        ServiceKey {
            id: self.id,
            name: self.name,
            key_hash: self.key_hash,
            created_at: self.created_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
            prefix: self.prefix,
            last_used_at: self.last_used_at.map(|t| t.0),
        }
    }
}

/// `SELECT <every users column> FROM users <tail>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_user {
    ($tail:literal) => {
        concat!("SELECT id, email, fullname, role, password_hash, created_at FROM users ", $tail)
    };
}

/// `SELECT <every subscriptions column> FROM subscriptions <tail>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_subscription {
    ($tail:literal) => {
        concat!(
            "SELECT id, account_id, plan, status, runs_used, runs_reserved, period_start, period_end, period_anchor, limit_override, \
             runs_granted, seats, cancel_at_period_end, trial_started_at, trial_ends_at, trial_used, has_paid, past_due_since, \
             stripe_customer_id, stripe_subscription_id, stripe_granted, stripe_last_event_at, version, \
             created_at, updated_at FROM subscriptions ",
            $tail
        )
    };
}
