//! `ReservationRepository`: holds counted against the quota in the same conditional statement as
//! consumptions, settled once.

#[doc(hidden)]
#[macro_export]
macro_rules! __reservations {
    ($store:ty, $db:ty) => {
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
                    expire_holds_in(&mut tx, Some(found.account_id), at).await.map_err($crate::store_error)?;
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
                // Never refused for quota: the work happened. Counted in the current period, in
                // the account's counters and its member's.
                let (held, charged_runs) = (i64::from(found.runs.get()), i64::from(charged.get()));
                let member = $crate::decide::member_of(found.account_id, found.user_id);
                let mut deltas = $crate::decide::Deltas::new();
                deltas.insert(*found.account_id.as_uuid(), (charged_runs, -held));
                let members = member.map(|m| (m, (charged_runs, -held))).into_iter().collect();
                add_to_counters(&mut tx, deltas, members).await.map_err($crate::store_error)?;
                if charged > ::tollgate_domain::RunCount::ZERO {
                    ::sqlx::query(
                        "INSERT INTO usage_records \
                         (id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) \
                         VALUES ($1, $2, $3, $4, $5, NULL, $6, FALSE, $7, NULL)",
                    )
                    .bind(record_id)
                    .bind(found.account_id.as_uuid())
                    .bind(found.user_id.map(|u| *u.as_uuid()))
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
            #[::tracing::instrument(skip_all, fields(account_id = %c.account_id))]
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
                    account_id: c.account_id,
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
                let released: Option<(::uuid::Uuid, Option<::uuid::Uuid>, i64)> = ::sqlx::query_as(
                    "UPDATE reservations SET status = 'released', updated_at = $2, idempotency_key = NULL \
                     WHERE id = $1 AND status = 'held' RETURNING account_id, user_id, runs",
                )
                .bind(id)
                .bind($crate::Ts(at))
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let Some((account, user, runs)) = released else {
                    drop(tx);
                    return match self.get(id).await? {
                        Some(r) if r.status == ReservationStatus::Committed => Ok(SettleOutcome::Conflict(r)),
                        Some(r) => Ok(SettleOutcome::Already(r)),
                        None => Ok(SettleOutcome::NotFound),
                    };
                };
                give_back_holds(&mut tx, &[(account, user, runs)]).await.map_err($crate::store_error)?;
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
