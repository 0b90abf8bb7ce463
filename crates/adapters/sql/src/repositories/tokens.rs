//! `RefreshTokenRepository`: hashes only, atomic rotation.

#[doc(hidden)]
#[macro_export]
macro_rules! __tokens {
    ($store:ty, $db:ty) => {
        async fn insert_refresh_token(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            t: &::tollgate_ports::RefreshTokenRecord,
        ) -> Result<(), ::sqlx::Error> {
            ::sqlx::query(
                "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, rotated_at, revoked_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(t.id)
            .bind(t.family_id)
            .bind(t.user_id.as_uuid())
            .bind(&t.token_hash)
            .bind($crate::Ts(t.expires_at))
            .bind(t.rotated_at.map($crate::Ts))
            .bind(t.revoked_at.map($crate::Ts))
            .bind($crate::Ts(t.created_at))
            .execute(conn)
            .await
            .map(|_| ())
        }

        #[::async_trait::async_trait]
        impl ::tollgate_ports::RefreshTokenRepository for $store {
            #[::tracing::instrument(skip_all)]
            async fn insert(
                &self,
                token: &::tollgate_ports::RefreshTokenRecord,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                let mut conn = self.write_pool().acquire().await.map_err($crate::store_error)?;
                insert_refresh_token(&mut conn, token).await.map_err($crate::store_error)
            }

            #[::tracing::instrument(skip_all)]
            async fn find_by_hash(
                &self,
                token_hash: &str,
            ) -> Result<Option<::tollgate_ports::RefreshTokenRecord>, ::tollgate_ports::StoreError>
            {
                let row: Option<$crate::RefreshTokenRow> = ::sqlx::query_as(
                    "SELECT id, family_id, user_id, token_hash, expires_at, rotated_at, revoked_at, created_at \
                     FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(row.map($crate::RefreshTokenRow::into_domain))
            }

            #[::tracing::instrument(skip_all)]
            async fn rotate(
                &self,
                old_id: ::uuid::Uuid,
                new: &::tollgate_ports::RefreshTokenRecord,
                at: ::time::OffsetDateTime,
            ) -> Result<::tollgate_ports::RotateOutcome, ::tollgate_ports::StoreError> {
                use ::tollgate_ports::RotateOutcome;
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let marked = ::sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
                )
                .bind(old_id)
                .bind($crate::Ts(at))
                .execute(&mut *tx)
                .await
                .map_err($crate::store_error)?;
                if marked.rows_affected() == 0 {
                    return Ok(RotateOutcome::AlreadyUsed);
                }
                insert_refresh_token(&mut tx, new).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(RotateOutcome::Rotated)
            }

            #[::tracing::instrument(skip_all)]
            async fn revoke_family(
                &self,
                family_id: ::uuid::Uuid,
                at: ::time::OffsetDateTime,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                ::sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
                    .bind(family_id)
                    .bind($crate::Ts(at))
                    .execute(self.write_pool())
                    .await
                    .map(|_| ())
                    .map_err($crate::store_error)
            }
        }
    };
}
