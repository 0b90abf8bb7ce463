//! `AdminRepository`: operator changes, each written with its audit entry in one transaction,
//! and what operators search and read.

use async_trait::async_trait;
use tollgate_domain::{AccountId, Role, Subscription, Timestamp, UsageEffect, User, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::sessions::Page;
use crate::subscriptions::UpdateSubscriptionError;

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// Plan and per-customer limit set (`POST /admin/users/{id}/plan`, `tollgate user set-plan`).
    SetPlan,
    /// Extra runs granted for the current period (`POST /admin/users/{id}/grant`, `tollgate user grant`).
    GrantRuns,
    /// Role changed (`tollgate user set-role`).
    SetRole,
    /// A service key created (`tollgate key create`); `after` names it.
    CreateKey,
    /// A service key revoked (`tollgate key revoke`); `before` names it.
    RevokeKey,
}

impl AuditAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SetPlan => "user.set_plan",
            Self::GrantRuns => "user.grant_runs",
            Self::SetRole => "user.set_role",
            Self::CreateKey => "key.create",
            Self::RevokeKey => "key.revoke",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::SetPlan, Self::GrantRuns, Self::SetRole, Self::CreateKey, Self::RevokeKey]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// One audit entry: who changed what on whom, from what to what, why, in which request.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    /// `user:<id> <email>` for the admin API, `cli:<login>` for the command line.
    pub actor: String,
    pub action: AuditAction,
    pub target_user_id: Option<UserId>,
    /// The account changed (a user's changes name their personal account).
    pub target_account_id: Option<AccountId>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    /// The `X-Request-Id` of the API request that made the change.
    pub request_id: Option<String>,
    pub at: Timestamp,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AdminRepository: Send + Sync {
    /// The compare-and-set update of [`super::SubscriptionRepository::update`] and `entry`, in one
    /// transaction: both are written or neither.
    ///
    /// # Errors
    /// [`UpdateSubscriptionError::Conflict`] when the version has moved on; nothing is written.
    async fn update_subscription_audited(
        &self,
        subscription: &Subscription,
        expected_version: i64,
        usage: UsageEffect,
        entry: &AuditEntry,
    ) -> Result<(), UpdateSubscriptionError>;

    /// Sets the user's role and writes `entry`, in one transaction. `false` (and nothing
    /// written) when there is no such user.
    ///
    /// # Errors
    /// Only [`StoreError`]; an unknown user is `Ok(false)`.
    async fn set_role_audited(
        &self,
        user: UserId,
        role: Role,
        entry: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// Users whose email or name contains `query` (case-insensitive; all when `None`), oldest
    /// first, and how many match in all.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn search_users(&self, query: Option<String>, page: Page) -> Result<(Vec<User>, u64), StoreError>;

    /// The audit log, the last written first, and its length.
    ///
    /// # Errors
    /// Only [`StoreError`].
    async fn audit_log(&self, page: Page) -> Result<(Vec<AuditEntry>, u64), StoreError>;
}
