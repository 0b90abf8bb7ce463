//! Operator actions — the admin API (SPEC §8) and the `tollgate user …` commands — through the
//! same rules as the API. Every change is written with its audit entry in one transaction.

use std::sync::Arc;

use serde_json::json;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::AdminPlanError;
use tollgate_domain::{AccountId, AccountKind, Email, PlanId, Role, RunCount, Subscription, User, UserId};

use crate::current::{load_current, update_current_with, CurrentError};
use crate::Failure;
use tollgate_ports::{AccountRepository, MemberUse};
use tollgate_ports::{
    AdminRepository, AuditAction, AuditEntry, Clock, IdGenerator, Page, SubscriptionRepository, UsageRecord,
    UsageRepository, UserRepository,
};

/// At most this many runs in one grant.
pub const MAX_GRANT: u32 = 1_000_000;

/// At most this many extra runs in one period (with an admin limit of at most
/// [`MAX_RUNS_LIMIT`], a limit stays within the API's `int32`).
pub const MAX_GRANTED: u32 = 1_000_000_000;

/// The largest per-customer limit an operator may set.
pub const MAX_RUNS_LIMIT: u32 = 1_000_000_000;

/// Admin changes retry their compare-and-set this many times (operators may race each other and
/// the traffic of the user they change) before answering `Contended`.
const ADMIN_ATTEMPTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such user")]
    UnknownUser,
    /// No account with this id.
    #[error("no such account")]
    UnknownAccount,
    #[error("the user has no subscription")]
    NoSubscription,
    #[error(transparent)]
    Refused(#[from] AdminPlanError),
    /// Other changes to the same subscription kept winning; nothing was written. Retry.
    #[error("the subscription kept changing; nothing was written")]
    Contended,
    /// A per-customer limit above [`MAX_RUNS_LIMIT`].
    #[error("a customer's limit is at most {MAX_RUNS_LIMIT} runs")]
    LimitTooLarge,
    /// The grant would take the period's extra runs past [`MAX_GRANTED`].
    #[error("at most {MAX_GRANTED} extra runs may be granted in a period")]
    TooManyGranted,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CurrentError> for AdminError {
    fn from(e: CurrentError) -> Self {
        match e {
            CurrentError::NotFound => Self::NoSubscription,
            CurrentError::Contended => Self::Contended,
            CurrentError::Failure(f) => Self::Failure(f),
        }
    }
}

/// Who makes a change, for its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:<id> <email>` (admin API) or `cli:<login>` (command line).
    pub name: String,
    /// The API request's id (`X-Request-Id`); `None` from the command line.
    pub request_id: Option<String>,
}

impl Actor {
    /// An admin calling the API.
    pub fn user(user: &User, request_id: Option<String>) -> Self {
        Self { name: format!("user:{} {}", user.id, user.email.as_str()), request_id }
    }

    /// The command line, as the operating-system user `login`.
    pub fn cli(login: &str) -> Self {
        Self { name: format!("cli:{login}"), request_id: None }
    }
}

/// One user as an operator sees them.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: User,
    pub subscription: Subscription,
    /// The newest usage records.
    pub recent_usage: Vec<UsageRecord>,
}

/// One account as an operator sees it.
#[derive(Debug, Clone)]
pub struct AccountDetail {
    pub account: tollgate_domain::Account,
    pub subscription: Subscription,
    /// Its members with their use this period (a personal account's one member: the account's).
    pub members: Vec<MemberUse>,
    /// The newest usage records.
    pub recent_usage: Vec<UsageRecord>,
}

/// Whom an audit entry names.
#[derive(Debug, Clone, Copy)]
struct Target {
    user: Option<UserId>,
    account: Option<AccountId>,
}

impl Target {
    /// A user, and their personal account.
    const fn user(user: UserId) -> Self {
        Self { user: Some(user), account: Some(AccountId::personal(user)) }
    }
}

