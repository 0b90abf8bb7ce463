//! Registration, login, token refresh with rotation, logout.

use std::sync::Arc;

use tollgate_domain::{
    AccountId, Email, FullName, Password, Role, Subscription, SubscriptionId, Timestamp, User, UserId,
};
use uuid::Uuid;

use crate::Failure;
use tollgate_ports::{
    AccessClaims, AccessToken, Clock, CreateUserError, IdGenerator, PasswordHasher, RefreshTokenRecord,
    RefreshTokenRepository, RotateOutcome, TokenError, TokenIssuer, UserRepository,
};

/// A validated registration.
#[derive(Debug, Clone)]
pub struct Registration {
    pub fullname: FullName,
    pub email: Email,
    pub password: Password,
}

/// Tokens handed to a client.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: AccessToken,
    pub refresh_token: String,
}

/// A signed-in user with their tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub tokens: TokenPair,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error(transparent)]
    Failure(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email or wrong password: deliberately the same.
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error(transparent)]
    Failure(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or reused (a reuse also revokes the whole family).
    #[error("the refresh token is not valid")]
    InvalidToken,
    /// Reused within the reuse grace window after its rotation (another tab refreshed first):
    /// refused, but nothing is revoked.
    #[error("the refresh token was just rotated")]
    RecentlyRotated,
    #[error(transparent)]
    Failure(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum MeError {
    #[error("the user no longer exists")]
    NotFound,
    #[error(transparent)]
    Failure(#[from] Failure),
}

pub struct AuthService {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    clock: Arc<dyn tollgate_domain::Clock>,
    ids: Arc<dyn IdGenerator>,
    reuse_grace: time::Duration,
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn RefreshTokenRepository>,
        hasher: Arc<dyn PasswordHasher>,
        issuer: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { users, tokens, hasher, issuer, clock, ids, reuse_grace: time::Duration::ZERO }
    }

    /// A rotated refresh token presented again within `grace` of its rotation is refused
    /// without revoking its family (two tabs refreshing at once); later reuse revokes it.
    pub fn with_reuse_grace(mut self, grace: time::Duration) -> Self {
        self.reuse_grace = grace;
        self
    }

    /// Creates the user and their free subscription atomically, and signs them in.
    pub async fn register(&self, registration: Registration) -> Result<SignedIn, RegisterError> {
        let now = self.clock.now();
        let hash = self.hasher.hash(&registration.password).await.map_err(Failure::from)?;
        let user = User {
            id: UserId::from_uuid(self.ids.new_id()),
            fullname: registration.fullname,
            email: registration.email,
            role: Role::User,
            created_at: now,
        };
        let subscription = Subscription::new_free(
            SubscriptionId::from_uuid(self.ids.new_id()),
            AccountId::personal(user.id),
            now,
        );
        self.users.create(&user, &hash, &subscription).await.map_err(|e| match e {
            CreateUserError::DuplicateEmail => RegisterError::EmailTaken,
            CreateUserError::Store(e) => RegisterError::Failure(e.into()),
        })?;
        let tokens = self.issue(&user, self.ids.new_id()).await?;
        Ok(SignedIn { user, tokens })
    }

    /// Checks the credentials. An unknown or malformed email costs the same hashing time as a
    /// wrong password and gives the same error.
    pub async fn login(&self, email: &str, password: &str) -> Result<SignedIn, LoginError> {
        let password = Password::parse(password).ok();
        let credentials = match Email::parse(email) {
            Ok(email) => self.users.find_credentials(&email).await.map_err(Failure::from)?,
            Err(_) => None,
        };
        let hash = credentials.as_ref().map(|c| c.password_hash.clone());
        let verified = match &password {
            Some(password) => self.hasher.verify(password, hash).await.map_err(Failure::from)?,
            None => {
                // Outside the policy, so certainly wrong; still spend the hashing time.
                let filler = Password::parse("x".repeat(Password::MIN_CHARS))
                    .map_err(|_| Failure::internal("filler"))?;
                let _ = self.hasher.verify(&filler, None).await;
                false
            }
        };
        match credentials {
            Some(credentials) if verified => {
                let tokens = self.issue(&credentials.user, self.ids.new_id()).await?;
                Ok(SignedIn { user: credentials.user, tokens })
            }
            _ => Err(LoginError::InvalidCredentials),
        }
    }

    /// Exchanges a refresh token for a new pair. The old token stops working; presenting a
    /// token that was already exchanged revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.clock.now();
        let hash = self.issuer.hash_refresh_token(refresh_token);
        let record = self
            .tokens
            .find_by_hash(&hash)
            .await
            .map_err(Failure::from)?
            .ok_or(RefreshError::InvalidToken)?;
        if record.rotated_at.is_some() || record.revoked_at.is_some() {
            return Err(self.reused(&record, now).await?);
        }
        if now >= record.expires_at {
            return Err(RefreshError::InvalidToken);
        }
        let user = self
            .users
            .find_by_id(record.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(RefreshError::InvalidToken)?;
        let fresh = self.issuer.new_refresh_token();
        let next = self.record(&user, record.family_id, &fresh.hash);
        match self.tokens.rotate(record.id, &next, now).await.map_err(Failure::from)? {
            RotateOutcome::Rotated => {}
            RotateOutcome::AlreadyUsed => {
                // A concurrent use got there first: judge the token as it is now.
                let current = self.tokens.find_by_hash(&hash).await.map_err(Failure::from)?;
                return Err(self.reused(current.as_ref().unwrap_or(&record), now).await?);
            }
        }
        let access = self.issuer.issue_access(user.id, user.role).map_err(token_failure)?;
        Ok(TokenPair { access, refresh_token: fresh.token })
    }

    /// A token that was already rotated or revoked was presented: within the grace window after
    /// its rotation nothing is revoked; otherwise its whole family is.
    async fn reused(&self, record: &RefreshTokenRecord, now: Timestamp) -> Result<RefreshError, Failure> {
        let recent = record.revoked_at.is_none()
            && record.rotated_at.is_some_and(|rotated| now < rotated + self.reuse_grace);
        if recent {
            return Ok(RefreshError::RecentlyRotated);
        }
        self.tokens.revoke_family(record.family_id, now).await?;
        Ok(RefreshError::InvalidToken)
    }

    /// The user a page session's refresh token signs in, without rotating it: the token must be
    /// current (not rotated, revoked or expired). Pages keep one token per sign-in (their cookie);
    /// a token the API rotated no longer opens a page.
    pub async fn session(&self, refresh_token: &str) -> Result<Option<User>, Failure> {
        let hash = self.issuer.hash_refresh_token(refresh_token);
        let Some(record) = self.tokens.find_by_hash(&hash).await? else {
            return Ok(None);
        };
        let current = record.rotated_at.is_none()
            && record.revoked_at.is_none()
            && self.clock.now() < record.expires_at;
        if !current {
            return Ok(None);
        }
        Ok(self.users.find_by_id(record.user_id).await?)
    }

    /// Revokes the family of `refresh_token` when it belongs to `user`. Unknown tokens are ignored.
    pub async fn logout(&self, user: UserId, refresh_token: Option<&str>) -> Result<(), Failure> {
        let Some(token) = refresh_token else {
            return Ok(());
        };
        let hash = self.issuer.hash_refresh_token(token);
        if let Some(record) = self.tokens.find_by_hash(&hash).await?.filter(|r| r.user_id == user) {
            self.tokens.revoke_family(record.family_id, self.clock.now()).await?;
        }
        Ok(())
    }

    pub async fn me(&self, user: UserId) -> Result<User, MeError> {
        self.users.find_by_id(user).await.map_err(Failure::from)?.ok_or(MeError::NotFound)
    }

    /// Checks a bearer access token.
    pub fn authenticate(&self, bearer: &str) -> Result<AccessClaims, TokenError> {
        self.issuer.verify_access(bearer)
    }

    async fn issue(&self, user: &User, family: Uuid) -> Result<TokenPair, Failure> {
        let access = self.issuer.issue_access(user.id, user.role).map_err(token_failure)?;
        let fresh = self.issuer.new_refresh_token();
        self.tokens.insert(&self.record(user, family, &fresh.hash)).await?;
        Ok(TokenPair { access, refresh_token: fresh.token })
    }

    fn record(&self, user: &User, family_id: Uuid, hash: &str) -> RefreshTokenRecord {
        let now = self.clock.now();
        RefreshTokenRecord {
            id: self.ids.new_id(),
            family_id,
            user_id: user.id,
            token_hash: hash.to_owned(),
            expires_at: now + self.issuer.refresh_ttl(),
            rotated_at: None,
            revoked_at: None,
            created_at: now,
        }
    }
}

fn token_failure(e: TokenError) -> Failure {
    Failure::Internal(Box::new(e))
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
