//! `UserRepository`.

#[doc(hidden)]
#[macro_export]
macro_rules! __users {
    ($store:ty, $db:ty) => {
        #[::async_trait::async_trait]
        impl ::tollgate_ports::UserRepository for $store {
            #[::tracing::instrument(skip_all)]
            async fn create(
                &self,
                user: &::tollgate_domain::User,
                hash: &::tollgate_ports::PasswordHash,
                sub: &::tollgate_domain::Subscription,
            ) -> Result<(), ::tollgate_ports::CreateUserError> {
                use ::tollgate_ports::CreateUserError;
                let r = $crate::UserRow::from_domain(user, hash);
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let inserted = ::sqlx::query(
                    "INSERT INTO users (id, email, fullname, role, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(r.id)
                .bind(&r.email)
                .bind(&r.fullname)
                .bind(&r.role)
                .bind(&r.password_hash)
                .bind(r.created_at)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if $crate::is_unique_violation(&e) => return Err(CreateUserError::DuplicateEmail),
                    other => other.map_err($crate::store_error)?,
                };
                // The user's personal account, with them as its owner, takes the subscription.
                insert_account(&mut tx, &::tollgate_domain::Account::personal(user))
                    .await
                    .map_err($crate::store_error)?;
                insert_member(
                    &mut tx,
                    ::tollgate_domain::AccountId::personal(user.id),
                    user.id,
                    ::tollgate_domain::MemberRole::Owner,
                    user.created_at,
                )
                .await
                .map_err($crate::store_error)?;
                insert_subscription(&mut tx, sub).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(())
            }

            #[::tracing::instrument(skip_all)]
            async fn find_credentials(
                &self,
                email: &::tollgate_domain::Email,
            ) -> Result<Option<::tollgate_ports::UserCredentials>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::UserRow> =
                    ::sqlx::query_as($crate::__select_user!("WHERE lower(email) = lower($1)"))
                        .bind(email.as_str())
                        .fetch_optional(self.read_pool())
                        .await
                        .map_err($crate::store_error)?;
                row.map($crate::UserRow::into_credentials).transpose()
            }

            #[::tracing::instrument(skip_all)]
            async fn find_by_id(
                &self,
                id: ::tollgate_domain::UserId,
            ) -> Result<Option<::tollgate_domain::User>, ::tollgate_ports::StoreError> {
                let row: Option<$crate::UserRow> = ::sqlx::query_as($crate::__select_user!("WHERE id = $1"))
                    .bind(id.as_uuid())
                    .fetch_optional(self.read_pool())
                    .await
                    .map_err($crate::store_error)?;
                row.map($crate::UserRow::into_user).transpose()
            }

            #[::tracing::instrument(skip_all)]
            async fn find_by_email(
                &self,
                email: &::tollgate_domain::Email,
            ) -> Result<Option<::tollgate_domain::User>, ::tollgate_ports::StoreError> {
                Ok(self.find_credentials(email).await?.map(|c| c.user))
            }
        }
    };
}
