use async_trait::async_trait;
use tollgate_ports::outbound::{
    InboxEntry, RecordOutcome, StoreError, SubscriptionChange, UpdateSubscriptionError, WebhookInbox,
};
use tollgate_store_sql::store_error;

use crate::subscriptions::{update_error, update_subscription};
use crate::PgStore;

#[async_trait]
impl WebhookInbox for PgStore {
    #[tracing::instrument(skip_all)]
    async fn contains(&self, event_id: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM webhook_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await
            .map(|row| row.is_some())
            .map_err(store_error)
    }

    #[tracing::instrument(skip_all, fields(event_id = %entry.event_id))]
    async fn record(
        &self,
        entry: &InboxEntry,
        change: Option<SubscriptionChange>,
    ) -> Result<RecordOutcome, UpdateSubscriptionError> {
        let mut tx = self.pool.begin().await.map_err(update_error)?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (event_id, event_type, created, received_at, outcome) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&entry.event_id)
        .bind(&entry.event_type)
        .bind(entry.created)
        .bind(entry.received_at)
        .bind(&entry.outcome)
        .execute(&mut *tx)
        .await
        .map_err(update_error)?;
        if inserted.rows_affected() == 0 {
            return Ok(RecordOutcome::Duplicate);
        }
        if let Some(change) = change {
            let applied =
                update_subscription(&mut tx, &change.subscription, change.expected_version, change.usage)
                    .await
                    .map_err(update_error)?;
            if !applied {
                return Err(UpdateSubscriptionError::Conflict);
            }
        }
        tx.commit().await.map_err(update_error)?;
        Ok(RecordOutcome::Recorded)
    }
}
