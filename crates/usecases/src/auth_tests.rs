use std::sync::Arc;

use mockall::predicate::eq;
use time::Duration;
use tollgate_domain::{Email, FullName, Password, PlanId, Role, SubscriptionStatus};
use uuid::Uuid;

use super::*;
use crate::test_support::{self as ts, outage, NOW};
use tollgate_ports::{
    MockPasswordHasher, MockRefreshTokenRepository, MockTokenIssuer, MockUserRepository, NewRefreshToken,
    PasswordHash, RefreshTokenRecord, RotateOutcome, UserCredentials,
};

struct Mocks {
    users: MockUserRepository,
    tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
    issuer: MockTokenIssuer,
}

impl Mocks {
    fn new() -> Self {
        let mut issuer = MockTokenIssuer::new();
        issuer
            .expect_issue_access()
            .returning(|_, _| Ok(AccessToken { token: "access".into(), expires_in_secs: 900 }));
        issuer
            .expect_new_refresh_token()
            .returning(|| NewRefreshToken { token: "refresh-new".into(), hash: "hash-new".into() });
        issuer.expect_hash_refresh_token().returning(|t| format!("hash-of-{t}"));
        issuer.expect_refresh_ttl().returning(|| Duration::days(30));
        Self {
            users: MockUserRepository::new(),
            tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
            issuer,
        }
    }

    fn service(self) -> AuthService {
        AuthService::new(
            Arc::new(self.users),
            Arc::new(self.tokens),
            Arc::new(self.hasher),
            Arc::new(self.issuer),
            ts::clock(),
            ts::ids(),
        )
    }
}

fn registration() -> Registration {
    Registration {
        fullname: FullName::parse("Ada Lovelace").expect("valid"),
        email: Email::parse("ada@example.com").expect("valid"),
        password: Password::parse("correct horse").expect("valid"),
    }
}

fn stored_token(rotated: bool, revoked: bool, expires_in: Duration) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: Uuid::from_u128(77),
        family_id: Uuid::from_u128(99),
        user_id: ts::user_id(),
        token_hash: "hash-of-refresh-old".into(),
        expires_at: NOW + expires_in,
        rotated_at: rotated.then_some(NOW),
        revoked_at: revoked.then_some(NOW),
        created_at: NOW,
    }
}

#[tokio::test]
async fn register_creates_the_user_and_a_free_subscription_in_one_call_and_signs_in() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok(PasswordHash("$argon2id$x".into())));
    m.users
        .expect_create()
        .withf(|user, hash, sub| {
            user.email.as_str() == "ada@example.com"
                && user.role == Role::User
                && hash.0 == "$argon2id$x"
                && sub.account_id() == tollgate_domain::AccountId::personal(user.id)
                && sub.plan() == PlanId::Free
                && sub.status() == SubscriptionStatus::Active
                && sub.period().start() == NOW
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    m.tokens
        .expect_insert()
        .withf(|t| t.token_hash == "hash-new" && t.expires_at == NOW + Duration::days(30))
        .times(1)
        .returning(|_| Ok(()));
    let signed_in = m.service().register(registration()).await.expect("registered");
    assert_eq!(signed_in.tokens.refresh_token, "refresh-new");
    assert_eq!(signed_in.tokens.access.token, "access");
}

#[tokio::test]
async fn register_with_a_taken_email_is_email_taken_and_issues_no_token() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok(PasswordHash("h".into())));
    m.users.expect_create().returning(|_, _, _| Err(CreateUserError::DuplicateEmail));
    m.tokens.expect_insert().times(0);
    assert!(matches!(m.service().register(registration()).await, Err(RegisterError::EmailTaken)));
}

#[tokio::test]
async fn register_during_a_store_outage_is_unavailable() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().returning(|_| Ok(PasswordHash("h".into())));
    m.users.expect_create().returning(|_, _, _| Err(CreateUserError::Store(outage())));
    assert!(matches!(
        m.service().register(registration()).await,
        Err(RegisterError::Failure(Failure::Unavailable(_)))
    ));
}

