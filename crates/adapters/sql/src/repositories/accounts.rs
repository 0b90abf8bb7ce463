//! `AccountRepository`: organisations, memberships and invitations, and the inserts registration
//! shares (a user's personal account and their membership of it).

#[doc(hidden)]
#[macro_export]
macro_rules! __accounts {
    ($store:ty, $db:ty) => {
        async fn insert_account(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: &::tollgate_domain::Account,
        ) -> Result<(), ::sqlx::Error> {
            ::sqlx::query("INSERT INTO accounts (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
                .bind(account.id.as_uuid())
                .bind(account.name.as_str())
                .bind(account.kind.as_str())
                .bind($crate::Ts(account.created_at))
                .execute(conn)
                .await
                .map(|_| ())
        }

        async fn insert_member(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: ::tollgate_domain::AccountId,
            user: ::tollgate_domain::UserId,
            role: ::tollgate_domain::MemberRole,
            at: ::time::OffsetDateTime,
        ) -> Result<(), ::sqlx::Error> {
            ::sqlx::query(
                "INSERT INTO memberships (account_id, user_id, role, runs_cap, runs_used, runs_reserved, joined_at) \
                 VALUES ($1, $2, $3, NULL, 0, 0, $4)",
            )
            .bind(account.as_uuid())
            .bind(user.as_uuid())
            .bind(role.as_str())
            .bind($crate::Ts(at))
            .execute(conn)
            .await
            .map(|_| ())
        }

        /// Locks the account's row (Postgres; SQLite's write transaction excludes every other
        /// writer already): changes to its owners are decided one at a time.
        async fn lock_account(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: ::tollgate_domain::AccountId,
        ) -> Result<bool, ::sqlx::Error> {
            let mut lock = ::sqlx::QueryBuilder::<$db>::new("SELECT id FROM accounts WHERE id = ");
            lock.push_bind(*account.as_uuid());
            lock.push(<$store>::LOCK_ROWS);
            Ok(lock.build().fetch_optional(conn).await?.is_some())
        }

        /// Counts the account's members into its seats, moving the subscription's version: a
        /// decision made on the old count is stale (a per-seat plan's pool changed with it).
        async fn count_seats(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: ::tollgate_domain::AccountId,
        ) -> Result<(), ::sqlx::Error> {
            ::sqlx::query(
                "UPDATE subscriptions SET version = version + 1, \
                 seats = (SELECT count(*) FROM memberships WHERE account_id = $1) WHERE account_id = $1",
            )
            .bind(account.as_uuid())
            .execute(conn)
            .await
            .map(|_| ())
        }

        /// The member's role, and how many owners the account has.
        async fn role_and_owners(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            account: ::tollgate_domain::AccountId,
            user: ::tollgate_domain::UserId,
        ) -> Result<Option<(String, i64)>, ::sqlx::Error> {
            ::sqlx::query_as(
                "SELECT role, (SELECT count(*) FROM memberships WHERE account_id = $1 AND role = 'owner') \
                 FROM memberships WHERE account_id = $1 AND user_id = $2",
            )
            .bind(account.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(conn)
            .await
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::AccountRepository for $store {
            #[::tracing::instrument(skip_all)]
            async fn create_organisation(
                &self,
                account: &::tollgate_domain::Account,
                owner: ::tollgate_domain::UserId,
                sub: &::tollgate_domain::Subscription,
                at: ::time::OffsetDateTime,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                let mut tx = self.write().await.map_err($crate::store_error)?;
                insert_account(&mut tx, account).await.map_err($crate::store_error)?;
                insert_member(&mut tx, account.id, owner, ::tollgate_domain::MemberRole::Owner, at)
                    .await
                    .map_err($crate::store_error)?;
                insert_subscription(&mut tx, sub).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)
            }

            #[::tracing::instrument(skip_all)]
            async fn find_account(
                &self,
                id: ::tollgate_domain::AccountId,
            ) -> Result<Option<::tollgate_domain::Account>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::AccountRow> =
                    ::sqlx::query_as("SELECT id, name, kind, created_at FROM accounts WHERE id = $1")
                        .bind(id.as_uuid())
                        .fetch_optional(self.read_pool())
                        .await
                        .map_err($crate::store_error)?;
                row.map($crate::AccountRow::into_domain).transpose()
            }

            #[::tracing::instrument(skip_all)]
            async fn membership(
                &self,
                account: ::tollgate_domain::AccountId,
                user: ::tollgate_domain::UserId,
            ) -> Result<Option<::tollgate_domain::Membership>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::MemberRow> = ::sqlx::query_as(
                    "SELECT m.account_id, m.user_id, m.role, m.runs_cap, m.runs_used, m.runs_reserved, m.joined_at, u.email \
                     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND m.user_id = $2",
                )
                .bind(account.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(row.map($crate::MemberRow::into_domain).transpose()?.map(|m| m.membership))
            }

            #[::tracing::instrument(skip_all)]
            async fn accounts_of(
                &self,
                user: ::tollgate_domain::UserId,
            ) -> Result<Vec<::tollgate_ports::AccountMembership>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::AccountWithRole> = ::sqlx::query_as(
                    "SELECT a.id, a.name, a.kind, a.created_at, m.role FROM memberships m \
                     JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 \
                     ORDER BY CASE WHEN a.kind = 'personal' THEN 0 ELSE 1 END, lower(a.name), a.id",
                )
                .bind(user.as_uuid())
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::AccountWithRole::into_domain).collect()
            }

            #[::tracing::instrument(skip_all)]
            async fn members(
                &self,
                account: ::tollgate_domain::AccountId,
            ) -> Result<Vec<::tollgate_ports::MemberUse>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::MemberRow> = ::sqlx::query_as(
                    "SELECT m.account_id, m.user_id, m.role, m.runs_cap, m.runs_used, m.runs_reserved, m.joined_at, u.email \
                     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 \
                     ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, lower(u.email)",
                )
                .bind(account.as_uuid())
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                rows.into_iter().map($crate::MemberRow::into_domain).collect()
            }

            #[::tracing::instrument(skip_all)]
            async fn count_members(
                &self,
                account: ::tollgate_domain::AccountId,
            ) -> Result<u32, ::tollgate_ports::StoreError> {
                let n: i64 = ::sqlx::query_scalar("SELECT count(*) FROM memberships WHERE account_id = $1")
                    .bind(account.as_uuid())
                    .fetch_one(self.read_pool())
                    .await
                    .map_err($crate::store_error)?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            }

            #[::tracing::instrument(skip_all)]
            async fn update_member(
                &self,
                account: ::tollgate_domain::AccountId,
                user: ::tollgate_domain::UserId,
                role: ::tollgate_domain::MemberRole,
                runs_cap: Option<::tollgate_domain::RunCount>,
            ) -> Result<::tollgate_ports::MemberChange, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::MemberChange;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                if !lock_account(&mut tx, account).await.map_err($crate::store_error)? {
                    return Ok(MemberChange::NotFound);
                }
                let Some((current, owners)) = role_and_owners(&mut tx, account, user).await.map_err($crate::store_error)? else {
                    return Ok(MemberChange::NotFound);
                };
                if current == "owner" && role != ::tollgate_domain::MemberRole::Owner && owners <= 1 {
                    return Ok(MemberChange::LastOwner);
                }
                ::sqlx::query("UPDATE memberships SET role = $3, runs_cap = $4 WHERE account_id = $1 AND user_id = $2")
                    .bind(account.as_uuid())
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .bind(runs_cap.map(|c| i64::from(c.get())))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(MemberChange::Done)
            }

            #[::tracing::instrument(skip_all)]
            async fn remove_member(
                &self,
                account: ::tollgate_domain::AccountId,
                user: ::tollgate_domain::UserId,
            ) -> Result<::tollgate_ports::MemberChange, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::MemberChange;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                if !lock_account(&mut tx, account).await.map_err($crate::store_error)? {
                    return Ok(MemberChange::NotFound);
                }
                let Some((current, owners)) = role_and_owners(&mut tx, account, user).await.map_err($crate::store_error)? else {
                    return Ok(MemberChange::NotFound);
                };
                if current == "owner" && owners <= 1 {
                    return Ok(MemberChange::LastOwner);
                }
                ::sqlx::query("DELETE FROM memberships WHERE account_id = $1 AND user_id = $2")
                    .bind(account.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                count_seats(&mut tx, account).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(MemberChange::Done)
            }

            #[::tracing::instrument(skip_all)]
            async fn create_invitation(
                &self,
                invitation: &::tollgate_domain::Invitation,
                token_hash: &str,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                ::sqlx::query(
                    "INSERT INTO invitations (id, account_id, email, role, token_hash, invited_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(invitation.id.as_uuid())
                .bind(invitation.account_id.as_uuid())
                .bind(invitation.email.as_str())
                .bind(invitation.role.as_str())
                .bind(token_hash)
                .bind(invitation.invited_by.as_uuid())
                .bind($crate::Ts(invitation.created_at))
                .bind($crate::Ts(invitation.expires_at))
                .execute(self.write_pool())
                .await
                .map(|_| ())
                .map_err($crate::store_error)
            }

            #[::tracing::instrument(skip_all)]
            async fn find_invitation(
                &self,
                token_hash: &str,
            ) -> Result<Option<::tollgate_domain::Invitation>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::InvitationRow> = ::sqlx::query_as(
                    "SELECT id, account_id, email, role, invited_by, created_at, expires_at, accepted_at \
                     FROM invitations WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                row.map($crate::InvitationRow::into_domain).transpose()
            }

            #[::tracing::instrument(skip_all)]
            async fn accept_invitation(
                &self,
                id: ::tollgate_domain::InvitationId,
                user: ::tollgate_domain::UserId,
                at: ::time::OffsetDateTime,
            ) -> Result<::tollgate_ports::Accepted, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::Accepted;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                // Once: the first transaction to mark it wins; the loser finds it used.
                let marked: Option<(::uuid::Uuid, String)> = ::sqlx::query_as(
                    "UPDATE invitations SET accepted_at = $2, accepted_by = $3 \
                     WHERE id = $1 AND accepted_at IS NULL RETURNING account_id, role",
                )
                .bind(id.as_uuid())
                .bind($crate::Ts(at))
                .bind(user.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                let Some((account, role)) = marked else { return Ok(Accepted::Used) };
                let account = ::tollgate_domain::AccountId::from_uuid(account);
                // Members join one at a time (each counts the seats after the one before).
                lock_account(&mut tx, account).await.map_err($crate::store_error)?;
                let role = $crate::parse_role(&role)?;
                let existing: Option<String> =
                    ::sqlx::query_scalar("SELECT role FROM memberships WHERE account_id = $1 AND user_id = $2")
                        .bind(account.as_uuid())
                        .bind(user.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($crate::store_error)?;
                let outcome = match existing {
                    Some(current) => Accepted::AlreadyMember($crate::parse_role(&current)?),
                    None => {
                        insert_member(&mut tx, account, user, role, at).await.map_err($crate::store_error)?;
                        count_seats(&mut tx, account).await.map_err($crate::store_error)?;
                        Accepted::Joined
                    }
                };
                tx.commit().await.map_err($crate::store_error)?;
                Ok(outcome)
            }
        }
    };
}
