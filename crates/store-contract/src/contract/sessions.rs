//! Metered agent sessions.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::AccountId;
use tollgate_domain::{RunCount, SessionId};
use tollgate_ports::{ConsumeOutcome, Page};

use crate::fixtures::{consumption, id, registered, session, T0, TEN};
use crate::Subject;

pub async fn a_metered_session_is_created_with_its_usage_record(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let new = session(user.id, "first", T0);
    let c = consumption(user.id, 0, TEN, None);
    let outcome = s.sessions.create_metered(&new, &c).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Consumed { value: new.clone(), runs_used: RunCount::new(1) });
    assert_eq!(s.sessions.get(user.id, new.id).await.unwrap(), Some(new.clone()));
    let records = s.usage.list(AccountId::personal(user.id), 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].resource_id, Some(*new.id.as_uuid()));
    assert_eq!(records[0].id, c.record_id);
}

pub async fn a_refused_metered_session_is_not_created(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let limit = RunLimit::limited(1);
    s.sessions
        .create_metered(&session(user.id, "a", T0), &consumption(user.id, 0, limit, None))
        .await
        .unwrap();
    let second = session(user.id, "b", T0);
    let outcome = s.sessions.create_metered(&second, &consumption(user.id, 0, limit, None)).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::LimitReached { runs_used: RunCount::new(1) });
    assert_eq!(s.sessions.get(user.id, second.id).await.unwrap(), None);
    let stale = session(user.id, "c", T0);
    let outcome = s.sessions.create_metered(&stale, &consumption(user.id, 9, TEN, None)).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::StaleState);
    assert_eq!(
        s.sessions
            .list(user.id, AccountId::personal(user.id), Page { limit: 10, offset: 0 })
            .await
            .unwrap()
            .1,
        1
    );
}

pub async fn a_replayed_metered_session_returns_the_original(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let original = session(user.id, "original", T0);
    s.sessions.create_metered(&original, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    let retry = session(user.id, "retry", T0);
    let outcome = s.sessions.create_metered(&retry, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Replayed { value: Some(original.clone()) });
    assert_eq!(s.sessions.get(user.id, retry.id).await.unwrap(), None);
    // Once the original is deleted, a replay still consumes nothing and returns nothing.
    assert!(s.sessions.delete(user.id, original.id).await.unwrap());
    let outcome = s.sessions.create_metered(&retry, &consumption(user.id, 0, TEN, Some("k"))).await.unwrap();
    assert_eq!(outcome, ConsumeOutcome::Replayed { value: None });
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::new(1)
    );
}

pub async fn sessions_are_listed_newest_first_in_pages_and_only_to_their_owner(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let new = session(ada.id, &format!("s{i}"), T0 + Duration::minutes(i));
        s.sessions.create_metered(&new, &consumption(ada.id, 0, TEN, None)).await.unwrap();
        made.push(new);
    }
    let (page, total) =
        s.sessions.list(ada.id, AccountId::personal(ada.id), Page { limit: 2, offset: 0 }).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(page.iter().map(|x| x.title.clone().unwrap()).collect::<Vec<_>>(), ["s4", "s3"]);
    let (page, _) =
        s.sessions.list(ada.id, AccountId::personal(ada.id), Page { limit: 2, offset: 4 }).await.unwrap();
    assert_eq!(page.iter().map(|x| x.title.clone().unwrap()).collect::<Vec<_>>(), ["s0"]);
    assert_eq!(
        s.sessions.list(bob.id, AccountId::personal(bob.id), Page { limit: 10, offset: 0 }).await.unwrap(),
        (vec![], 0)
    );
    // Another user's session: not found, not deletable.
    assert_eq!(s.sessions.get(bob.id, made[0].id).await.unwrap(), None);
    assert!(!s.sessions.delete(bob.id, made[0].id).await.unwrap());
    assert!(s.sessions.delete(ada.id, made[0].id).await.unwrap());
    assert!(!s.sessions.delete(ada.id, made[0].id).await.unwrap());
    assert_eq!(s.sessions.get(ada.id, SessionId::from_uuid(id())).await.unwrap(), None);
}

pub async fn an_unmetered_session_is_created_without_counting(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let new = session(user.id, "free of charge", T0);
    s.sessions.create(&new).await.unwrap();
    assert_eq!(s.sessions.get(user.id, new.id).await.unwrap(), Some(new));
    assert_eq!(
        s.subs.get_by_account(AccountId::personal(user.id)).await.unwrap().unwrap().runs_used(),
        RunCount::ZERO
    );
    assert!(s.usage.list(AccountId::personal(user.id), 10).await.unwrap().is_empty());
}

pub async fn concurrent_metered_creates_make_exactly_the_allowed_sessions(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let sessions = s.sessions.clone();
            tokio::spawn(async move {
                let new = session(user.id, &format!("s{i}"), T0);
                sessions.create_metered(&new, &consumption(user.id, 0, TEN, None)).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if let ConsumeOutcome::Consumed { .. } = task.await.unwrap().unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 10);
    assert_eq!(
        s.sessions
            .list(user.id, AccountId::personal(user.id), Page { limit: 100, offset: 0 })
            .await
            .unwrap()
            .1,
        10
    );
}
