//! Atomic consumption: one conditional UPDATE of the counter, the usage record and (for
//! sessions) the created row, in one transaction.

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use tollgate_domain::{RunCount, SessionId, UserId};
use tollgate_ports::outbound::{
    ConsumeOutcome, Consumption, Page, Session, SessionRepository, StoreError, UsageRecord, UsageRepository,
};
use tollgate_store_sql::{is_unique_violation, store_error, to_micros, SessionRecord, UsageRow};
use uuid::Uuid;

use crate::SqliteStore;

/// What the transaction found; `Replayed` carries the earlier record's resource (or record) id.
enum Step {
    Consumed(RunCount),
    Replayed(Uuid),
    /// The key's earlier consumption was for another request.
    Mismatch,
    LimitReached(RunCount),
    Stale,
    /// A concurrent request with the same idempotency key committed first.
    Raced,
}

/// What a consumption came to, before the caller maps a replay to its own value.
enum Counted<T> {
    Consumed { value: T, runs_used: RunCount },
    Replayed(Uuid),
    Mismatch,
    LimitReached(RunCount),
    Stale,
}

fn count(n: i64) -> Result<RunCount, sqlx::Error> {
    u32::try_from(n).map(RunCount::new).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The earlier consumption with this key: its resource id (else its own id), or `Mismatch`
/// when it was made for another request.
async fn replay_of(tx: &mut Transaction<'_, Sqlite>, c: &Consumption) -> Result<Option<Step>, sqlx::Error> {
    let Some(key) = &c.idempotency_key else { return Ok(None) };
    let row: Option<(Uuid, Option<Uuid>, Option<String>)> = sqlx::query_as(
        "SELECT id, resource_id, request_hash FROM usage_records WHERE user_id = ?1 AND idempotency_key = ?2",
    )
    .bind(c.user_id.as_uuid())
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(id, resource, hash)| {
        if key.matches(hash.as_deref()) {
            Step::Replayed(resource.unwrap_or(id))
        } else {
            Step::Mismatch
        }
    }))
}

/// Counts `c` in `tx`. On `Consumed` the caller inserts its resource and commits; on anything
/// else the caller rolls back (dropping the transaction does).
async fn consume_in(
    tx: &mut Transaction<'_, Sqlite>,
    c: &Consumption,
    resource: Option<Uuid>,
) -> Result<Step, sqlx::Error> {
    if let Some(step) = replay_of(tx, c).await? {
        return Ok(step);
    }
    let units = i64::from(c.units.get());
    let limit = c.limit.as_option().map(i64::from);
    let used: Option<i64> = sqlx::query_scalar(
        "UPDATE subscriptions SET runs_used = runs_used + ?3 \
         WHERE user_id = ?1 AND version = ?2 AND (?4 IS NULL OR runs_used + ?3 <= ?4) \
         RETURNING runs_used",
    )
    .bind(c.user_id.as_uuid())
    .bind(c.expected_version)
    .bind(units)
    .bind(limit)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(used) = used else {
        let current: Option<(i64, i64)> =
            sqlx::query_as("SELECT version, runs_used FROM subscriptions WHERE user_id = ?1")
                .bind(c.user_id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
        return Ok(match current {
            Some((version, used)) if version == c.expected_version => Step::LimitReached(count(used)?),
            _ => Step::Stale,
        });
    };
    let inserted = sqlx::query(
        "INSERT INTO usage_records \
         (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, FALSE, ?7, ?8)",
    )
    .bind(c.record_id)
    .bind(c.user_id.as_uuid())
    .bind(units)
    .bind(&c.reason)
    .bind(c.idempotency_key.as_ref().map(|k| k.as_str()))
    .bind(resource)
    .bind(to_micros(c.at))
    .bind(c.idempotency_key.as_ref().and_then(|k| k.fingerprint()))
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(Step::Consumed(count(used)?)),
        Err(e) if is_unique_violation(&e) => Ok(Step::Raced),
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Counts `c` and lets `finish` write the resource and commit. A lost same-key race is
    /// retried in a fresh transaction, which then sees the winner's record and replays it.
    async fn counted<T, F, Fut>(
        &self,
        c: &Consumption,
        resource: Option<Uuid>,
        finish: F,
    ) -> Result<Counted<T>, StoreError>
    where
        F: Fn(Transaction<'static, Sqlite>) -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        for _ in 0..3 {
            let mut tx = self.write().await.map_err(store_error)?;
            match consume_in(&mut tx, c, resource).await.map_err(store_error)? {
                Step::Consumed(runs_used) => {
                    let value = finish(tx).await.map_err(store_error)?;
                    return Ok(Counted::Consumed { value, runs_used });
                }
                Step::Replayed(original) => return Ok(Counted::Replayed(original)),
                Step::Mismatch => return Ok(Counted::Mismatch),
                Step::LimitReached(runs_used) => return Ok(Counted::LimitReached(runs_used)),
                Step::Stale => return Ok(Counted::Stale),
                Step::Raced => continue,
            }
        }
        Ok(Counted::Stale)
    }

    async fn session_by_id(&self, user: UserId, id: Uuid) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRecord> =
            sqlx::query("SELECT id, user_id, title, created_at FROM sessions WHERE id = ?1 AND user_id = ?2")
                .bind(id)
                .bind(user.as_uuid())
                .try_map(|r| crate::rows::session(&r))
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(row.map(SessionRecord::into_domain))
    }
}

