//! `WebhookInbox`: the event recorded in the same transaction as its change.

#[doc(hidden)]
#[macro_export]
macro_rules! __inbox {
    ($store:ty, $db:ty) => {
        #[::async_trait::async_trait]
        impl ::tollgate_ports::WebhookInbox for $store {
            #[::tracing::instrument(skip_all)]
            async fn contains(&self, event_id: &str) -> Result<bool, ::tollgate_ports::StoreError> {
                ::sqlx::query_scalar::<_, i32>("SELECT 1 FROM webhook_events WHERE event_id = $1")
                    .bind(event_id)
                    .fetch_optional(self.read_pool())
                    .await
                    .map(|row| row.is_some())
                    .map_err($crate::store_error)
            }

            #[::tracing::instrument(skip_all, fields(event_id = %entry.event_id))]
            async fn record(
                &self,
                entry: &::tollgate_ports::InboxEntry,
                change: Option<::tollgate_ports::SubscriptionChange>,
            ) -> Result<::tollgate_ports::RecordOutcome, ::tollgate_ports::UpdateSubscriptionError> {
                use ::tollgate_ports::{RecordOutcome, UpdateSubscriptionError};
                let mut tx = self.write().await.map_err($crate::update_error)?;
                let inserted = ::sqlx::query(
                    "INSERT INTO webhook_events (event_id, event_type, created, received_at, outcome) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(&entry.event_id)
                .bind(&entry.event_type)
                .bind($crate::Ts(entry.created))
                .bind($crate::Ts(entry.received_at))
                .bind(entry.outcome.as_str())
                .execute(&mut *tx)
                .await
                .map_err($crate::update_error)?;
                if inserted.rows_affected() == 0 {
                    return Ok(RecordOutcome::Duplicate);
                }
                if let Some(change) = change {
                    let applied = update_subscription(
                        &mut tx,
                        &change.subscription,
                        change.expected_version,
                        change.usage,
                    )
                    .await
                    .map_err($crate::update_error)?;
                    if !applied {
                        return Err(UpdateSubscriptionError::Conflict);
                    }
                }
                tx.commit().await.map_err($crate::update_error)?;
                Ok(RecordOutcome::Recorded)
            }
        }
    };
}
