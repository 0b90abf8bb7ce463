//! Service keys (SPEC §7.2): created, listed and revoked by operators; presented by agent
//! backends as `Authorization: Bearer tgk_…`. A key is `tgk_` followed by 32 random bytes
//! (base64url), shown once; only its SHA-256 is stored. Keys are looked up on every request, so a
//! revocation holds at once on every replica.

use std::sync::Arc;

use crate::admin::Actor;
use crate::Failure;
use tollgate_ports::{
    AuditAction, AuditEntry, Clock, CreateServiceKeyError, IdGenerator, ServiceKey, ServiceKeyRepository,
    StoreError, TokenIssuer, LAST_USE_RESOLUTION,
};

/// Every service key starts with this.
pub const SERVICE_KEY_PREFIX: &str = "tgk_";

/// How many random characters after [`SERVICE_KEY_PREFIX`] are kept to tell keys apart (48 of the
/// key's 256 random bits; the rest stay secret).
pub const SHOWN_CHARACTERS: usize = 8;

/// A new key and the secret to hand over (never stored, never shown again).
#[derive(Clone)]
pub struct IssuedKey {
    pub key: ServiceKey,
    pub secret: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("key", &self.key).field("secret", &"[REDACTED]").finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    #[error("a name is 1–64 letters, digits, `.`, `_` or `-`")]
    InvalidName,
    #[error("a service key with this name exists")]
    NameTaken,
    #[error(transparent)]
    Failure(#[from] Failure),
}

/// A bearer that is not an active service key.
#[derive(Debug, thiserror::Error)]
pub enum KeyAuthError {
    #[error("not a valid service key")]
    Invalid,
    #[error(transparent)]
    Failure(#[from] Failure),
}

pub struct ServiceKeyService {
    /// When this process last recorded each key's use: one write per key per
    /// [`LAST_USE_RESOLUTION`] from here, however many requests find the stored time old.
    touched: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, tollgate_domain::Timestamp>>,
    keys: Arc<dyn ServiceKeyRepository>,
    secrets: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl ServiceKeyService {
    pub fn new(
        keys: Arc<dyn ServiceKeyRepository>,
        secrets: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self { touched: std::sync::Mutex::default(), keys, secrets, clock, ids }
    }

    /// Creates a key named `name`; the returned secret is the only copy.
    /// Creates a key named `name`, audited as done by `actor`.
    pub async fn create(&self, name: &str, actor: &Actor) -> Result<IssuedKey, CreateKeyError> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(CreateKeyError::InvalidName);
        }
        // Opaque secrets share one generator and hash with refresh tokens.
        let secret = format!("{SERVICE_KEY_PREFIX}{}", self.secrets.new_refresh_token().token);
        let key = ServiceKey {
            id: self.ids.new_id(),
            name: name.to_owned(),
            key_hash: self.secrets.hash_refresh_token(&secret),
            created_at: self.clock.now(),
            revoked_at: None,
            prefix: Some(secret.chars().take(SERVICE_KEY_PREFIX.len() + SHOWN_CHARACTERS).collect()),
            last_used_at: None,
        };
        let entry = self.audit(actor, AuditAction::CreateKey, None, Some(&key.name));
        match self.keys.create(&key, &entry).await {
            Ok(()) => Ok(IssuedKey { key, secret }),
            Err(CreateServiceKeyError::DuplicateName) => Err(CreateKeyError::NameTaken),
            Err(CreateServiceKeyError::Store(e)) => Err(Failure::from(e).into()),
        }
    }

    pub async fn list(&self) -> Result<Vec<ServiceKey>, Failure> {
        Ok(self.keys.list().await?)
    }

    /// Revokes the named key; `false` when there is none.
    /// Revokes the key named `name`, audited as done by `actor`.
    pub async fn revoke(&self, name: &str, actor: &Actor) -> Result<bool, Failure> {
        let name = name.trim();
        let entry = self.audit(actor, AuditAction::RevokeKey, Some(name), None);
        Ok(self.keys.revoke(name, self.clock.now(), &entry).await?)
    }

    /// Whether this request records the key's use: the first to ask in a window does.
    fn claim_touch(
        &self,
        id: uuid::Uuid,
        now: tollgate_domain::Timestamp,
        not_before: tollgate_domain::Timestamp,
    ) -> bool {
        let Ok(mut touched) = self.touched.lock() else { return false };
        if touched.get(&id).is_some_and(|at| *at >= not_before) {
            return false;
        }
        touched.insert(id, now);
        true
    }

    /// The audit entry of a key change: the key's name before (revoke) or after (create).
    fn audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        before: Option<&str>,
        after: Option<&str>,
    ) -> AuditEntry {
        let named = |name: &str| serde_json::json!({ "service_key": name });
        AuditEntry {
            id: self.ids.new_id(),
            actor: actor.name.clone(),
            action,
            target_user_id: None,
            target_account_id: None,
            before: before.map(named),
            after: after.map(named),
            reason: None,
            request_id: actor.request_id.clone(),
            at: self.clock.now(),
        }
    }

