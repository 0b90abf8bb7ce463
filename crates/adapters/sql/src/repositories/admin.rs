//! `AdminRepository`: each operator change and its audit entry in one transaction.

#[doc(hidden)]
#[macro_export]
macro_rules! __admin {
    ($store:ty, $db:ty) => {
        async fn insert_audit(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            entry: &::tollgate_ports::AuditEntry,
        ) -> Result<(), ::sqlx::Error> {
            let r = $crate::AuditRow::from_domain(entry);
            ::sqlx::query(
                "INSERT INTO audit_log (id, actor, action, target_user_id, before, after, reason, request_id, at, target_account_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.id)
            .bind(&r.actor)
            .bind(&r.action)
            .bind(r.target_user_id)
            .bind(&r.before)
            .bind(&r.after)
            .bind(&r.reason)
            .bind(&r.request_id)
            .bind(r.at)
            .bind(r.target_account_id)
            .execute(conn)
            .await
            .map(|_| ())
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::AdminRepository for $store {
            #[::tracing::instrument(skip_all)]
            async fn update_subscription_audited(
                &self,
                sub: &::tollgate_domain::Subscription,
                expected_version: i64,
                usage: ::tollgate_domain::UsageEffect,
                entry: &::tollgate_ports::AuditEntry,
            ) -> Result<(), ::tollgate_ports::UpdateSubscriptionError> {
                let mut tx = self.write().await.map_err($crate::update_error)?;
                if !update_subscription(&mut tx, sub, expected_version, usage).await.map_err($crate::update_error)? {
                    return Err(::tollgate_ports::UpdateSubscriptionError::Conflict);
                }
                insert_audit(&mut tx, entry).await.map_err($crate::update_error)?;
                tx.commit().await.map_err($crate::update_error)
            }

            #[::tracing::instrument(skip_all)]
            async fn set_role_audited(
                &self,
                user: ::tollgate_domain::UserId,
                role: ::tollgate_domain::Role,
                entry: &::tollgate_ports::AuditEntry,
            ) -> Result<bool, ::tollgate_ports::StoreError> {
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let done = ::sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store_error)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                insert_audit(&mut tx, entry).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(true)
            }

            #[::tracing::instrument(skip_all)]
            async fn search_users(
                &self,
                query: Option<String>,
                page: ::tollgate_ports::Page,
            ) -> Result<(Vec<::tollgate_domain::User>, u64), ::tollgate_ports::StoreError> {
                // `%` and `_` in the query match themselves.
                let pattern = query.map(|q| {
                    let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    format!("%{escaped}%")
                });
                let rows: Vec<$crate::UserRow> = ::sqlx::query_as($crate::__select_user!(
                    "WHERE CAST($1 AS TEXT) IS NULL OR lower(email) LIKE $1 ESCAPE '\\' OR lower(fullname) LIKE $1 ESCAPE '\\' \
                     ORDER BY created_at, id LIMIT $2 OFFSET $3"
                ))
                .bind(&pattern)
                .bind(i64::from(page.limit))
                .bind(i64::from(page.offset))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                let total: i64 = ::sqlx::query_scalar(
                    "SELECT count(*) FROM users \
                     WHERE CAST($1 AS TEXT) IS NULL OR lower(email) LIKE $1 ESCAPE '\\' OR lower(fullname) LIKE $1 ESCAPE '\\'",
                )
                .bind(&pattern)
                .fetch_one(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                let users = rows.into_iter().map($crate::UserRow::into_user).collect::<Result<Vec<_>, _>>()?;
                Ok((users, u64::try_from(total).unwrap_or(0)))
            }

            #[::tracing::instrument(skip_all)]
            async fn audit_log(
                &self,
                page: ::tollgate_ports::Page,
            ) -> Result<
                (Vec<::tollgate_ports::AuditEntry>, u64),
                ::tollgate_ports::StoreError,
            > {
                let rows: Vec<$crate::AuditRow> = ::sqlx::query_as(
                    "SELECT id, actor, action, target_user_id, target_account_id, before, after, reason, request_id, at FROM audit_log \
                     ORDER BY seq DESC LIMIT $1 OFFSET $2",
                )
                .bind(i64::from(page.limit))
                .bind(i64::from(page.offset))
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                let total: i64 = ::sqlx::query_scalar("SELECT count(*) FROM audit_log")
                    .fetch_one(self.read_pool())
                    .await
                    .map_err($crate::store_error)?;
                let entries = rows.into_iter().map($crate::AuditRow::into_domain).collect::<Result<Vec<_>, _>>()?;
                Ok((entries, u64::try_from(total).unwrap_or(0)))
            }
        }
    };
}
