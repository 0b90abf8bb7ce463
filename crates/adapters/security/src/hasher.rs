use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use async_trait::async_trait;
use tollgate_domain::Password;
use tollgate_ports::outbound::{HashError, PasswordHash, PasswordHasher};

/// argon2id with the crate's default (OWASP-recommended) parameters. Hashing runs on the
/// blocking pool so it never stalls the async executor.
#[derive(Clone)]
pub struct Argon2Hasher {
    /// Hash of a random password, compared against when the email is unknown so both paths
    /// cost the same.
    dummy: Arc<String>,
}

impl Argon2Hasher {
    pub fn new() -> Result<Self, HashError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| HashError(e.to_string().into()))?;
        let dummy = Argon2::default().hash_password(&seed).map_err(|e| HashError(e.to_string().into()))?;
        Ok(Self { dummy: Arc::new(dummy.to_string()) })
    }
}

fn hash_error(e: impl std::fmt::Display) -> HashError {
    HashError(e.to_string().into())
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let secret = password.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(secret.as_bytes())
                .map(|h| PasswordHash(h.to_string()))
                .map_err(hash_error)
        })
        .await
        .map_err(hash_error)?
    }

    async fn verify(&self, password: &Password, hash: Option<PasswordHash>) -> Result<bool, HashError> {
        let secret = password.expose().to_owned();
        let (stored, real) = match hash {
            Some(h) => (h.0, true),
            None => (self.dummy.as_str().to_owned(), false),
        };
        tokio::task::spawn_blocking(move || {
            let parsed = Phc::new(&stored).map_err(hash_error)?;
            let matches = Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok();
            Ok(matches && real)
        })
        .await
        .map_err(hash_error)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = Argon2Hasher::new().expect("hasher");
        let password = Password::parse("correct horse battery").expect("valid");
        let hash = hasher.hash(&password).await.expect("hashed");
        assert!(hash.0.starts_with("$argon2id$"), "argon2id PHC string");
        assert!(hasher.verify(&password, Some(hash.clone())).await.expect("verified"));
        let wrong = Password::parse("wrong horse battery").expect("valid");
        assert!(!hasher.verify(&wrong, Some(hash)).await.expect("verified"));
    }

    #[tokio::test]
    async fn the_dummy_comparison_never_succeeds() {
        let hasher = Argon2Hasher::new().expect("hasher");
        let password = Password::parse("anything at all").expect("valid");
        assert!(!hasher.verify(&password, None).await.expect("verified"));
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = Argon2Hasher::new().expect("hasher");
        let password = Password::parse("correct horse battery").expect("valid");
        assert_ne!(hasher.hash(&password).await.expect("a"), hasher.hash(&password).await.expect("b"));
    }
}
