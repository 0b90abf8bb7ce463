use async_trait::async_trait;
use tollgate_domain::{Email, Subscription, User, UserId};
use tollgate_ports::outbound::{CreateUserError, PasswordHash, StoreError, UserCredentials, UserRepository};
use tollgate_store_sql::{is_unique_violation, store_error, to_micros, UserRecord};

use crate::subscriptions::insert_subscription;
use crate::SqliteStore;

macro_rules! select_user {
    ($tail:literal) => {
        concat!("SELECT id, email, fullname, role, password_hash, created_at FROM users ", $tail)
    };
}

#[async_trait]
impl UserRepository for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn create(
        &self,
        user: &User,
        hash: &PasswordHash,
        sub: &Subscription,
    ) -> Result<(), CreateUserError> {
        let r = UserRecord::from_domain(user, hash);
        let mut tx = self.write().await.map_err(store_error)?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, fullname, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(r.id)
        .bind(&r.email)
        .bind(&r.fullname)
        .bind(&r.role)
        .bind(&r.password_hash)
        .bind(to_micros(r.created_at))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(CreateUserError::DuplicateEmail),
            other => other.map_err(store_error)?,
        };
        insert_subscription(&mut tx, sub).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn find_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError> {
        let row: Option<UserRecord> = sqlx::query(select_user!("WHERE lower(email) = lower(?1)"))
            .bind(email.as_str())
            .try_map(|r| crate::rows::user(&r))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(UserRecord::into_credentials).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRecord> = sqlx::query(select_user!("WHERE id = ?1"))
            .bind(id.as_uuid())
            .try_map(|r| crate::rows::user(&r))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(UserRecord::into_user).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(self.find_credentials(email).await?.map(|c| c.user))
    }
}
