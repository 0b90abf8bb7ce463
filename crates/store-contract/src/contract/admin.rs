//! The admin repository: changes with their audit entries, user search.

use time::Duration;
use tollgate_domain::AccountId;
use tollgate_domain::{PlanId, RunCount, UsageEffect};
use tollgate_domain::{Role, UserId};
use tollgate_ports::{AuditAction, AuditEntry, Page, UpdateSubscriptionError};

use crate::fixtures::{id, registered, with, T0};
use crate::Subject;

fn audit(action: AuditAction, target: UserId, at: tollgate_domain::Timestamp) -> AuditEntry {
    AuditEntry {
        id: id(),
        actor: "cli:root".into(),
        action,
        target_user_id: Some(target),
        target_account_id: Some(tollgate_domain::AccountId::personal(target)),
        before: Some(serde_json::json!({ "plan": "free" })),
        after: Some(serde_json::json!({ "plan": "pro", "runs_limit_override": null })),
        reason: Some("support ticket 42".into()),
        request_id: Some("req-7".into()),
        at,
    }
}

pub async fn an_admin_change_and_its_audit_entry_are_written_together_or_not_at_all(s: Subject) {
    let (user, sub) = registered(&s, "ada@example.com").await;
    let changed = with(&sub, |p| {
        p.plan = PlanId::Pro;
        p.runs_granted = RunCount::new(5);
        p.version = 1;
    });
    let entry = audit(AuditAction::SetPlan, user.id, T0 + Duration::seconds(1));
    // A stale version: neither the change nor its entry.
    let err = s.admin.update_subscription_audited(&changed, 9, UsageEffect::Keep, &entry).await.unwrap_err();
    assert!(matches!(err, UpdateSubscriptionError::Conflict), "{err:?}");
    assert_eq!(s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    assert_eq!(s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap(), Some(sub));
    s.admin.update_subscription_audited(&changed, 0, UsageEffect::Keep, &entry).await.unwrap();
    assert_eq!(s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap(), Some(changed));
    assert_eq!(s.admin.audit_log(Page { limit: 10, offset: 0 }).await.unwrap(), (vec![entry], 1));
}

pub async fn a_role_change_is_audited_and_an_unknown_user_writes_nothing(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let first = audit(AuditAction::SetRole, user.id, T0 + Duration::seconds(1));
    assert!(s.admin.set_role_audited(user.id, Role::Admin, &first).await.unwrap());
    assert_eq!(s.users.find_by_id(user.id).await.unwrap().unwrap().role, Role::Admin);
    let nobody = UserId::from_uuid(id());
    assert!(!s
        .admin
        .set_role_audited(nobody, Role::Admin, &audit(AuditAction::SetRole, nobody, T0))
        .await
        .unwrap());
    let second = AuditEntry {
        reason: None,
        before: None,
        ..audit(AuditAction::GrantRuns, user.id, T0 + Duration::seconds(2))
    };
    s.admin.set_role_audited(user.id, Role::User, &second).await.unwrap();
    // Newest first, paged.
    let (page, total) = s.admin.audit_log(Page { limit: 1, offset: 0 }).await.unwrap();
    assert_eq!((page, total), (vec![second], 2));
    assert_eq!(s.admin.audit_log(Page { limit: 1, offset: 1 }).await.unwrap().0, vec![first]);
}

pub async fn users_are_searched_by_email_or_name_with_wildcards_taken_literally(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (grace, _) = registered(&s, "grace_h@navy.mil").await;
    let (graceful, _) = registered(&s, "graceXh@navy.mil").await;
    let page = Page { limit: 10, offset: 0 };
    let ids = |found: (Vec<tollgate_domain::User>, u64)| {
        (found.0.into_iter().map(|u| u.id).collect::<Vec<_>>(), found.1)
    };
    assert_eq!(ids(s.admin.search_users(None, page).await.unwrap()).1, 3);
    assert_eq!(ids(s.admin.search_users(Some("ADA@".into()), page).await.unwrap()), (vec![ada.id], 1));
    // `_` is a character here, not "any character".
    assert_eq!(ids(s.admin.search_users(Some("grace_".into()), page).await.unwrap()), (vec![grace.id], 1));
    assert_eq!(ids(s.admin.search_users(Some("%".into()), page).await.unwrap()), (vec![], 0));
    // The fixture's name is "Ada Lovelace" for everyone.
    assert_eq!(ids(s.admin.search_users(Some("lovelace".into()), page).await.unwrap()).1, 3);
    let (second, total) =
        s.admin.search_users(Some("navy".into()), Page { limit: 1, offset: 1 }).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(second.len(), 1);
    assert!(second[0].id == grace.id || second[0].id == graceful.id);
}