pub struct AdminService {
    users: Arc<dyn UserRepository>,
    accounts: Arc<dyn AccountRepository>,
    subs: Arc<dyn SubscriptionRepository>,
    usage: Arc<dyn UsageRepository>,
    admin: Arc<dyn AdminRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

/// What an audit entry records of a subscription.
fn plan_view(sub: &Subscription) -> serde_json::Value {
    json!({
        "plan": sub.plan().as_str(),
        "status": sub.status().as_str(),
        "runs_limit_override": sub.runs_limit_override().map(|l| match l.as_option() {
            Some(n) => json!(n),
            None => json!("unlimited"),
        }),
        "runs_granted": sub.runs_granted().get(),
        "runs_used": sub.runs_used().get(),
    })
}

/// Whether two subscriptions hold the same state (the version and update time aside).
fn same_state(a: &Subscription, b: &Subscription) -> bool {
    let (mut a, mut b) = (a.parts(), b.parts());
    (a.version, a.updated_at) = (0, b.updated_at);
    b.version = 0;
    a == b
}

impl AdminService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        accounts: Arc<dyn AccountRepository>,
        subs: Arc<dyn SubscriptionRepository>,
        usage: Arc<dyn UsageRepository>,
        admin: Arc<dyn AdminRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { users, accounts, subs, usage, admin, clock, ids }
    }

    /// The user with this email.
    pub async fn find(&self, email: &Email) -> Result<User, AdminError> {
        self.users.find_by_email(email).await.map_err(Failure::from)?.ok_or(AdminError::UnknownUser)
    }

    /// Whether `user` may use the admin API (read from the store on every call, so a demotion
    /// holds at once, whatever the caller's token says).
    pub async fn is_admin(&self, user: UserId) -> Result<Option<User>, Failure> {
        Ok(self.users.find_by_id(user).await?.filter(|u| u.role == Role::Admin))
    }

    /// What an audit entry names for a change to `account`: the account, and its user when it is
    /// a personal one.
    async fn target(&self, account: AccountId) -> Result<Target, AdminError> {
        let found = self
            .accounts
            .find_account(account)
            .await
            .map_err(Failure::from)?
            .ok_or(AdminError::UnknownAccount)?;
        Ok(match found.kind {
            AccountKind::Personal => Target::user(account.as_user()),
            AccountKind::Organisation => Target { user: None, account: Some(account) },
        })
    }

    /// An account, its current subscription, its members with their use this period, and its
    /// `recent` newest usage records.
    pub async fn account_detail(&self, account: AccountId, recent: u32) -> Result<AccountDetail, AdminError> {
        let found = self
            .accounts
            .find_account(account)
            .await
            .map_err(Failure::from)?
            .ok_or(AdminError::UnknownAccount)?;
        let subscription = load_current(self.subs.as_ref(), account, self.clock.now()).await?;
        let mut members = self.accounts.members(account).await.map_err(Failure::from)?;
        if found.kind == AccountKind::Personal {
            for member in &mut members {
                member.runs_used = subscription.runs_used();
            }
        }
        let recent_usage = self.usage.list(account, recent).await.map_err(Failure::from)?;
        Ok(AccountDetail { account: found, subscription, members, recent_usage })
    }

    /// The user and their current subscription.
    pub async fn show(&self, email: &Email) -> Result<(User, Subscription), AdminError> {
        let user = self.find(email).await?;
        let sub = load_current(self.subs.as_ref(), AccountId::personal(user.id), self.clock.now()).await?;
        Ok((user, sub))
    }

    /// The user, their current subscription and their `recent` newest usage records.
    pub async fn detail(&self, id: UserId, recent: u32) -> Result<UserDetail, AdminError> {
        let user = self.users.find_by_id(id).await.map_err(Failure::from)?.ok_or(AdminError::UnknownUser)?;
        let subscription =
            load_current(self.subs.as_ref(), AccountId::personal(id), self.clock.now()).await?;
        let recent_usage = self.usage.list(AccountId::personal(id), recent).await.map_err(Failure::from)?;
        Ok(UserDetail { user, subscription, recent_usage })
    }

    /// Users whose email or name contains `query`, and how many match.
    pub async fn search(&self, query: Option<&str>, page: Page) -> Result<(Vec<User>, u64), Failure> {
        let query = query.map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
        // No stored email or name holds a NUL (Postgres cannot even be asked about one): such a
        // query matches nobody.
        if query.as_deref().is_some_and(|q| q.contains('\0')) {
            return Ok((Vec::new(), 0));
        }
        Ok(self.admin.search_users(query, page).await?)
    }

    /// The audit log, newest first, and its length.
    pub async fn audit(&self, page: Page) -> Result<(Vec<AuditEntry>, u64), Failure> {
        Ok(self.admin.audit_log(page).await?)
    }

    fn entry(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: Target,
        reason: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            id: self.ids.new_id(),
            actor: actor.name.clone(),
            action,
            target_user_id: target.user,
            target_account_id: target.account,
            before: None,
            after: None,
            reason,
            request_id: actor.request_id.clone(),
            at: self.clock.now(),
        }
    }

    /// Applies `change` to the account's subscription and saves it with its audit entry.
    async fn change_subscription(
        &self,
        account: AccountId,
        actor: &Actor,
        action: AuditAction,
        reason: Option<String>,
        change: impl Fn(
            &mut Subscription,
            tollgate_domain::Timestamp,
        ) -> Result<tollgate_domain::UsageEffect, AdminError>,
    ) -> Result<Subscription, AdminError> {
        let base = self.entry(actor, action, self.target(account).await?, reason);
        // A change that changes nothing (the plan it already has) writes nothing, audit included.
        let change = |sub: &mut Subscription, now| {
            let original = sub.clone();
            let effect = change(sub, now)?;
            if same_state(&original, sub) {
                *sub = original;
                return Ok(tollgate_domain::UsageEffect::Unchanged);
            }
            Ok(effect)
        };
        update_current_with(
            self.subs.as_ref(),
            self.clock.as_ref(),
            account,
            ADMIN_ATTEMPTS,
            change,
            async |before, after, version, effect| {
                let entry = AuditEntry {
                    before: Some(plan_view(before)),
                    after: Some(plan_view(after)),
                    at: self.clock.now(),
                    ..base.clone()
                };
                self.admin.update_subscription_audited(after, version, effect, &entry).await
            },
        )
        .await
    }

    /// Sets an account's plan, and optionally its own run limit (`None` = the plan's own).
    pub async fn set_plan(
        &self,
        account: AccountId,
        plan: PlanId,
        runs: Option<RunLimit>,
        actor: &Actor,
    ) -> Result<Subscription, AdminError> {
        if runs.and_then(|r| r.as_option()).is_some_and(|n| n > MAX_RUNS_LIMIT) {
            return Err(AdminError::LimitTooLarge);
        }
        self.change_subscription(account, actor, AuditAction::SetPlan, None, |sub, now| {
            sub.set_plan_by_admin(plan, runs, now).map_err(AdminError::from)
        })
        .await
    }

    /// Grants `runs` extra runs for the account's current period.
    pub async fn grant(
        &self,
        account: AccountId,
        runs: RunCount,
        reason: String,
        actor: &Actor,
    ) -> Result<Subscription, AdminError> {
        self.change_subscription(account, actor, AuditAction::GrantRuns, Some(reason), |sub, now| {
            if u64::from(sub.runs_granted().get()) + u64::from(runs.get()) > u64::from(MAX_GRANTED) {
                return Err(AdminError::TooManyGranted);
            }
            Ok(sub.grant_runs(runs, now))
        })
        .await
    }

    /// Sets the user's role. Returns the user as they are now.
    pub async fn set_role(&self, email: &Email, role: Role, actor: &Actor) -> Result<User, AdminError> {
        let mut user = self.find(email).await?;
        if user.role == role {
            return Ok(user);
        }
        let entry = AuditEntry {
            before: Some(json!({ "role": user.role.as_str() })),
            after: Some(json!({ "role": role.as_str() })),
            ..self.entry(actor, AuditAction::SetRole, Target::user(user.id), None)
        };
        if !self.admin.set_role_audited(user.id, role, &entry).await.map_err(Failure::from)? {
            return Err(AdminError::UnknownUser);
        }
        user.role = role;
        Ok(user)
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