fn with_credentials(m: &mut Mocks) {
    m.users.expect_find_credentials().returning(|email| {
        Ok((email.as_str() == "ada@example.com")
            .then(|| UserCredentials { user: ts::user(), password_hash: PasswordHash("stored".into()) }))
    });
}

#[tokio::test]
async fn login_with_the_right_password_signs_in() {
    let mut m = Mocks::new();
    with_credentials(&mut m);
    m.hasher
        .expect_verify()
        .withf(|p, h| p.expose() == "correct horse" && h.as_ref().map(|h| h.0.as_str()) == Some("stored"))
        .returning(|_, _| Ok(true));
    m.tokens.expect_insert().times(1).returning(|_| Ok(()));
    let signed_in = m.service().login("  ADA@example.com ", "correct horse").await.expect("signed in");
    assert_eq!(signed_in.user.id, ts::user_id());
}

#[tokio::test]
async fn login_with_a_wrong_password_is_invalid_credentials() {
    let mut m = Mocks::new();
    with_credentials(&mut m);
    m.hasher.expect_verify().returning(|_, _| Ok(false));
    m.tokens.expect_insert().times(0);
    assert!(matches!(
        m.service().login("ada@example.com", "wrong password").await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn login_with_an_unknown_email_still_hashes_and_fails_the_same_way() {
    let mut m = Mocks::new();
    with_credentials(&mut m);
    // The dummy comparison runs (hash = None), so the time matches a wrong password.
    m.hasher.expect_verify().withf(|_, h| h.is_none()).times(1).returning(|_, _| Ok(false));
    assert!(matches!(
        m.service().login("nobody@example.com", "whatever1").await,
        Err(LoginError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn login_with_a_malformed_email_or_short_password_is_the_same_invalid_credentials() {
    let mut m = Mocks::new();
    with_credentials(&mut m);
    m.hasher.expect_verify().withf(|_, h| h.is_none()).times(2).returning(|_, _| Ok(false));
    let service = m.service();
    assert!(matches!(service.login("not-an-email", "whatever1").await, Err(LoginError::InvalidCredentials)));
    assert!(matches!(service.login("ada@example.com", "short").await, Err(LoginError::InvalidCredentials)));
}

#[tokio::test]
async fn refresh_rotates_the_token_within_its_family() {
    let mut m = Mocks::new();
    m.tokens
        .expect_find_by_hash()
        .with(eq("hash-of-refresh-old"))
        .returning(|_| Ok(Some(stored_token(false, false, Duration::days(1)))));
    m.users.expect_find_by_id().returning(|_| Ok(Some(ts::user())));
    m.tokens
        .expect_rotate()
        .withf(|old, new, _| {
            *old == Uuid::from_u128(77)
                && new.family_id == Uuid::from_u128(99)
                && new.token_hash == "hash-new"
        })
        .times(1)
        .returning(|_, _, _| Ok(RotateOutcome::Rotated));
    m.tokens.expect_revoke_family().times(0);
    let pair = m.service().refresh("refresh-old").await.expect("rotated");
    assert_eq!(pair.refresh_token, "refresh-new");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_its_whole_family() {
    let mut m = Mocks::new();
    m.tokens.expect_find_by_hash().returning(|_| Ok(Some(stored_token(true, false, Duration::days(1)))));
    m.tokens.expect_revoke_family().with(eq(Uuid::from_u128(99)), eq(NOW)).times(1).returning(|_, _| Ok(()));
    m.tokens.expect_rotate().times(0);
    assert!(matches!(m.service().refresh("refresh-old").await, Err(RefreshError::InvalidToken)));
}

#[tokio::test]
async fn reusing_a_token_rotated_within_the_grace_window_is_refused_without_revoking_anything() {
    let mut m = Mocks::new();
    // Rotated at NOW - 5 s; the grace window is 10 s.
    let mut record = stored_token(true, false, Duration::days(1));
    record.rotated_at = Some(NOW - Duration::seconds(5));
    m.tokens.expect_find_by_hash().returning(move |_| Ok(Some(record.clone())));
    m.tokens.expect_revoke_family().times(0);
    m.tokens.expect_rotate().times(0);
    let service = m.service().with_reuse_grace(Duration::seconds(10));
    assert!(matches!(service.refresh("refresh-old").await, Err(RefreshError::RecentlyRotated)));
}

#[tokio::test]
async fn reusing_a_token_after_the_grace_window_revokes_its_family() {
    let mut m = Mocks::new();
    let mut record = stored_token(true, false, Duration::days(1));
    record.rotated_at = Some(NOW - Duration::seconds(10));
    m.tokens.expect_find_by_hash().returning(move |_| Ok(Some(record.clone())));
    m.tokens.expect_revoke_family().times(1).returning(|_, _| Ok(()));
    let service = m.service().with_reuse_grace(Duration::seconds(10));
    assert!(matches!(service.refresh("refresh-old").await, Err(RefreshError::InvalidToken)));
}

#[tokio::test]
async fn losing_a_concurrent_rotation_within_the_grace_window_revokes_nothing() {
    let mut m = Mocks::new();
    let mut seen = 0;
    m.tokens.expect_find_by_hash().returning(move |_| {
        seen += 1;
        // First read: not yet rotated; after losing the race: rotated just now by the winner.
        Ok(Some(stored_token(seen > 1, false, Duration::days(1))))
    });
    m.users.expect_find_by_id().returning(|_| Ok(Some(ts::user())));
    m.tokens.expect_rotate().returning(|_, _, _| Ok(RotateOutcome::AlreadyUsed));
    m.tokens.expect_revoke_family().times(0);
    let service = m.service().with_reuse_grace(Duration::seconds(10));
    assert!(matches!(service.refresh("refresh-old").await, Err(RefreshError::RecentlyRotated)));
}

#[tokio::test]
async fn losing_a_concurrent_rotation_counts_as_reuse_and_revokes_the_family() {
    let mut m = Mocks::new();
    m.tokens.expect_find_by_hash().returning(|_| Ok(Some(stored_token(false, false, Duration::days(1)))));
    m.users.expect_find_by_id().returning(|_| Ok(Some(ts::user())));
    m.tokens.expect_rotate().returning(|_, _, _| Ok(RotateOutcome::AlreadyUsed));
    m.tokens.expect_revoke_family().times(1).returning(|_, _| Ok(()));
    assert!(matches!(m.service().refresh("refresh-old").await, Err(RefreshError::InvalidToken)));
}

#[tokio::test]
async fn expired_revoked_and_unknown_refresh_tokens_are_refused() {
    for record in [
        Some(stored_token(false, false, Duration::ZERO)),
        Some(stored_token(false, true, Duration::days(1))),
        None,
    ] {
        let mut m = Mocks::new();
        m.tokens.expect_find_by_hash().returning(move |_| Ok(record.clone()));
        m.tokens.expect_revoke_family().returning(|_, _| Ok(()));
        m.tokens.expect_rotate().times(0);
        assert!(matches!(m.service().refresh("refresh-old").await, Err(RefreshError::InvalidToken)));
    }
}

#[tokio::test]
async fn logout_revokes_the_family_of_the_callers_own_token_only() {
    let mut m = Mocks::new();
    m.tokens.expect_find_by_hash().returning(|_| Ok(Some(stored_token(false, false, Duration::days(1)))));
    m.tokens.expect_revoke_family().times(1).returning(|_, _| Ok(()));
    let service = m.service();
    service.logout(ts::user_id(), Some("refresh-old")).await.expect("logged out");
    // Someone else's token: nothing is revoked (the mock allows one call only).
    let stranger = tollgate_domain::UserId::from_uuid(Uuid::from_u128(5));
    service.logout(stranger, Some("refresh-old")).await.expect("no-op");
    service.logout(ts::user_id(), None).await.expect("no-op");
}

#[tokio::test]
async fn me_returns_the_user_or_not_found() {
    let mut m = Mocks::new();
    m.users.expect_find_by_id().returning(|id| Ok((id == ts::user_id()).then(ts::user)));
    let service = m.service();
    assert_eq!(service.me(ts::user_id()).await.expect("found").email.as_str(), "ada@example.com");
    let other = tollgate_domain::UserId::from_uuid(Uuid::from_u128(5));
    assert!(matches!(service.me(other).await, Err(MeError::NotFound)));
}
