//! Users, their refresh tokens and service keys.

use time::Duration;
use tollgate_domain::AccountId;
use tollgate_domain::Email;
use tollgate_ports::{
    AuditAction, AuditEntry, CreateServiceKeyError, CreateUserError, Page, RotateOutcome, ServiceKey,
};

use crate::fixtures::{hash, id, registered, token, user, T0};
use crate::Subject;

pub async fn migrations_can_be_applied_again(s: Subject) {
    (s.migrate)().await.unwrap();
    (s.migrate)().await.unwrap();
    s.health.ping().await.unwrap();
}

pub async fn a_user_is_created_with_their_subscription(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let found = s.users.find_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(found, user);
    let by_email = s.users.find_by_email(&Email::parse("ADA@example.com").unwrap()).await.unwrap();
    assert_eq!(by_email, Some(user.clone()));
    let creds = s.users.find_credentials(&user.email).await.unwrap().unwrap();
    assert_eq!(creds.password_hash, hash());
    assert_eq!(s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap(), Some(sub));
    assert_eq!(s.users.find_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);
}

pub async fn a_taken_email_is_refused_and_nothing_is_written(s: Subject) {
    registered(&s, "ada@example.com").await;
    let second = user("ada@example.com");
    let sub = tollgate_domain::Subscription::new_free(
        tollgate_domain::SubscriptionId::from_uuid(id()),
        tollgate_domain::AccountId::personal(second.id),
        T0,
    );
    let err = s.users.create(&second, &hash(), &sub).await.unwrap_err();
    assert!(matches!(err, CreateUserError::DuplicateEmail), "{err:?}");
    assert_eq!(s.users.find_by_id(second.id).await.unwrap(), None);
    assert_eq!(s.subs.get_by_account(AccountId::personal(second.id)).await.unwrap(), None);
}

pub async fn concurrent_registrations_of_one_email_make_one_user(s: Subject) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let users = s.users.clone();
            tokio::spawn(async move {
                let email = if i % 2 == 0 { "ada@example.com" } else { "ADA@Example.com" };
                let u = user(email);
                let sub = tollgate_domain::Subscription::new_free(
                    tollgate_domain::SubscriptionId::from_uuid(id()),
                    tollgate_domain::AccountId::personal(u.id),
                    T0,
                );
                users.create(&u, &hash(), &sub).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(CreateUserError::DuplicateEmail) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(created, 1);
}

pub async fn refresh_tokens_rotate_once_and_revoke_by_family(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let family = id();
    let first = token(user.id, family, "hash-1");
    s.tokens.insert(&first).await.unwrap();
    assert_eq!(s.tokens.find_by_hash("hash-1").await.unwrap(), Some(first.clone()));
    let second = token(user.id, family, "hash-2");
    assert_eq!(s.tokens.rotate(first.id, &second, T0).await.unwrap(), RotateOutcome::Rotated);
    assert_eq!(s.tokens.find_by_hash("hash-1").await.unwrap().unwrap().rotated_at, Some(T0));
    // Rotating the same token again is a reuse; nothing is inserted.
    let third = token(user.id, family, "hash-3");
    assert_eq!(s.tokens.rotate(first.id, &third, T0).await.unwrap(), RotateOutcome::AlreadyUsed);
    assert_eq!(s.tokens.find_by_hash("hash-3").await.unwrap(), None);
    s.tokens.revoke_family(family, T0 + Duration::seconds(1)).await.unwrap();
    let revoked = s.tokens.find_by_hash("hash-2").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + Duration::seconds(1)));
    assert_eq!(s.tokens.rotate(second.id, &third, T0).await.unwrap(), RotateOutcome::AlreadyUsed);
    assert_eq!(s.tokens.find_by_hash("unknown").await.unwrap(), None);
}

pub async fn service_keys_are_found_by_hash_until_revoked_and_names_are_unique(s: Subject) {
    let key = ServiceKey {
        id: id(),
        name: "agents".into(),
        key_hash: "hash-1".into(),
        created_at: T0,
        revoked_at: None,
        prefix: Some("tgk_AbCdEfGh".into()),
        last_used_at: None,
    };
    let entry = |action| AuditEntry {
        id: id(),
        actor: "cli:ops".into(),
        action,
        target_user_id: None,
        target_account_id: None,
        before: None,
        after: Some(serde_json::json!({ "service_key": "agents" })),
        reason: None,
        request_id: None,
        at: T0,
    };
    s.service_keys.create(&key, &entry(AuditAction::CreateKey)).await.unwrap();
    let taken = ServiceKey { id: id(), key_hash: "hash-2".into(), ..key.clone() };
    let refused = s.service_keys.create(&taken, &entry(AuditAction::CreateKey)).await;
    assert!(matches!(refused, Err(CreateServiceKeyError::DuplicateName)));
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), Some(key.clone()));
    assert_eq!(s.service_keys.find_active("hash-2").await.unwrap(), None);
    // The last use is written once per window: a second touch inside it changes nothing.
    let used = T0 + Duration::seconds(30);
    s.service_keys.touch(key.id, used, used - Duration::minutes(1)).await.unwrap();
    let later = used + Duration::seconds(20);
    s.service_keys.touch(key.id, later, later - Duration::minutes(1)).await.unwrap();
    let found = s.service_keys.find_active("hash-1").await.unwrap().expect("active");
    assert_eq!((found.prefix.as_deref(), found.last_used_at), (Some("tgk_AbCdEfGh"), Some(used)));
    let next = used + Duration::minutes(2);
    s.service_keys.touch(key.id, next, next - Duration::minutes(1)).await.unwrap();
    let key = ServiceKey { last_used_at: Some(next), ..key };
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), Some(key.clone()));
    assert!(s
        .service_keys
        .revoke("agents", T0 + Duration::seconds(1), &entry(AuditAction::RevokeKey))
        .await
        .unwrap());
    assert_eq!(s.service_keys.find_active("hash-1").await.unwrap(), None);
    // Revoking again keeps the first time; an unknown name is reported (and not audited).
    assert!(s
        .service_keys
        .revoke("agents", T0 + Duration::seconds(9), &entry(AuditAction::RevokeKey))
        .await
        .unwrap());
    assert!(!s.service_keys.revoke("nobody", T0, &entry(AuditAction::RevokeKey)).await.unwrap());
    // Each change is audited with it; the refused create and the unknown name wrote nothing.
    let (log, total) = s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap();
    let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
    assert_eq!(total, 3, "{actions:?}");
    assert_eq!(actions, [AuditAction::RevokeKey, AuditAction::RevokeKey, AuditAction::CreateKey]);
    let listed = s.service_keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(T0 + Duration::seconds(1)));
}
