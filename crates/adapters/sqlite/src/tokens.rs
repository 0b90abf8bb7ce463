use async_trait::async_trait;
use time::OffsetDateTime;
use tollgate_ports::outbound::{RefreshTokenRecord, RefreshTokenRepository, RotateOutcome, StoreError};
use tollgate_store_sql::{store_error, to_micros, RefreshTokenRow};
use uuid::Uuid;

use crate::SqliteStore;

async fn insert(conn: &mut sqlx::SqliteConnection, t: &RefreshTokenRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, rotated_at, revoked_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(t.id)
    .bind(t.family_id)
    .bind(t.user_id.as_uuid())
    .bind(&t.token_hash)
    .bind(to_micros(t.expires_at))
    .bind(t.rotated_at.map(to_micros))
    .bind(t.revoked_at.map(to_micros))
    .bind(to_micros(t.created_at))
    .execute(conn)
    .await
    .map(|_| ())
}

#[async_trait]
impl RefreshTokenRepository for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn insert(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(store_error)?;
        insert(&mut conn, token).await.map_err(store_error)
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let row: Option<RefreshTokenRow> = sqlx::query(
            "SELECT id, family_id, user_id, token_hash, expires_at, rotated_at, revoked_at, created_at \
             FROM refresh_tokens WHERE token_hash = ?1",
        )
        .bind(token_hash)
        .try_map(|r| crate::rows::token(&r))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.map(RefreshTokenRow::into_domain))
    }

    #[tracing::instrument(skip_all)]
    async fn rotate(
        &self,
        old_id: Uuid,
        new: &RefreshTokenRecord,
        at: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.write().await.map_err(store_error)?;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ?2 WHERE id = ?1 AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(old_id)
        .bind(to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if marked.rows_affected() == 0 {
            return Ok(RotateOutcome::AlreadyUsed);
        }
        insert(&mut tx, new).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(RotateOutcome::Rotated)
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_family(&self, family_id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL")
            .bind(family_id)
            .bind(to_micros(at))
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}
