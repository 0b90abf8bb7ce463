//! `ReservationRepository`: holds counted against the quota in the same conditional statement as
//! consumptions, settled once.

#[doc(hidden)]
#[macro_export]
macro_rules! __reservations {
    ($store:ty, $db:ty) => {
        /// Holds `c.units` runs in `conn`'s transaction (the counterpart of `consume_in`).
        async fn hold_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            c: &::tollgate_ports::Consumption,
            expires_at: ::time::OffsetDateTime,
        ) -> Result<$crate::WriteOutcome, ::sqlx::Error> {
            use $crate::WriteOutcome;
            if let Some(key) = &c.idempotency_key {
                let earlier: Option<(::uuid::Uuid, Option<String>)> = ::sqlx::query_as(
                    "SELECT id, request_hash FROM reservations WHERE user_id = $1 AND idempotency_key = $2",
                )
                .bind(c.user_id.as_uuid())
                .bind(key.as_str())
                .fetch_optional(&mut *conn)
                .await?;
                if let Some((id, hash)) = earlier {
                    return Ok(if key.matches(hash.as_deref()) { WriteOutcome::Replayed(id) } else { WriteOutcome::Mismatch });
                }
            }
            let units = i64::from(c.units.get());
            let used = match count_in(&mut *conn, c, $crate::Counter::Reserved).await? {
                Ok(used) => used,
                Err(outcome) => return Ok(outcome),
            };
            let inserted = ::sqlx::query(
                "INSERT INTO reservations \
                 (id, user_id, runs, committed_runs, status, expires_at, idempotency_key, request_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, 'held', $4, $5, $6, $7, $7)",
            )
            .bind(c.record_id)
            .bind(c.user_id.as_uuid())
            .bind(units)
            .bind($crate::Ts(expires_at))
            .bind(c.idempotency_key.as_ref().map(|k| k.as_str()))
            .bind(c.idempotency_key.as_ref().and_then(|k| k.fingerprint()))
            .bind($crate::Ts(c.at))
            .execute(&mut *conn)
            .await;
            match inserted {
                Ok(_) => Ok(WriteOutcome::Consumed($crate::run_count(used)?)),
                Err(e) if $crate::is_unique_violation(&e) => Ok(WriteOutcome::Raced),
                Err(e) => Err(e),
            }
        }

        async fn reservation_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            id: ::uuid::Uuid,
        ) -> Result<Option<::tollgate_ports::Reservation>, ::tollgate_ports::StoreError> {
            let row: Option<$crate::ReservationRow> = ::sqlx::query_as($crate::__select_reservation!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(conn)
                .await
                .map_err($crate::store_error)?;
            row.map($crate::ReservationRow::into_domain).transpose()
        }

        impl $store {
            /// A commit in a transaction of its own: when its batch could not take it, or its hold
            /// is past its expiry (it expires here).
            async fn commit_alone(
                &self,
                commit: $crate::batch::Commit,
            ) -> Result<::tollgate_ports::SettleOutcome, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::{ReservationStatus, SettleOutcome, UsageReason};
                let $crate::batch::Commit { id, runs, record_id, at } = commit;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let Some(found) = reservation_in(&mut tx, id).await? else { return Ok(SettleOutcome::NotFound) };
                match found.status {
                    ReservationStatus::Committed => return Ok(SettleOutcome::Already(found)),
                    ReservationStatus::Released | ReservationStatus::Expired => return Ok(SettleOutcome::Conflict(found)),
                    ReservationStatus::Held => {}
                }
                if at >= found.expires_at {
                    // Past its expiry: it expires now (runs back), it is never committed.
                    expire_holds_in(&mut tx, Some(found.user_id), at).await.map_err($crate::store_error)?;
                    let expired = reservation_in(&mut tx, id).await?;
                    tx.commit().await.map_err($crate::store_error)?;
                    return Ok(SettleOutcome::Conflict(expired.unwrap_or(found)));
                }
                let charged = runs.unwrap_or(found.runs);
                if charged > found.runs {
                    return Ok(SettleOutcome::TooManyRuns(found));
                }
                let marked = ::sqlx::query(
                    "UPDATE reservations SET status = 'committed', committed_runs = $2, updated_at = $3 \
                     WHERE id = $1 AND status = 'held'",
                )
                .bind(id)
                .bind(i64::from(charged.get()))
                .bind($crate::Ts(at))
                .execute(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                if marked.rows_affected() != 1 {
                    // Settled concurrently (Postgres re-checks the status under the row lock).
                    drop(tx);
                    return match ::tollgate_ports::ReservationRepository::get(self, id).await? {
                        Some(r) if r.status == ReservationStatus::Committed => Ok(SettleOutcome::Already(r)),
                        Some(r) => Ok(SettleOutcome::Conflict(r)),
                        None => Ok(SettleOutcome::NotFound),
                    };
                }
                // Never refused for quota: the work happened. Counted in the current period.
                ::sqlx::query(
                    "UPDATE subscriptions SET runs_reserved = runs_reserved - $2, runs_used = runs_used + $3 \
                     WHERE user_id = $1",
                )
                .bind(found.user_id.as_uuid())
                .bind(i64::from(found.runs.get()))
                .bind(i64::from(charged.get()))
                .execute(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                if charged > ::tollgate_domain::RunCount::ZERO {
                    ::sqlx::query(
                        "INSERT INTO usage_records \
                         (id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
                         VALUES ($1, $2, $3, $4, NULL, $5, FALSE, $6, NULL)",
                    )
                    .bind(record_id)
                    .bind(found.user_id.as_uuid())
                    .bind(i64::from(charged.get()))
                    .bind(UsageReason::ReservationCommit.stored())
                    .bind(id)
                    .bind($crate::Ts(at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                }
                let committed = reservation_in(&mut tx, id).await?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(committed.map_or(SettleOutcome::NotFound, SettleOutcome::Done))
            }
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::ReservationRepository for $store {
            #[::tracing::instrument(skip_all, fields(user_id = %c.user_id))]
            async fn hold(
                &self,
                c: &::tollgate_ports::Consumption,
                expires_at: ::time::OffsetDateTime,
            ) -> Result<
                ::tollgate_ports::ConsumeOutcome<::tollgate_ports::Reservation>,
                ::tollgate_ports::StoreError,
            > {
                use ::tollgate_ports::{ConsumeOutcome, Reservation, ReservationStatus};
                let write = $crate::batch::MeteredWrite {
                    consumption: c.clone(),
                    resource: $crate::batch::Resource::Hold { expires_at },
                };
                // What the store holds, to the microsecond it keeps.
                let stored = |at| $crate::from_micros($crate::to_micros(at));
                let held = Reservation {
                    id: c.record_id,
                    user_id: c.user_id,
                    runs: c.units,
                    committed_runs: None,
                    status: ReservationStatus::Held,
                    expires_at: stored(expires_at)?,
                    created_at: stored(c.at)?,
                    updated_at: stored(c.at)?,
                };
                Ok(match self.metered(write).await?.with_value(held) {
                    $crate::Written::Replayed(original) => ConsumeOutcome::Replayed { value: self.get(original).await? },
                    other => other.into_outcome(|_| None),
                })
            }

            #[::tracing::instrument(skip_all)]
            async fn commit(
                &self,
                id: ::uuid::Uuid,
                runs: Option<::tollgate_domain::RunCount>,
                record_id: ::uuid::Uuid,
                at: ::time::OffsetDateTime,
            ) -> Result<::tollgate_ports::SettleOutcome, ::tollgate_ports::StoreError> {
                let commit = $crate::batch::Commit { id, runs, record_id, at };
                match self.batchers.commits.submit(commit).await?.flatten() {
                    Some(settled) => Ok(settled),
                    None => self.commit_alone(commit).await,
                }
            }

            #[::tracing::instrument(skip_all)]
            async fn release(
                &self,
                id: ::uuid::Uuid,
                at: ::time::OffsetDateTime,
            ) -> Result<::tollgate_ports::SettleOutcome, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::{ReservationStatus, SettleOutcome};
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let released: Option<(::uuid::Uuid, i64)> = ::sqlx::query_as(
                    "UPDATE reservations SET status = 'released', updated_at = $2, idempotency_key = NULL \
                     WHERE id = $1 AND status = 'held' RETURNING user_id, runs",
                )
                .bind(id)
                .bind($crate::Ts(at))
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let Some((user, runs)) = released else {
                    drop(tx);
                    return match self.get(id).await? {
                        Some(r) if r.status == ReservationStatus::Committed => Ok(SettleOutcome::Conflict(r)),
                        Some(r) => Ok(SettleOutcome::Already(r)),
                        None => Ok(SettleOutcome::NotFound),
                    };
                };
                ::sqlx::query("UPDATE subscriptions SET runs_reserved = runs_reserved - $2 WHERE user_id = $1")
                    .bind(user)
                    .bind(runs)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                let done = reservation_in(&mut tx, id).await?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(done.map_or(SettleOutcome::NotFound, SettleOutcome::Done))
            }

            #[::tracing::instrument(skip_all)]
            async fn get(
                &self,
                id: ::uuid::Uuid,
            ) -> Result<Option<::tollgate_ports::Reservation>, ::tollgate_ports::StoreError> {
                let mut conn = self.read_pool().acquire().await.map_err($crate::store_error)?;
                reservation_in(&mut conn, id).await
            }

            #[::tracing::instrument(skip_all)]
            async fn expire_due(&self, now: ::time::OffsetDateTime) -> Result<u64, ::tollgate_ports::StoreError> {
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let expired = expire_holds_in(&mut tx, None, now).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(expired.len() as u64)
            }

            #[::tracing::instrument(skip_all)]
            async fn count_held(&self, now: ::time::OffsetDateTime) -> Result<u64, ::tollgate_ports::StoreError> {
                let held: i64 = ::sqlx::query_scalar(
                    "SELECT count(*) FROM reservations WHERE status = 'held' AND expires_at > $1",
                )
                .bind($crate::Ts(now))
                .fetch_one(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(u64::try_from(held).unwrap_or(0))
            }
        }
    };
}