    /// The active key presented as a bearer token.
    pub async fn authenticate(&self, bearer: &str) -> Result<ServiceKey, KeyAuthError> {
        if !bearer.starts_with(SERVICE_KEY_PREFIX) {
            return Err(KeyAuthError::Invalid);
        }
        let hash = self.secrets.hash_refresh_token(bearer);
        let key = self
            .keys
            .find_active(&hash)
            .await
            .map_err(|e: StoreError| Failure::from(e))?
            .ok_or(KeyAuthError::Invalid)?;
        // The last use, at most once a minute per key: an operator's answer to "is this key still
        // used?", not an access log. A failure to record it never refuses the request.
        let now = self.clock.now();
        let not_before = now - LAST_USE_RESOLUTION;
        if key.last_used_at.is_none_or(|used| used < not_before) && self.claim_touch(key.id, now, not_before)
        {
            if let Err(e) = self.keys.touch(key.id, now, not_before).await {
                tracing::warn!(error = %e, key = %key.name, "could not record the service key's last use");
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::test_support as ts;
    use tollgate_ports::{MockServiceKeyRepository, MockTokenIssuer, NewRefreshToken};

    fn issuer() -> MockTokenIssuer {
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_new_refresh_token().returning(|| NewRefreshToken {
            token: "R4nd0mR4nd0mR4nd0mR4nd0m".into(),
            hash: "unused".into(),
        });
        issuer
            .expect_hash_refresh_token()
            .returning(|t| format!("hash-of-{}-chars:{}", t.len(), t.starts_with("tgk_good")));
        issuer
    }

    fn service(keys: MockServiceKeyRepository) -> ServiceKeyService {
        ServiceKeyService::new(Arc::new(keys), Arc::new(issuer()), ts::clock(), ts::ids())
    }

    #[tokio::test]
    async fn a_key_is_stored_as_a_hash_and_its_secret_returned_once() {
        let mut keys = MockServiceKeyRepository::new();
        keys.expect_create()
            .withf(|k, audit| {
                k.name == "agents"
                    && k.key_hash == "hash-of-28-chars:false"
                    && k.revoked_at.is_none()
                    && k.prefix.as_deref() == Some("tgk_R4nd0mR4")
                    && audit.action == AuditAction::CreateKey
                    && audit.actor == "cli:ops"
                    && audit.after == Some(serde_json::json!({ "service_key": "agents" }))
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let issued = service(keys).create(" agents ", &Actor::cli("ops")).await.expect("created");
        assert_eq!(issued.secret, "tgk_R4nd0mR4nd0mR4nd0mR4nd0m");
        assert!(!format!("{issued:?}").contains("tgk_R4nd0mR4nd0m"), "the secret is not printed");
    }

    #[tokio::test]
    async fn bad_and_taken_names_are_refused() {
        let mut keys = MockServiceKeyRepository::new();
        keys.expect_create().returning(|_, _| Err(CreateServiceKeyError::DuplicateName));
        let service = service(keys);
        for bad in ["", "has space", &"x".repeat(65), "naïve"] {
            assert!(
                matches!(service.create(bad, &Actor::cli("ops")).await, Err(CreateKeyError::InvalidName)),
                "{bad}"
            );
        }
        assert!(matches!(service.create("taken", &Actor::cli("ops")).await, Err(CreateKeyError::NameTaken)));
    }

    #[tokio::test]
    async fn only_an_active_key_with_the_prefix_authenticates() {
        let mut keys = MockServiceKeyRepository::new();
        keys.expect_find_active().with(eq("hash-of-8-chars:true")).returning(|_| {
            Ok(Some(ServiceKey {
                id: uuid::Uuid::nil(),
                name: "agents".into(),
                key_hash: "hash-of-8-chars:true".into(),
                created_at: ts::NOW,
                revoked_at: None,
                prefix: Some("tgk_good".into()),
                last_used_at: None,
            }))
        });
        keys.expect_find_active().returning(|_| Ok(None));
        keys.expect_touch().times(1).returning(|_, _, _| Ok(()));
        let service = service(keys);
        assert_eq!(service.authenticate("tgk_good").await.expect("valid").name, "agents");
        assert!(matches!(service.authenticate("tgk_revoked").await, Err(KeyAuthError::Invalid)));
        assert!(matches!(service.authenticate("eyJhbGciOi.user.token").await, Err(KeyAuthError::Invalid)));
    }

    #[tokio::test]
    async fn the_last_use_is_written_at_most_once_a_minute_and_never_refuses_a_request() {
        let key = |last_used_at| ServiceKey {
            id: uuid::Uuid::nil(),
            name: "agents".into(),
            key_hash: "hash-of-8-chars:true".into(),
            created_at: ts::NOW - time::Duration::days(1),
            revoked_at: None,
            prefix: None,
            last_used_at,
        };
        // Used 30 s ago: nothing is written.
        let mut keys = MockServiceKeyRepository::new();
        let recent = key(Some(ts::NOW - time::Duration::seconds(30)));
        keys.expect_find_active().returning(move |_| Ok(Some(recent.clone())));
        keys.expect_touch().never();
        assert!(service(keys).authenticate("tgk_good").await.is_ok());
        // Used 2 minutes ago: written with the window's start; a store failure still authenticates.
        let mut keys = MockServiceKeyRepository::new();
        let stale = key(Some(ts::NOW - time::Duration::minutes(2)));
        keys.expect_find_active().returning(move |_| Ok(Some(stale.clone())));
        keys.expect_touch()
            .with(eq(uuid::Uuid::nil()), eq(ts::NOW), eq(ts::NOW - LAST_USE_RESOLUTION))
            .times(1)
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        let service = service(keys);
        assert!(service.authenticate("tgk_good").await.is_ok());
        // Requests that still read the old time do not write again from this process.
        assert!(service.authenticate("tgk_good").await.is_ok());
    }
}
