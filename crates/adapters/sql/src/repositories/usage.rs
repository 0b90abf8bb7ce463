//! `UsageRepository`: consumptions (through the metered write path, `metered.rs`), refunds and
//! the usage history.

#[doc(hidden)]
#[macro_export]
macro_rules! __usage {
    ($store:ty, $db:ty) => {
        #[::async_trait::async_trait]
        impl ::tollgate_ports::UsageRepository for $store {
            #[::tracing::instrument(skip_all, fields(account_id = %c.account_id))]
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
                type Refunded = (::uuid::Uuid, Option<::uuid::Uuid>, i64, $crate::Ts, Option<::uuid::Uuid>, String);
                let refunded: Option<Refunded> = ::sqlx::query_as(
                    "UPDATE usage_records SET refunded = TRUE, idempotency_key = NULL WHERE id = $1 AND refunded = FALSE \
                     RETURNING account_id, user_id, units, created_at, resource_id, reason",
                )
                .bind(record_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let Some((account, user, units, at, resource, reason)) = refunded else {
                    let exists: Option<bool> = ::sqlx::query_scalar("SELECT refunded FROM usage_records WHERE id = $1")
                        .bind(record_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store_error)?;
                    return Ok(if exists.is_some() { RefundOutcome::AlreadyRefunded } else { RefundOutcome::NotFound });
                };
                // Only a consumption of the current period is given back to the counters: the
                // account's, and then its member's.
                let current = ::sqlx::query(
                    "UPDATE subscriptions SET runs_used = runs_used - $2 \
                     WHERE account_id = $1 AND period_start <= $3 AND runs_used >= $2",
                )
                .bind(account)
                .bind(units)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let member = $crate::decide::member_of(
                    ::tollgate_domain::AccountId::from_uuid(account),
                    user.map(::tollgate_domain::UserId::from_uuid),
                );
                if let (Some((account, user)), 1) = (member, current.rows_affected()) {
                    ::sqlx::query(
                        "UPDATE memberships SET runs_used = runs_used - $3 \
                         WHERE account_id = $1 AND user_id = $2 AND runs_used >= $3",
                    )
                    .bind(account)
                    .bind(user)
                    .bind(units)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                }
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
                account: ::tollgate_domain::AccountId,
                member: Option<::tollgate_domain::UserId>,
                from: ::time::OffsetDateTime,
                to: ::time::OffsetDateTime,
            ) -> Result<Vec<::tollgate_ports::UsageRecord>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::UsageRow> = ::sqlx::query_as(
                    "SELECT id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at \
                     FROM usage_records WHERE account_id = $1 AND created_at >= $2 AND created_at < $3 \
                     AND ($4 IS NULL OR user_id = $4) ORDER BY created_at, id",
                )
                .bind(account.as_uuid())
                .bind($crate::Ts(from))
                .bind($crate::Ts(to))
                .bind(member.map(|m| *m.as_uuid()))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::UsageRow::into_domain).collect()
            }

            #[::tracing::instrument(skip_all)]
            async fn list(
                &self,
                account: ::tollgate_domain::AccountId,
                limit: u32,
            ) -> Result<Vec<::tollgate_ports::UsageRecord>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::UsageRow> = ::sqlx::query_as(
                    "SELECT id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at \
                     FROM usage_records WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                )
                .bind(account.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::UsageRow::into_domain).collect()
            }
        }
    };
}
