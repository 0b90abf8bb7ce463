//! Operator actions (the `tollgate user …` commands), through the same rules as the API.

use std::sync::Arc;

use tollgate_domain::plan::RunLimit;
use tollgate_domain::subscription::AdminPlanError;
use tollgate_domain::{Email, PlanId, Subscription, User};

use super::current::{load_current, update_current, CurrentError};
use super::Failure;
use crate::outbound::{Clock, SubscriptionRepository, UserRepository};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no user with this email")]
    UnknownUser,
    #[error("the user has no subscription")]
    NoSubscription,
    #[error(transparent)]
    Refused(#[from] AdminPlanError),
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CurrentError> for AdminError {
    fn from(e: CurrentError) -> Self {
        match e {
            CurrentError::NotFound => Self::NoSubscription,
            CurrentError::Failure(f) => Self::Failure(f),
        }
    }
}

pub struct AdminService {
    users: Arc<dyn UserRepository>,
    subs: Arc<dyn SubscriptionRepository>,
    clock: Arc<dyn Clock>,
}

impl AdminService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        subs: Arc<dyn SubscriptionRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { users, subs, clock }
    }

    /// The user and their current subscription.
    pub async fn show(&self, email: &Email) -> Result<(User, Subscription), AdminError> {
        let user =
            self.users.find_by_email(email).await.map_err(Failure::from)?.ok_or(AdminError::UnknownUser)?;
        let sub = load_current(self.subs.as_ref(), user.id, self.clock.now()).await?;
        Ok((user, sub))
    }

    /// Sets the plan, and optionally a per-customer run limit (`None` = the plan's own).
    pub async fn set_plan(
        &self,
        email: &Email,
        plan: PlanId,
        runs: Option<RunLimit>,
    ) -> Result<(User, Subscription), AdminError> {
        let user =
            self.users.find_by_email(email).await.map_err(Failure::from)?.ok_or(AdminError::UnknownUser)?;
        let sub = update_current(self.subs.as_ref(), self.clock.as_ref(), user.id, |sub, now| {
            sub.set_plan_by_admin(plan, runs, now).map_err(AdminError::from)
        })
        .await?;
        Ok((user, sub))
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
