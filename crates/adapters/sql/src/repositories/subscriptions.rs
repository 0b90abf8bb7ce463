//! `SubscriptionRepository`, and the insert and compare-and-set update other repositories use
//! inside their transactions.

/// The subscription matching `$where` (one bound value), from the read pool.
#[doc(hidden)]
#[macro_export]
macro_rules! __find_subscription {
    ($store:expr, $where:literal, $value:expr) => {{
        let row: Option<$crate::SubscriptionRow> = ::sqlx::query_as($crate::__select_subscription!($where))
            .bind($value)
            .fetch_optional($store.read_pool())
            .await
            .map_err($crate::store_error)?;
        row.map($crate::SubscriptionRow::into_domain).transpose()
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __subscriptions {
    ($store:ty, $db:ty) => {
        /// Inserts a new subscription (registration).
        async fn insert_subscription(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            sub: &::tollgate_domain::Subscription,
        ) -> Result<(), ::sqlx::Error> {
            let r = $crate::SubscriptionRow::from_domain(sub);
            ::sqlx::query(
                "INSERT INTO subscriptions (id, account_id, plan, status, runs_used, period_start, period_end, period_anchor, \
                 limit_override, cancel_at_period_end, trial_started_at, trial_ends_at, trial_used, has_paid, past_due_since, \
                 stripe_customer_id, stripe_subscription_id, stripe_granted, stripe_last_event_at, version, created_at, updated_at, \
                 runs_reserved, runs_granted, seats) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
            )
            .bind(r.id)
            .bind(r.account_id)
            .bind(&r.plan)
            .bind(&r.status)
            .bind(r.runs_used)
            .bind(r.period_start)
            .bind(r.period_end)
            .bind(r.period_anchor)
            .bind(r.limit_override)
            .bind(r.cancel_at_period_end)
            .bind(r.trial_started_at)
            .bind(r.trial_ends_at)
            .bind(r.trial_used)
            .bind(r.has_paid)
            .bind(r.past_due_since)
            .bind(&r.stripe_customer_id)
            .bind(&r.stripe_subscription_id)
            .bind(r.stripe_granted)
            .bind(r.stripe_last_event_at)
            .bind(r.version)
            .bind(r.created_at)
            .bind(r.updated_at)
            .bind(r.runs_reserved)
            .bind(r.runs_granted)
            .bind(r.seats)
            .execute(conn)
            .await
            .map(|_| ())
        }

        /// Gives the runs of settled holds (`(account, member, runs)`) back to their accounts'
        /// counters and their members', in the caller's transaction.
        async fn give_back_holds(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            holds: &[(::uuid::Uuid, Option<::uuid::Uuid>, i64)],
        ) -> Result<(), ::sqlx::Error> {
            let mut deltas = $crate::decide::Deltas::new();
            let mut members = $crate::decide::MemberDeltas::new();
            for &(account, user, runs) in holds {
                deltas.entry(account).or_default().1 -= runs;
                let member = $crate::decide::member_of(
                    ::tollgate_domain::AccountId::from_uuid(account),
                    user.map(::tollgate_domain::UserId::from_uuid),
                );
                if let Some(member) = member {
                    members.entry(member).or_default().1 -= runs;
                }
            }
            add_to_counters(conn, deltas, members).await
        }

        /// Expires holds past their expiry (of one account, or all) and gives their runs back,
        /// in the caller's transaction. Each hold expires once: the row's `status = 'held'` guard
        /// is re-checked under its lock. Returns `(account, member, runs)` per expired hold.
        async fn expire_holds_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: Option<::tollgate_domain::AccountId>,
            now: ::time::OffsetDateTime,
        ) -> Result<Vec<(::uuid::Uuid, Option<::uuid::Uuid>, i64)>, ::sqlx::Error> {
            let expired: Vec<(::uuid::Uuid, Option<::uuid::Uuid>, i64)> = ::sqlx::query_as(
                "UPDATE reservations SET status = 'expired', updated_at = $2, idempotency_key = NULL \
                 WHERE status = 'held' AND expires_at <= $2 AND ($1 IS NULL OR account_id = $1) \
                 RETURNING account_id, user_id, runs",
            )
            .bind(account.map(|a| *a.as_uuid()))
            .bind($crate::Ts(now))
            .fetch_all(&mut *conn)
            .await?;
            give_back_holds(&mut *conn, &expired).await?;
            Ok(expired)
        }

        /// The compare-and-set update of every state column; `runs_used` is kept or reset, never
        /// copied from the snapshot — and a reset zeroes the members' use with it (the caller's
        /// transaction makes the two one change). Returns whether the row matched
        /// `expected_version`.
        async fn update_subscription(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            sub: &::tollgate_domain::Subscription,
            expected_version: i64,
            usage: ::tollgate_domain::UsageEffect,
        ) -> Result<bool, ::sqlx::Error> {
            let r = $crate::SubscriptionRow::from_domain(sub);
            let done = ::sqlx::query(
                "UPDATE subscriptions SET plan = $3, status = $4, \
                 runs_used = CASE WHEN $5 THEN 0 ELSE runs_used END, \
                 period_start = $6, period_end = $7, period_anchor = $8, limit_override = $9, cancel_at_period_end = $10, \
                 trial_started_at = $11, trial_ends_at = $12, trial_used = $13, has_paid = $14, past_due_since = $15, \
                 stripe_customer_id = $16, stripe_subscription_id = $17, stripe_granted = $18, stripe_last_event_at = $19, \
                 version = $20, updated_at = $21, runs_granted = $22 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(r.id)
            .bind(expected_version)
            .bind(&r.plan)
            .bind(&r.status)
            .bind(usage == ::tollgate_domain::UsageEffect::Reset)
            .bind(r.period_start)
            .bind(r.period_end)
            .bind(r.period_anchor)
            .bind(r.limit_override)
            .bind(r.cancel_at_period_end)
            .bind(r.trial_started_at)
            .bind(r.trial_ends_at)
            .bind(r.trial_used)
            .bind(r.has_paid)
            .bind(r.past_due_since)
            .bind(&r.stripe_customer_id)
            .bind(&r.stripe_subscription_id)
            .bind(r.stripe_granted)
            .bind(r.stripe_last_event_at)
            .bind(r.version)
            .bind(r.updated_at)
            .bind(r.runs_granted)
            .execute(&mut *conn)
            .await?;
            let matched = done.rows_affected() == 1;
            if matched && usage == ::tollgate_domain::UsageEffect::Reset {
                ::sqlx::query("UPDATE memberships SET runs_used = 0 WHERE account_id = $1 AND runs_used <> 0")
                    .bind(r.account_id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(matched)
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::SubscriptionRepository for $store {
            #[::tracing::instrument(skip_all)]
            async fn get_by_account(
                &self,
                account: ::tollgate_domain::AccountId,
            ) -> Result<Option<::tollgate_domain::Subscription>, ::tollgate_ports::StoreError> {
                $crate::__find_subscription!(self, "WHERE account_id = $1", account.as_uuid())
            }

            #[::tracing::instrument(skip_all)]
            async fn find_by_customer(
                &self,
                customer_id: &::tollgate_domain::CustomerId,
            ) -> Result<Option<::tollgate_domain::Subscription>, ::tollgate_ports::StoreError> {
                $crate::__find_subscription!(self, "WHERE stripe_customer_id = $1", customer_id.as_str())
            }

            #[::tracing::instrument(skip_all)]
            async fn find_by_provider_subscription(
                &self,
                subscription_id: &::tollgate_domain::ProviderSubscriptionId,
            ) -> Result<Option<::tollgate_domain::Subscription>, ::tollgate_ports::StoreError> {
                $crate::__find_subscription!(self, "WHERE stripe_subscription_id = $1", subscription_id.as_str())
            }

            #[::tracing::instrument(skip_all)]
            async fn expire_holds(
                &self,
                account: ::tollgate_domain::AccountId,
                now: ::time::OffsetDateTime,
            ) -> Result<u32, ::tollgate_ports::StoreError> {
                // A read first: an account with holds is asked on each of its metered requests,
                // and its holds are rarely due; only then is the write lock taken.
                let due: bool = ::sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM reservations WHERE account_id = $1 AND status = 'held' AND expires_at <= $2)",
                )
                .bind(account.as_uuid())
                .bind($crate::Ts(now))
                .fetch_one(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                if !due {
                    return Ok(0);
                }
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let released = expire_holds_in(&mut tx, Some(account), now).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(released.iter().map(|(_, _, runs)| *runs).sum::<i64>().try_into().unwrap_or(u32::MAX))
            }

            #[::tracing::instrument(skip_all)]
            async fn update(
                &self,
                sub: &::tollgate_domain::Subscription,
                expected_version: i64,
                usage: ::tollgate_domain::UsageEffect,
            ) -> Result<(), ::tollgate_ports::UpdateSubscriptionError> {
                // A reset touches the members too: one transaction. Anything else is one statement.
                let matched = if usage == ::tollgate_domain::UsageEffect::Reset {
                    let mut tx = self.write().await.map_err($crate::update_error)?;
                    let matched =
                        update_subscription(&mut tx, sub, expected_version, usage).await.map_err($crate::update_error)?;
                    tx.commit().await.map_err($crate::update_error)?;
                    matched
                } else {
                    let mut conn = self.write_pool().acquire().await.map_err($crate::update_error)?;
                    update_subscription(&mut conn, sub, expected_version, usage).await.map_err($crate::update_error)?
                };
                if matched {
                    Ok(())
                } else {
                    Err(::tollgate_ports::UpdateSubscriptionError::Conflict)
                }
            }
        }
    };
}