#[async_trait]
impl UsageRepository for SqliteStore {
    #[tracing::instrument(skip_all, fields(user_id = %c.user_id))]
    async fn consume(&self, c: &Consumption) -> Result<ConsumeOutcome<Uuid>, StoreError> {
        let record_id = c.record_id;
        let counted =
            self.counted(c, None, |tx| async move { tx.commit().await.map(|()| record_id) }).await?;
        Ok(match counted {
            Counted::Consumed { value, runs_used } => ConsumeOutcome::Consumed { value, runs_used },
            Counted::Replayed(original) => ConsumeOutcome::Replayed { value: Some(original) },
            Counted::LimitReached(runs_used) => ConsumeOutcome::LimitReached { runs_used },
            Counted::Mismatch => ConsumeOutcome::KeyMismatch,
            Counted::Stale => ConsumeOutcome::StaleState,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn refund(&self, record_id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.write().await.map_err(store_error)?;
        let refunded: Option<(Uuid, i64, i64)> = sqlx::query_as(
            "UPDATE usage_records SET refunded = TRUE WHERE id = ?1 AND refunded = FALSE \
             RETURNING user_id, units, created_at",
        )
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some((user_id, units, at)) = refunded else { return Ok(false) };
        // Only a consumption of the current period is given back to the counter.
        sqlx::query(
            "UPDATE subscriptions SET runs_used = runs_used - ?2 \
             WHERE user_id = ?1 AND period_start <= ?3 AND runs_used >= ?2",
        )
        .bind(user_id)
        .bind(units)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, user: UserId, limit: u32) -> Result<Vec<UsageRecord>, StoreError> {
        let rows: Vec<UsageRow> = sqlx::query(
            "SELECT id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at \
             FROM usage_records WHERE user_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
        )
        .bind(user.as_uuid())
        .bind(i64::from(limit))
        .try_map(|r| crate::rows::usage(&r))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(UsageRow::into_domain).collect()
    }
}

#[async_trait]
impl SessionRepository for SqliteStore {
    #[tracing::instrument(skip_all, fields(user_id = %c.user_id))]
    async fn create_metered(
        &self,
        session: &Session,
        c: &Consumption,
    ) -> Result<ConsumeOutcome<Session>, StoreError> {
        let counted = self
            .counted(c, Some(*session.id.as_uuid()), |mut tx| {
                let session = session.clone();
                async move {
                    sqlx::query(
                        "INSERT INTO sessions (id, user_id, title, created_at) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .bind(session.id.as_uuid())
                    .bind(session.user_id.as_uuid())
                    .bind(&session.title)
                    .bind(to_micros(session.created_at))
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(session)
                }
            })
            .await?;
        Ok(match counted {
            Counted::Consumed { value, runs_used } => ConsumeOutcome::Consumed { value, runs_used },
            Counted::Replayed(original) => {
                ConsumeOutcome::Replayed { value: self.session_by_id(c.user_id, original).await? }
            }
            Counted::LimitReached(runs_used) => ConsumeOutcome::LimitReached { runs_used },
            Counted::Mismatch => ConsumeOutcome::KeyMismatch,
            Counted::Stale => ConsumeOutcome::StaleState,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn create(&self, session: &Session) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id, user_id, title, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(session.id.as_uuid())
            .bind(session.user_id.as_uuid())
            .bind(&session.title)
            .bind(to_micros(session.created_at))
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, user: UserId, page: Page) -> Result<(Vec<Session>, u64), StoreError> {
        let rows: Vec<SessionRecord> = sqlx::query(
            "SELECT id, user_id, title, created_at FROM sessions WHERE user_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(user.as_uuid())
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .try_map(|r| crate::rows::session(&r))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = ?1")
            .bind(user.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok((rows.into_iter().map(SessionRecord::into_domain).collect(), u64::try_from(total).unwrap_or(0)))
    }

    #[tracing::instrument(skip_all)]
    async fn get(&self, user: UserId, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.session_by_id(user, *id.as_uuid()).await
    }

    #[tracing::instrument(skip_all)]
    async fn delete(&self, user: UserId, id: SessionId) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?1 AND user_id = ?2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&self.writer)
            .await
            .map(|done| done.rows_affected() == 1)
            .map_err(store_error)
    }
}
