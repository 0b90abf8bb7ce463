//! `Housekeeping`: each purge in chunks of `PURGE_CHUNK` rows, one statement (and transaction)
//! each, so metered writes get the writer between chunks.

#[doc(hidden)]
#[macro_export]
macro_rules! __housekeeping {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Runs `sql` (binding the cutoff as `$1` and the chunk size as `$2`) until a run
            /// touches fewer rows than a chunk; the rows touched in all.
            async fn in_chunks(&self, sql: &'static str, cutoff: ::time::OffsetDateTime) -> Result<u64, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::PURGE_CHUNK;
                let mut total = 0;
                loop {
                    let done = ::sqlx::query(sql)
                        .bind($crate::Ts(cutoff))
                        .bind(PURGE_CHUNK)
                        .execute(self.write_pool())
                        .await
                        .map_err($crate::store_error)?
                        .rows_affected();
                    total += done;
                    if done < PURGE_CHUNK.unsigned_abs() {
                        return Ok(total);
                    }
                    // Metered writes waiting for the writer go first.
                    $crate::yield_to_writers().await;
                }
            }
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::Housekeeping for $store {
            #[::tracing::instrument(skip_all)]
            async fn purge(
                &self,
                cutoffs: ::tollgate_ports::PurgeCutoffs,
            ) -> Result<::tollgate_ports::Purged, ::tollgate_ports::StoreError> {
                // Each purge, and each key expiry (the key is cleared, the record stays).
                let jobs = [
                    ("DELETE FROM refresh_tokens WHERE id IN \
                      (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
                     cutoffs.refresh_tokens_expired_before),
                    ("DELETE FROM reservations WHERE id IN (SELECT id FROM reservations \
                      WHERE status IN ('released', 'expired') AND updated_at < $1 LIMIT $2)",
                     cutoffs.reservations_settled_before),
                    ("DELETE FROM webhook_events WHERE event_id IN \
                      (SELECT event_id FROM webhook_events WHERE received_at < $1 LIMIT $2)",
                     cutoffs.inbox_received_before),
                    // The outer `IS NOT NULL` is re-checked on a row another replica's purge just cleared
                    // (Postgres re-evaluates the outer WHERE after waiting for the row, not the
                    // subquery): it is skipped, not counted twice.
                    ("UPDATE usage_records SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL \
                      AND id IN (SELECT id FROM usage_records \
                      WHERE idempotency_key IS NOT NULL AND created_at < $1 LIMIT $2)",
                     cutoffs.idempotency_keys_before),
                    ("UPDATE reservations SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL \
                      AND id IN (SELECT id FROM reservations \
                      WHERE idempotency_key IS NOT NULL AND status <> 'held' AND created_at < $1 LIMIT $2)",
                     cutoffs.idempotency_keys_before),
                ];
                let mut done = [0u64; 5];
                for (count, (sql, cutoff)) in done.iter_mut().zip(jobs) {
                    *count = self.in_chunks(sql, cutoff).await?;
                }
                let [refresh_tokens, reservations, inbox_entries, consumption_keys, hold_keys] = done;
                Ok(::tollgate_ports::Purged {
                    refresh_tokens,
                    reservations,
                    inbox_entries,
                    idempotency_keys: consumption_keys + hold_keys,
                })
            }
        }
    };
}
