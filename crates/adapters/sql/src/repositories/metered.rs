//! The metered write path every metered repository method shares: group commit (a batch of
//! writes decided in arrival order and applied with set-based statements in one transaction), and
//! the same write alone in a transaction of its own when its batch could not take it.

#[doc(hidden)]
#[macro_export]
macro_rules! __metered {
    ($store:ty, $db:ty) => {
        /// Starts the store's group-commit queues, each taking at most `limit` waiting writes;
        /// `begin` opens a write transaction.
        fn batchers<B, Fut>(limit: usize, begin: B) -> $crate::batch::Batchers
        where
            B: Fn() -> Fut + Clone + Send + Sync + 'static,
            Fut: ::std::future::Future<Output = Result<::sqlx::Transaction<'static, $db>, ::sqlx::Error>>
                + Send
                + 'static,
        {
            use $crate::batch::{Batcher, Batchers};
            let metered = {
                let begin = begin.clone();
                Batcher::spawn(limit, move |writes: Vec<$crate::batch::MeteredWrite>| {
                    let tx = begin();
                    async move { applied(tx.await, writes.len(), async |conn| batch_in(conn, &writes).await).await }
                })
            };
            let commits = Batcher::spawn(limit, move |commits: Vec<$crate::batch::Commit>| {
                let tx = begin();
                async move { applied(tx.await, commits.len(), async |conn| commits_in(conn, &commits).await).await }
            });
            Batchers { metered, commits }
        }

        /// Runs `decide` (one batch's statements, `writes` answers) in the transaction `tx` and
        /// commits it.
        async fn applied<A>(
            tx: Result<::sqlx::Transaction<'static, $db>, ::sqlx::Error>,
            writes: usize,
            decide: impl AsyncFnOnce(&mut <$db as ::sqlx::Database>::Connection) -> Result<Vec<A>, ::sqlx::Error>,
        ) -> Result<Vec<A>, $crate::batch::BatchFailed> {
            use $crate::batch::BatchFailed;
            use ::tollgate_ports::StoreError;
            let mut tx = tx.map_err(|e| BatchFailed::Store($crate::store_error(e)))?;
            let answers = match decide(&mut tx).await {
                Ok(answers) if answers.len() == writes => answers,
                Ok(_) => return Err(BatchFailed::Store(StoreError::failed("a batch answered the wrong number of writes"))),
                // Rolled back when `tx` drops. The store gone (a lost connection, a restart, a lock
                // waited on too long) is every write's error, retryable; anything else (a
                // same-key race, a constraint) and the batcher applies each write again alone.
                Err(e) if !$crate::is_conflict(&e) && matches!($crate::store_error_ref(&e), $crate::ErrorKind::Unavailable) => {
                    return Err(BatchFailed::Store($crate::store_error(e)));
                }
                Err(e) => {
                    ::tracing::debug!(error = %e, "a batch failed; its writes are applied one at a time");
                    return Err(BatchFailed::Retry);
                }
            };
            tx.commit().await.map_err(|e| BatchFailed::Store($crate::store_error(e)))?;
            Ok(answers)
        }

        /// Appends `(id, id, …)` to `query`: the binds of an `IN` list (never empty here).
        fn push_in_list(query: &mut ::sqlx::QueryBuilder<$db>, ids: &[::uuid::Uuid]) {
            query.push("(");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            query.push(")");
        }

        /// Adds each account's `(runs_used, runs_reserved)` delta (either may be negative) to its
        /// counters, then each member's to theirs: one `UPDATE … FROM (VALUES …)` per table, in
        /// key order (accounts before members, as every path locks them).
        async fn add_to_counters(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            deltas: $crate::decide::Deltas,
            member_deltas: $crate::decide::MemberDeltas,
        ) -> Result<(), ::sqlx::Error> {
            if !deltas.is_empty() {
                let mut deltas: Vec<(::uuid::Uuid, (i64, i64))> = deltas.into_iter().collect();
                deltas.sort_unstable_by_key(|(account, _)| *account);
                let mut update = ::sqlx::QueryBuilder::<$db>::new(
                    "UPDATE subscriptions SET runs_used = runs_used + v.column2, runs_reserved = runs_reserved + v.column3 FROM (",
                );
                update.push_values(deltas, |mut row, (account, (used, reserved))| {
                    row.push_bind(account).push_bind(used).push_bind(reserved);
                });
                update.push(") AS v WHERE subscriptions.account_id = v.column1");
                update.build().execute(&mut *conn).await?;
            }
            if !member_deltas.is_empty() {
                let mut deltas: Vec<($crate::decide::MemberOf, (i64, i64))> = member_deltas.into_iter().collect();
                deltas.sort_unstable_by_key(|(member, _)| *member);
                let mut update = ::sqlx::QueryBuilder::<$db>::new(
                    "UPDATE memberships SET runs_used = runs_used + v.column3, runs_reserved = runs_reserved + v.column4 FROM (",
                );
                update.push_values(deltas, |mut row, ((account, user), (used, reserved))| {
                    row.push_bind(account).push_bind(user).push_bind(used).push_bind(reserved);
                });
                update.push(") AS v WHERE memberships.account_id = v.column1 AND memberships.user_id = v.column2");
                update.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Reads (and on Postgres locks, in key order) the counters of `members`: their cap,
        /// runs used this period, runs reserved. A member missing from the answer is none.
        async fn member_counters(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            mut members: Vec<$crate::decide::MemberOf>,
        ) -> Result<::std::collections::HashMap<$crate::decide::MemberOf, $crate::decide::MemberCounters>, ::sqlx::Error> {
            members.sort_unstable();
            members.dedup();
            if members.is_empty() {
                return Ok(::std::collections::HashMap::new());
            }
            let mut read = ::sqlx::QueryBuilder::<$db>::new(
                "SELECT account_id, user_id, runs_cap, runs_used, runs_reserved FROM memberships WHERE ",
            );
            for (i, (account, user)) in members.iter().enumerate() {
                read.push(if i == 0 { "(account_id = " } else { " OR (account_id = " });
                read.push_bind(*account).push(" AND user_id = ").push_bind(*user).push(")");
            }
            read.push(" ORDER BY account_id, user_id");
            read.push(<$store>::LOCK_ROWS);
            let rows: Vec<(::uuid::Uuid, ::uuid::Uuid, Option<i64>, i64, i64)> =
                read.build_query_as().fetch_all(&mut *conn).await?;
            Ok(rows
                .into_iter()
                .map(|(account, user, cap, used, reserved)| {
                    ((account, user), $crate::decide::MemberCounters { cap, used, reserved })
                })
                .collect())
        }

        /// Decides `writes` in arrival order against their accounts' and members' counters and
        /// writes those that pass: one read of the accounts' counters and one of the members'
        /// (locked in key order on Postgres), one read of the keys stored before, one
        /// `UPDATE … FROM (VALUES …)` per counter table, one multi-row insert per table.
        async fn batch_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            writes: &[$crate::batch::MeteredWrite],
        ) -> Result<Vec<$crate::WriteOutcome>, ::sqlx::Error> {
            use ::std::collections::HashMap;
            use ::sqlx::QueryBuilder;
            use ::uuid::Uuid;
            use $crate::batch::{MeteredWrite, Resource};
            use $crate::decide::{decide_writes, is_hold, member_of, Counters, KeyOf, Paid, WritePlan};

            let mut accounts: Vec<Uuid> = writes.iter().map(|w| *w.consumption.account_id.as_uuid()).collect();
            accounts.sort_unstable();
            accounts.dedup();
            let mut read = QueryBuilder::<$db>::new(
                "SELECT account_id, version, runs_used, runs_reserved FROM subscriptions WHERE account_id IN ",
            );
            push_in_list(&mut read, &accounts);
            read.push(" ORDER BY account_id");
            read.push(<$store>::LOCK_ROWS);
            let rows: Vec<(Uuid, i64, i64, i64)> = read.build_query_as().fetch_all(&mut *conn).await?;
            let counters: HashMap<Uuid, Counters> = rows
                .into_iter()
                .map(|(account, version, used, reserved)| (account, Counters { version, used, reserved }))
                .collect();
            let members = member_counters(
                &mut *conn,
                writes.iter().filter_map(|w| member_of(w.consumption.account_id, w.consumption.user_id)).collect(),
            )
            .await?;

            // The keys of this batch stored before, consumptions and holds apart.
            let mut paid: HashMap<KeyOf, Paid> = HashMap::new();
            for hold in [false, true] {
                let keyed: Vec<&MeteredWrite> =
                    writes.iter().filter(|w| is_hold(w) == hold && w.consumption.idempotency_key.is_some()).collect();
                if keyed.is_empty() {
                    continue;
                }
                let mut read = QueryBuilder::<$db>::new(if hold {
                    "SELECT account_id, idempotency_key, id, request_hash FROM reservations WHERE "
                } else {
                    "SELECT account_id, idempotency_key, COALESCE(resource_id, id), request_hash FROM usage_records WHERE "
                });
                for (i, w) in keyed.iter().enumerate() {
                    let c = &w.consumption;
                    let key = c.idempotency_key.as_ref().map(|k| k.as_str().to_owned());
                    read.push(if i == 0 { "(account_id = " } else { " OR (account_id = " });
                    read.push_bind(*c.account_id.as_uuid()).push(" AND idempotency_key = ").push_bind(key).push(")");
                }
                let stored: Vec<(Uuid, String, Uuid, Option<String>)> =
                    read.build_query_as().fetch_all(&mut *conn).await?;
                for (account, key, answer, fingerprint) in stored {
                    paid.insert((account, hold, key), Paid { fingerprint, answer });
                }
            }

            let WritePlan { outcomes, deltas, member_deltas, taken } = decide_writes(writes, counters, members, paid)?;
            let taken: Vec<&MeteredWrite> = taken.into_iter().map(|i| &writes[i]).collect();
            if taken.is_empty() {
                return Ok(outcomes);
            }

            add_to_counters(&mut *conn, deltas, member_deltas).await?;

            let key_of = |c: &::tollgate_ports::Consumption| c.idempotency_key.as_ref().map(|k| k.as_str().to_owned());
            let fingerprint_of = |c: &::tollgate_ports::Consumption| {
                c.idempotency_key.as_ref().and_then(|k| k.fingerprint()).map(str::to_owned)
            };
            let usage: Vec<&MeteredWrite> = taken.iter().copied().filter(|w| !is_hold(w)).collect();
            if !usage.is_empty() {
                let mut insert = QueryBuilder::<$db>::new(
                    "INSERT INTO usage_records \
                     (id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) ",
                );
                insert.push_values(&usage, |mut row, w| {
                    let c = &w.consumption;
                    let resource = match &w.resource {
                        Resource::Session(session) => Some(*session.id.as_uuid()),
                        Resource::Usage | Resource::Hold { .. } => None,
                    };
                    row.push_bind(c.record_id)
                        .push_bind(*c.account_id.as_uuid())
                        .push_bind(c.user_id.map(|u| *u.as_uuid()))
                        .push_bind(i64::from(c.units.get()))
                        .push_bind(c.reason.stored())
                        .push_bind(key_of(c))
                        .push_bind(resource)
                        .push_bind(false)
                        .push_bind($crate::Ts(c.at))
                        .push_bind(fingerprint_of(c));
                });
                insert.build().execute(&mut *conn).await?;
            }
            let sessions: Vec<&::tollgate_ports::Session> = taken
                .iter()
                .filter_map(|w| match &w.resource {
                    Resource::Session(session) => Some(session),
                    Resource::Usage | Resource::Hold { .. } => None,
                })
                .collect();
            if !sessions.is_empty() {
                let mut insert =
                    QueryBuilder::<$db>::new("INSERT INTO sessions (id, account_id, user_id, title, created_at) ");
                insert.push_values(sessions, |mut row, session| {
                    row.push_bind(*session.id.as_uuid())
                        .push_bind(*session.account_id.as_uuid())
                        .push_bind(*session.user_id.as_uuid())
                        .push_bind(session.title.clone())
                        .push_bind($crate::Ts(session.created_at));
                });
                insert.build().execute(&mut *conn).await?;
            }
            let holds: Vec<(&MeteredWrite, ::time::OffsetDateTime)> = taken
                .iter()
                .filter_map(|w| match &w.resource {
                    Resource::Hold { expires_at } => Some((*w, *expires_at)),
                    Resource::Usage | Resource::Session(_) => None,
                })
                .collect();
            if !holds.is_empty() {
                let mut insert = QueryBuilder::<$db>::new(
                    "INSERT INTO reservations \
                     (id, account_id, user_id, runs, committed_runs, status, expires_at, idempotency_key, request_hash, created_at, updated_at) ",
                );
                insert.push_values(holds, |mut row, (w, expires_at)| {
                    let c = &w.consumption;
                    row.push_bind(c.record_id)
                        .push_bind(*c.account_id.as_uuid())
                        .push_bind(c.user_id.map(|u| *u.as_uuid()))
                        .push_bind(i64::from(c.units.get()))
                        .push_bind(None::<i64>)
                        .push_bind(::tollgate_ports::ReservationStatus::Held.as_str())
                        .push_bind($crate::Ts(expires_at))
                        .push_bind(key_of(c))
                        .push_bind(fingerprint_of(c))
                        .push_bind($crate::Ts(c.at))
                        .push_bind($crate::Ts(c.at));
                });
                insert.build().execute(&mut *conn).await?;
            }
            Ok(outcomes)
        }

        /// Decides `commits` in arrival order against their reservations and settles those that
        /// pass: the reservations (those another transaction holds are skipped), then their
        /// accounts' counters and their members', read and locked (Postgres) in key order; one `UPDATE … FROM
        /// (VALUES …)` of each table; one multi-row insert of the usage records. A commit whose
        /// reservation was not read (unknown, or skipped) or is past its expiry is answered `None`:
        /// committed alone, it waits its turn, is not found, or expires.
        async fn commits_in(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            commits: &[$crate::batch::Commit],
        ) -> Result<Vec<Option<::tollgate_ports::SettleOutcome>>, ::sqlx::Error> {
            use ::std::collections::HashMap;
            use ::sqlx::QueryBuilder;
            use ::tollgate_ports::{ReservationStatus, UsageReason};
            use ::uuid::Uuid;
            use $crate::decide::{decide_commits, member_of, CommitPlan};

            let mut ids: Vec<Uuid> = commits.iter().map(|c| c.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut read = QueryBuilder::<$db>::new($crate::__select_reservation!("WHERE id IN "));
            push_in_list(&mut read, &ids);
            read.push(" ORDER BY id");
            // Never waits for a reservation another transaction holds (a release, an expiry, the
            // sweep: they lock reservations in their own order); such a commit is done alone.
            read.push(<$store>::LOCK_ROWS_SKIP_LOCKED);
            let rows: Vec<$crate::ReservationRow> = read.build_query_as().fetch_all(&mut *conn).await?;
            let mut found: HashMap<Uuid, ::tollgate_ports::Reservation> = HashMap::new();
            for row in rows {
                let reservation = row.into_domain().map_err(|e| ::sqlx::Error::Decode(Box::new(e)))?;
                found.insert(reservation.id, reservation);
            }
            let held: Vec<&::tollgate_ports::Reservation> =
                found.values().filter(|r| r.status == ReservationStatus::Held).collect();
            let mut owners: Vec<Uuid> = held.iter().map(|r| *r.account_id.as_uuid()).collect();
            owners.sort_unstable();
            owners.dedup();
            if !owners.is_empty() {
                let mut lock = QueryBuilder::<$db>::new("SELECT account_id FROM subscriptions WHERE account_id IN ");
                push_in_list(&mut lock, &owners);
                lock.push(" ORDER BY account_id");
                lock.push(<$store>::LOCK_ROWS);
                lock.build().fetch_all(&mut *conn).await?;
            }
            member_counters(&mut *conn, held.iter().filter_map(|r| member_of(r.account_id, r.user_id)).collect())
                .await?;

            let CommitPlan { outcomes, settled, deltas, member_deltas, charges } = decide_commits(commits, found)?;
            if settled.is_empty() {
                return Ok(outcomes);
            }

            let mut update = QueryBuilder::<$db>::new(
                "UPDATE reservations SET status = 'committed', committed_runs = v.column2, updated_at = v.column3 FROM (",
            );
            update.push_values(settled, |mut row, (id, charged, at)| {
                row.push_bind(id).push_bind(charged).push_bind(at);
            });
            update.push(") AS v WHERE reservations.id = v.column1");
            update.build().execute(&mut *conn).await?;

            add_to_counters(&mut *conn, deltas, member_deltas).await?;

            if !charges.is_empty() {
                let mut insert = QueryBuilder::<$db>::new(
                    "INSERT INTO usage_records \
                     (id, account_id, user_id, units, reason, idempotency_key, resource_id, refunded, created_at, request_hash) ",
                );
                insert.push_values(charges, |mut row, (i, account, user, charged)| {
                    let commit = &commits[i];
                    row.push_bind(commit.record_id)
                        .push_bind(*account.as_uuid())
                        .push_bind(user.map(|u| *u.as_uuid()))
                        .push_bind(charged)
                        .push_bind(UsageReason::ReservationCommit.stored())
                        .push_bind(None::<String>)
                        .push_bind(Some(commit.id))
                        .push_bind(false)
                        .push_bind($crate::Ts(commit.at))
                        .push_bind(None::<String>);
                });
                insert.build().execute(&mut *conn).await?;
            }
            Ok(outcomes)
        }

        impl $store {
            /// A metered write: in the next group commit, or alone when its batch could not take
            /// it.
            async fn metered(
                &self,
                write: $crate::batch::MeteredWrite,
            ) -> Result<$crate::WriteOutcome, ::tollgate_ports::StoreError> {
                match self.batchers.metered.submit(write.clone()).await? {
                    Some(outcome) => Ok(outcome),
                    None => self.metered_alone(&write).await,
                }
            }

            /// `write` in a transaction of its own: a batch of one, decided by the same code. A
            /// lost same-key race (the insert's unique violation) is retried in a fresh
            /// transaction, which then sees the winner's row and replays it.
            async fn metered_alone(
                &self,
                write: &$crate::batch::MeteredWrite,
            ) -> Result<$crate::WriteOutcome, ::tollgate_ports::StoreError> {
                use $crate::{store_error, WriteOutcome};
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let mut tx = self.write().await.map_err(store_error)?;
                    match batch_in(&mut tx, ::std::slice::from_ref(write)).await {
                        Ok(mut outcomes) => {
                            let outcome = outcomes.pop().unwrap_or(WriteOutcome::Stale);
                            if matches!(outcome, WriteOutcome::Consumed(_)) {
                                tx.commit().await.map_err(store_error)?;
                            }
                            return Ok(outcome);
                        }
                        // Only a keyed write can lose a race for its key; anything else (a
                        // resource id taken) is this write's own error.
                        Err(e)
                            if attempts < 3
                                && write.consumption.idempotency_key.is_some()
                                && $crate::is_unique_violation(&e) => {}
                        Err(e) => return Err(store_error(e)),
                    }
                }
            }
        }
    };
}
