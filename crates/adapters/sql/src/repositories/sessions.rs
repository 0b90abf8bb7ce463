//! `SessionRepository`: the metered resource, created in the same transaction as its run.

#[doc(hidden)]
#[macro_export]
macro_rules! __sessions {
    ($store:ty, $db:ty) => {
        async fn insert_session(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            session: &::tollgate_ports::Session,
        ) -> Result<(), ::sqlx::Error> {
            ::sqlx::query("INSERT INTO sessions (id, account_id, user_id, title, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(session.id.as_uuid())
                .bind(session.account_id.as_uuid())
                .bind(session.user_id.as_uuid())
                .bind(&session.title)
                .bind($crate::Ts(session.created_at))
                .execute(conn)
                .await
                .map(|_| ())
        }

        impl $store {
            async fn session_by_id(
                &self,
                user: ::tollgate_domain::UserId,
                id: ::uuid::Uuid,
            ) -> Result<Option<::tollgate_ports::Session>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::SessionRow> = ::sqlx::query_as(
                    "SELECT id, account_id, user_id, title, created_at FROM sessions WHERE id = $1 AND user_id = $2",
                )
                .bind(id)
                .bind(user.as_uuid())
                .fetch_optional(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(row.map($crate::SessionRow::into_domain))
            }
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::SessionRepository for $store {
            #[::tracing::instrument(skip_all, fields(account_id = %c.account_id))]
            async fn create_metered(
                &self,
                session: &::tollgate_ports::Session,
                c: &::tollgate_ports::Consumption,
            ) -> Result<
                ::tollgate_ports::ConsumeOutcome<::tollgate_ports::Session>,
                ::tollgate_ports::StoreError,
            > {
                use ::tollgate_ports::ConsumeOutcome;
                let write = $crate::batch::MeteredWrite {
                    consumption: c.clone(),
                    resource: $crate::batch::Resource::Session(session.clone()),
                };
                let counted = self.metered(write).await?.with_value(session.clone());
                Ok(match counted {
                    $crate::Written::Replayed(original) => {
                        ConsumeOutcome::Replayed { value: self.session_by_id(session.user_id, original).await? }
                    }
                    other => other.into_outcome(|_| None),
                })
            }

            #[::tracing::instrument(skip_all)]
            async fn create(
                &self,
                session: &::tollgate_ports::Session,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                let mut conn = self.write_pool().acquire().await.map_err($crate::store_error)?;
                insert_session(&mut conn, session).await.map_err($crate::store_error)
            }

            #[::tracing::instrument(skip_all)]
            async fn list(
                &self,
                user: ::tollgate_domain::UserId,
                account: ::tollgate_domain::AccountId,
                page: ::tollgate_ports::Page,
            ) -> Result<(Vec<::tollgate_ports::Session>, u64), ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::SessionRow> = ::sqlx::query_as(
                    "SELECT id, account_id, user_id, title, created_at FROM sessions WHERE user_id = $1 AND account_id = $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                )
                .bind(user.as_uuid())
                .bind(account.as_uuid())
                .bind(i64::from(page.limit))
                .bind(i64::from(page.offset))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                let total: i64 =
                    ::sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1 AND account_id = $2")
                    .bind(user.as_uuid())
                    .bind(account.as_uuid())
                    .fetch_one(self.read_pool())
                    .await
                    .map_err($crate::store_error)?;
                let sessions = rows.into_iter().map($crate::SessionRow::into_domain).collect();
                Ok((sessions, u64::try_from(total).unwrap_or(0)))
            }

            #[::tracing::instrument(skip_all)]
            async fn get(
                &self,
                user: ::tollgate_domain::UserId,
                id: ::tollgate_domain::SessionId,
            ) -> Result<Option<::tollgate_ports::Session>, ::tollgate_ports::StoreError> {
                self.session_by_id(user, *id.as_uuid()).await
            }

            #[::tracing::instrument(skip_all)]
            async fn delete(
                &self,
                user: ::tollgate_domain::UserId,
                id: ::tollgate_domain::SessionId,
            ) -> Result<bool, ::tollgate_ports::StoreError> {
                ::sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                    .bind(id.as_uuid())
                    .bind(user.as_uuid())
                    .execute(self.write_pool())
                    .await
                    .map(|done| done.rows_affected() == 1)
                    .map_err($crate::store_error)
            }
        }
    };
}
