//! `ServiceKeyRepository`.

#[doc(hidden)]
#[macro_export]
macro_rules! __service_keys {
    ($store:ty, $db:ty) => {
        #[::async_trait::async_trait]
        impl ::tollgate_ports::ServiceKeyRepository for $store {
            #[::tracing::instrument(skip_all, fields(name = %key.name))]
            async fn create(
                &self,
                key: &::tollgate_ports::ServiceKey,
                entry: &::tollgate_ports::AuditEntry,
            ) -> Result<(), ::tollgate_ports::CreateServiceKeyError> {
                use ::tollgate_ports::CreateServiceKeyError;
                let failed = |e| CreateServiceKeyError::Store($crate::store_error(e));
                let mut tx = self.write().await.map_err(failed)?;
                let inserted = ::sqlx::query(
                    "INSERT INTO service_keys (id, name, key_hash, created_at, revoked_at, prefix) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(key.id)
                .bind(&key.name)
                .bind(&key.key_hash)
                .bind($crate::Ts(key.created_at))
                .bind(key.revoked_at.map($crate::Ts))
                .bind(&key.prefix)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if $crate::is_unique_violation(&e) => return Err(CreateServiceKeyError::DuplicateName),
                    Err(e) => return Err(failed(e)),
                }
                insert_audit(&mut tx, entry).await.map_err(failed)?;
                tx.commit().await.map_err(failed)
            }

            #[::tracing::instrument(skip_all)]
            async fn list(
                &self,
            ) -> Result<Vec<::tollgate_ports::ServiceKey>, ::tollgate_ports::StoreError> {
                let rows: Vec<$crate::ServiceKeyRow> = ::sqlx::query_as(
                    "SELECT id, name, key_hash, created_at, revoked_at, prefix, last_used_at FROM service_keys ORDER BY created_at, name",
                )
                .fetch_all(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(rows.into_iter().map($crate::ServiceKeyRow::into_domain).collect())
            }

            #[::tracing::instrument(skip_all)]
            async fn revoke(
                &self,
                name: &str,
                at: ::time::OffsetDateTime,
                entry: &::tollgate_ports::AuditEntry,
            ) -> Result<bool, ::tollgate_ports::StoreError> {
                let mut tx = self.write().await.map_err($crate::store_error)?;
                let found = ::sqlx::query("UPDATE service_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE name = $1")
                    .bind(name)
                    .bind($crate::Ts(at))
                    .execute(&mut *tx)
                    .await
                    .map(|done| done.rows_affected() == 1)
                    .map_err($crate::store_error)?;
                if !found {
                    return Ok(false);
                }
                insert_audit(&mut tx, entry).await.map_err($crate::store_error)?;
                tx.commit().await.map_err($crate::store_error)?;
                Ok(true)
            }

            #[::tracing::instrument(skip_all)]
            async fn find_active(
                &self,
                key_hash: &str,
            ) -> Result<Option<::tollgate_ports::ServiceKey>, ::tollgate_ports::StoreError>
            {
                let row: Option<$crate::ServiceKeyRow> = ::sqlx::query_as(
                    "SELECT id, name, key_hash, created_at, revoked_at, prefix, last_used_at FROM service_keys \
                     WHERE key_hash = $1 AND revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional(self.read_pool())
                .await
                .map_err($crate::store_error)?;
                Ok(row.map($crate::ServiceKeyRow::into_domain))
            }

            #[::tracing::instrument(skip_all)]
            async fn touch(
                &self,
                id: ::uuid::Uuid,
                at: ::time::OffsetDateTime,
                not_before: ::time::OffsetDateTime,
            ) -> Result<(), ::tollgate_ports::StoreError> {
                // One statement: no transaction of its own (as every single-statement write).
                ::sqlx::query(
                    "UPDATE service_keys SET last_used_at = $2 \
                     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .bind(id)
                .bind($crate::Ts(at))
                .bind($crate::Ts(not_before))
                .execute(self.write_pool())
                .await
                .map(|_| ())
                .map_err($crate::store_error)
            }
        }
    };
}
