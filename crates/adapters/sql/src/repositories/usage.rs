//! `UsageRepository`, and the consumption every metered write shares: one conditional UPDATE of
//! the counter and the usage record, in the caller's transaction.

#[doc(hidden)]
#[macro_export]
macro_rules! __usage {
    ($store:ty, $db:ty) => {
        /// The earlier consumption with this key: its resource id (else its own id), or
        /// `Mismatch` when it was made for another request.
        async fn replay_of(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            c: &::tollgate_ports::Consumption,
        ) -> Result<Option<$crate::WriteOutcome>, ::sqlx::Error> {
            let Some(key) = &c.idempotency_key else { return Ok(None) };
            let row: Option<(::uuid::Uuid, Option<::uuid::Uuid>, Option<String>)> = ::sqlx::query_as(
                "SELECT id, resource_id, request_hash FROM usage_records WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(c.user_id.as_uuid())
            .bind(key.as_str())
            .fetch_optional(conn)
            .await?;
            Ok(row.map(|(id, resource, hash)| {
                if key.matches(hash.as_deref()) {
                    $crate::WriteOutcome::Replayed(resource.unwrap_or(id))
                } else {
                    $crate::WriteOutcome::Mismatch
                }
            }))
        }

        /// The conditional statement every metered write shares: adds `c.units` to `counter` where
        /// the version is `c.expected_version` and `used + reserved + units` fits the limit.
        /// `Ok(runs used after)`, or the outcome that stops the write (`LimitReached`, `Stale`).
        async fn count_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            c: &::tollgate_ports::Consumption,
            counter: $crate::Counter,
        ) -> Result<Result<i64, $crate::WriteOutcome>, ::sqlx::Error> {
            let sql = match counter {
                $crate::Counter::Used => {
                    "UPDATE subscriptions SET runs_used = runs_used + $3 \
                     WHERE user_id = $1 AND version = $2 AND (CAST($4 AS BIGINT) IS NULL OR runs_used + runs_reserved + $3 <= $4) \
                     RETURNING runs_used"
                }
                $crate::Counter::Reserved => {
                    "UPDATE subscriptions SET runs_reserved = runs_reserved + $3 \
                     WHERE user_id = $1 AND version = $2 AND (CAST($4 AS BIGINT) IS NULL OR runs_used + runs_reserved + $3 <= $4) \
                     RETURNING runs_used"
                }
            };
            let used: Option<i64> = ::sqlx::query_scalar(sql)
                .bind(c.user_id.as_uuid())
                .bind(c.expected_version)
                .bind(i64::from(c.units.get()))
                .bind(c.limit.as_option().map(i64::from))
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(used) = used {
                return Ok(Ok(used));
            }
            let current: Option<(i64, i64)> =
                ::sqlx::query_as("SELECT version, runs_used FROM subscriptions WHERE user_id = $1")
                    .bind(c.user_id.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await?;
            Ok(Err(match current {
                Some((version, used)) if version == c.expected_version => {
                    $crate::WriteOutcome::LimitReached($crate::run_count(used)?)
                }
                _ => $crate::WriteOutcome::Stale,
            }))
        }

        /// Counts `c` in `conn`'s transaction (a metered write alone). On `Consumed` the caller
        /// inserts its resource and commits; on anything else it rolls back (dropping the
        /// transaction does).
        async fn consume_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            c: &::tollgate_ports::Consumption,
            resource: Option<::uuid::Uuid>,
        ) -> Result<$crate::WriteOutcome, ::sqlx::Error> {
            use $crate::WriteOutcome;
            if let Some(outcome) = replay_of(&mut *conn, c).await? {
                return Ok(outcome);
            }
            let units = i64::from(c.units.get());
            let used = match count_in(&mut *conn, c, $crate::Counter::Used).await? {
                Ok(used) => used,
                Err(outcome) => return Ok(outcome),
            };
            let inserted = ::sqlx::query(
                "INSERT INTO usage_records \
                 (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $8)",
            )
            .bind(c.record_id)
            .bind(c.user_id.as_uuid())
            .bind(units)
            .bind(c.reason.stored())
            .bind(c.idempotency_key.as_ref().map(|k| k.as_str()))
            .bind(resource)
            .bind($crate::Ts(c.at))
            .bind(c.idempotency_key.as_ref().and_then(|k| k.fingerprint()))
            .execute(&mut *conn)
            .await;
            match inserted {
                Ok(_) => Ok(WriteOutcome::Consumed($crate::run_count(used)?)),
                Err(e) if $crate::is_unique_violation(&e) => Ok(WriteOutcome::Raced),
                Err(e) => Err(e),
            }
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::UsageRepository for $store {
            #[::tracing::instrument(skip_all, fields(user_id = %c.user_id))]
            async fn consume(
                &self,
                c: &::tollgate_ports::Consumption,
            ) -> Result<::tollgate_ports::ConsumeOutcome<::uuid::Uuid>, ::tollgate_ports::StoreError>
            {
                let write = $crate::batch::MeteredWrite { consumption: c.clone(), resource: $crate::batch::Resource::Usage };
                Ok(self.metered(write).await?.with_value(c.record_id).into_outcome(Some))
            }

            #[::tracing::instrument(skip_all)]
            async fn refund(
                &self,
                record_id: ::uuid::Uuid,
            ) -> Result<::tollgate_ports::RefundOutcome, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::RefundOutcome;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                // A refunded consumption's key no longer replays: the next request with it is a
                // new attempt, charged anew (SPEC §12.1).
                let refunded: Option<(::uuid::Uuid, i64, $crate::Ts, Option<::uuid::Uuid>, String)> = ::sqlx::query_as(
                    "UPDATE usage_records SET refunded = TRUE, idempotency_key = NULL WHERE id = $1 AND refunded = FALSE \
                     RETURNING user_id, units, created_at, resource_id, reason",
                )
                .bind(record_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let Some((user_id, units, at, resource, reason)) = refunded else {
                    let exists: Option<bool> = ::sqlx::query_scalar("SELECT refunded FROM usage_records WHERE id = $1")
                        .bind(record_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store_error)?;
                    return Ok(if exists.is_some() { RefundOutcome::AlreadyRefunded } else { RefundOutcome::NotFound });
                };
                // Only a consumption of the current period is given back to the counter.
                ::sqlx::query(
                    "UPDATE subscriptions SET runs_used = runs_used - $2 \
                     WHERE user_id = $1 AND period_start <= $3 AND runs_used >= $2",
                )
                .bind(user_id)
                .bind(units)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                if let (Some(hold), true) =
                    (resource, reason == ::tollgate_ports::UsageReason::ReservationCommit.stored())
                {
                    // The hold this commit settled forgets its key too.
                    ::sqlx::query("UPDATE reservations SET idempotency_key = NULL WHERE id = $1")
                        .bind(hold)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::store_error)?;
                }
                tx.commit().await.map_err($crate::store_error)?;
                Ok(RefundOutcome::Refunded { runs: u32::try_from(units).unwrap_or(u32::MAX) })
            }

            #[::tracing::instrument(skip_all)]
            async fn between(
                &self,
                user: ::tollgate_domain::UserId,
                from: ::time::OffsetDateTime,
                to: ::time::OffsetDateTime,
            ) -> Result<Vec<::tollgate_ports::UsageRecord>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::UsageRow> = ::sqlx::query_as(
                    "SELECT id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at \
                     FROM usage_records WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 \
                     ORDER BY created_at, id",
                )
                .bind(user.as_uuid())
                .bind($crate::Ts(from))
                .bind($crate::Ts(to))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::UsageRow::into_domain).collect()
            }

            #[::tracing::instrument(skip_all)]
            async fn list(
                &self,
                user: ::tollgate_domain::UserId,
                limit: u32,
            ) -> Result<Vec<::tollgate_ports::UsageRecord>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::UsageRow> = ::sqlx::query_as(
                    "SELECT id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at \
                     FROM usage_records WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                )
                .bind(user.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::UsageRow::into_domain).collect()
            }
        }
    };
}
