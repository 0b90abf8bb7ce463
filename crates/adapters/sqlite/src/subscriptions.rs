use async_trait::async_trait;
use sqlx::{Sqlite, SqliteConnection, Transaction};
use tollgate_domain::{Subscription, UsageEffect, UserId};
use tollgate_ports::outbound::{StoreError, SubscriptionRepository, UpdateSubscriptionError};
use tollgate_store_sql::{store_error, to_micros, SubscriptionRecord};

use crate::SqliteStore;

macro_rules! select_subscription {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, plan, status, runs_used, period_start, period_end, period_anchor, limit_override, \
             cancel_at_period_end, trial_started_at, trial_ends_at, trial_used, has_paid, past_due_since, \
             stripe_customer_id, stripe_subscription_id, stripe_granted, stripe_last_event_at, version, \
             created_at, updated_at FROM subscriptions ",
            $tail
        )
    };
}

pub(crate) async fn insert_subscription(
    tx: &mut Transaction<'_, Sqlite>,
    sub: &Subscription,
) -> Result<(), sqlx::Error> {
    let r = SubscriptionRecord::from_domain(sub);
    sqlx::query(
        "INSERT INTO subscriptions (id, user_id, plan, status, runs_used, period_start, period_end, period_anchor, \
         limit_override, cancel_at_period_end, trial_started_at, trial_ends_at, trial_used, has_paid, past_due_since, \
         stripe_customer_id, stripe_subscription_id, stripe_granted, stripe_last_event_at, version, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    )
    .bind(r.id)
    .bind(r.user_id)
    .bind(&r.plan)
    .bind(&r.status)
    .bind(r.runs_used)
    .bind(to_micros(r.period_start))
    .bind(to_micros(r.period_end))
    .bind(to_micros(r.period_anchor))
    .bind(r.limit_override)
    .bind(r.cancel_at_period_end)
    .bind(r.trial_started_at.map(to_micros))
    .bind(r.trial_ends_at.map(to_micros))
    .bind(r.trial_used)
    .bind(r.has_paid)
    .bind(r.past_due_since.map(to_micros))
    .bind(&r.stripe_customer_id)
    .bind(&r.stripe_subscription_id)
    .bind(r.stripe_granted)
    .bind(r.stripe_last_event_at.map(to_micros))
    .bind(r.version)
    .bind(to_micros(r.created_at))
    .bind(to_micros(r.updated_at))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The compare-and-set update of every state column; `runs_used` is kept or reset, never
/// copied from the snapshot. Returns whether the row matched `expected_version`.
pub(crate) async fn update_subscription(
    conn: &mut SqliteConnection,
    sub: &Subscription,
    expected_version: i64,
    usage: UsageEffect,
) -> Result<bool, sqlx::Error> {
    let r = SubscriptionRecord::from_domain(sub);
    let done = sqlx::query(
        "UPDATE subscriptions SET plan = ?3, status = ?4, \
         runs_used = CASE WHEN ?5 THEN 0 ELSE runs_used END, \
         period_start = ?6, period_end = ?7, period_anchor = ?8, limit_override = ?9, cancel_at_period_end = ?10, \
         trial_started_at = ?11, trial_ends_at = ?12, trial_used = ?13, has_paid = ?14, past_due_since = ?15, \
         stripe_customer_id = ?16, stripe_subscription_id = ?17, stripe_granted = ?18, stripe_last_event_at = ?19, \
         version = ?20, updated_at = ?21 \
         WHERE id = ?1 AND version = ?2",
    )
    .bind(r.id)
    .bind(expected_version)
    .bind(&r.plan)
    .bind(&r.status)
    .bind(usage == UsageEffect::Reset)
    .bind(to_micros(r.period_start))
    .bind(to_micros(r.period_end))
    .bind(to_micros(r.period_anchor))
    .bind(r.limit_override)
    .bind(r.cancel_at_period_end)
    .bind(r.trial_started_at.map(to_micros))
    .bind(r.trial_ends_at.map(to_micros))
    .bind(r.trial_used)
    .bind(r.has_paid)
    .bind(r.past_due_since.map(to_micros))
    .bind(&r.stripe_customer_id)
    .bind(&r.stripe_subscription_id)
    .bind(r.stripe_granted)
    .bind(r.stripe_last_event_at.map(to_micros))
    .bind(r.version)
    .bind(to_micros(r.updated_at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A duplicate provider id (customer or subscription linked to two users) is a broken
/// invariant, reported as a failure rather than a conflict to retry.
pub(crate) fn update_error(e: sqlx::Error) -> UpdateSubscriptionError {
    UpdateSubscriptionError::Store(store_error(e))
}

#[async_trait]
impl SubscriptionRepository for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn get_by_user(&self, user: UserId) -> Result<Option<Subscription>, StoreError> {
        let row: Option<SubscriptionRecord> = sqlx::query(select_subscription!("WHERE user_id = ?1"))
            .bind(user.as_uuid())
            .try_map(|r| crate::rows::subscription(&r))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(SubscriptionRecord::into_domain).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_customer(&self, customer_id: &str) -> Result<Option<Subscription>, StoreError> {
        let row: Option<SubscriptionRecord> =
            sqlx::query(select_subscription!("WHERE stripe_customer_id = ?1"))
                .bind(customer_id)
                .try_map(|r| crate::rows::subscription(&r))
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        row.map(SubscriptionRecord::into_domain).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_provider_subscription(
        &self,
        subscription_id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let row: Option<SubscriptionRecord> =
            sqlx::query(select_subscription!("WHERE stripe_subscription_id = ?1"))
                .bind(subscription_id)
                .try_map(|r| crate::rows::subscription(&r))
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        row.map(SubscriptionRecord::into_domain).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn update(
        &self,
        sub: &Subscription,
        expected_version: i64,
        usage: UsageEffect,
    ) -> Result<(), UpdateSubscriptionError> {
        let mut conn = self.writer.acquire().await.map_err(update_error)?;
        match update_subscription(&mut conn, sub, expected_version, usage).await.map_err(update_error)? {
            true => Ok(()),
            false => Err(UpdateSubscriptionError::Conflict),
        }
    }
}
