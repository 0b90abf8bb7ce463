//! Group commit: writes arriving together are decided in arrival order, and one that fails fails alone.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::AccountId;
use tollgate_domain::RunCount;
use tollgate_ports::{ConsumeOutcome, Consumption, IdempotencyKey, Page, SettleOutcome};

use crate::fixtures::{consumption, got, hold, id, registered, session, used_and_reserved, Got, T0, TEN};
use crate::Subject;
use uuid::Uuid;

/// Writes queued together (the store may apply them in one transaction) are each decided as if
/// they had come one by one, in the order they arrived: the limit counts the writes before them,
/// a key taken earlier in the same batch replays, a stale version or another fingerprint is
/// refused, and only what was answered as counted is written.
pub async fn metered_writes_arriving_together_are_decided_in_arrival_order(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let (ada, bob) = (ada.id, bob.id);
    let three = RunLimit::Limited(RunCount::new(3));
    let later = T0 + Duration::minutes(5);
    let keyed = |user, key: &str, fingerprint: &str| Consumption {
        idempotency_key: IdempotencyKey::parse(key).map(|k| k.for_request(fingerprint)),
        ..consumption(user, 0, TEN, None)
    };
    let paid = session(bob, "paid", T0);
    let (first_record, first_hold) = (keyed(bob, "k", "one"), hold(bob, 0, TEN, 2, Some("h")));
    let consume = |c: Consumption| {
        let usage = s.usage.clone();
        Box::pin(async move { got(usage.consume(&c).await.unwrap(), |id| id) })
            as futures_util::future::BoxFuture<'static, Got>
    };
    let create = |session: tollgate_ports::Session, c: Consumption| {
        let sessions = s.sessions.clone();
        Box::pin(
            async move { got(sessions.create_metered(&session, &c).await.unwrap(), |s| *s.id.as_uuid()) },
        ) as futures_util::future::BoxFuture<'static, Got>
    };
    let reserve = |c: Consumption| {
        let reservations = s.reservations.clone();
        Box::pin(async move { got(reservations.hold(&c, later).await.unwrap(), |r| r.id) })
            as futures_util::future::BoxFuture<'static, Got>
    };
    let writes = vec![
        consume(consumption(ada, 0, three, None)),
        reserve(hold(ada, 0, three, 1, None)),
        consume(consumption(ada, 0, three, None)),
        consume(consumption(ada, 0, three, None)),
        consume(consumption(ada, 7, three, None)),
        consume(first_record.clone()),
        consume(keyed(bob, "k", "one")),
        consume(keyed(bob, "k", "two")),
        create(paid.clone(), consumption(bob, 0, TEN, Some("s"))),
        create(session(bob, "again", T0), consumption(bob, 0, TEN, Some("s"))),
        reserve(first_hold.clone()),
        reserve(hold(bob, 0, TEN, 2, Some("h"))),
    ];
    let outcomes = futures_util::future::join_all(writes).await;
    assert_eq!(
        outcomes,
        vec![
            Got::Consumed(1),
            Got::Consumed(1),
            Got::Consumed(2),
            // 2 used + 1 held + 1 > 3.
            Got::LimitReached(2),
            Got::Stale,
            Got::Consumed(1),
            Got::Replayed(Some(first_record.record_id)),
            Got::Mismatch,
            Got::Consumed(2),
            Got::Replayed(Some(*paid.id.as_uuid())),
            Got::Consumed(2),
            Got::Replayed(Some(first_hold.record_id)),
        ]
    );
    assert_eq!(used_and_reserved(&s, ada).await, (2, 1));
    assert_eq!(used_and_reserved(&s, bob).await, (2, 2));
    assert_eq!(s.usage.list(AccountId::personal(ada), 10).await.unwrap().len(), 2);
    assert_eq!(s.usage.list(AccountId::personal(bob), 10).await.unwrap().len(), 2);
    let (sessions, total) =
        s.sessions.list(bob, AccountId::personal(bob), Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((sessions, total), (vec![paid], 1));
}

/// A write that cannot be written (here: a session id already taken) fails alone: the writes
/// queued with it are counted and answered as usual, and it counts nothing.
pub async fn a_metered_write_that_fails_fails_alone(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let taken = session(ada.id, "taken", T0);
    s.sessions.create(&taken).await.unwrap();
    let writes = (0..8).map(|i| {
        let sessions = s.sessions.clone();
        let session = if i == 3 { taken.clone() } else { session(ada.id, "new", T0) };
        async move { sessions.create_metered(&session, &consumption(ada.id, 0, TEN, None)).await }
    });
    let outcomes = futures_util::future::join_all(writes).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Err(_) if i == 3 => {}
            Ok(ConsumeOutcome::Consumed { .. }) if i != 3 => {}
            other => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(used_and_reserved(&s, ada.id).await, (7, 0));
    assert_eq!(s.usage.list(AccountId::personal(ada.id), 10).await.unwrap().len(), 7);
    assert_eq!(
        s.sessions.list(ada.id, AccountId::personal(ada.id), Page { limit: 10, offset: 0 }).await.unwrap().1,
        8
    );
}

/// Commits queued together (the store may settle them in one transaction) are each settled as if
/// they had come one by one: a repeat is `Already`, more runs than held are refused, a released or
/// unknown reservation is not committed, a hold past its expiry expires; only the settled ones
/// are written.
pub async fn reservation_commits_arriving_together_are_settled_in_arrival_order(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let (later, soon, at) =
        (T0 + Duration::minutes(5), T0 + Duration::seconds(30), T0 + Duration::minutes(1));
    let holds = [
        (ada.id, 3, later),
        (ada.id, 2, later),
        (ada.id, 1, later),
        (bob.id, 4, later),
        (bob.id, 1, later),
        (ada.id, 1, soon),
    ];
    let mut ids = Vec::new();
    for (user, runs, expires_at) in holds {
        let c = hold(user, 0, TEN, runs, None);
        let held = s.reservations.hold(&c, expires_at).await.unwrap();
        assert!(matches!(held, ConsumeOutcome::Consumed { .. }), "{held:?}");
        ids.push(c.record_id);
    }
    let [a1, a2, a3, b1, b2, a4] = ids[..] else { unreachable!() };
    assert!(matches!(s.reservations.release(b2, at).await.unwrap(), SettleOutcome::Done(_)));
    let commit = |reservation: Uuid, runs: Option<u32>| {
        let reservations = s.reservations.clone();
        async move { reservations.commit(reservation, runs.map(RunCount::new), id(), at).await.unwrap() }
    };
    let outcomes = futures_util::future::join_all([
        commit(a1, Some(2)),
        commit(a1, Some(2)),
        commit(a2, Some(5)),
        commit(a3, Some(0)),
        commit(b1, None),
        commit(b2, Some(1)),
        commit(id(), None),
        commit(a4, Some(1)),
    ])
    .await;
    let kind = |o: &SettleOutcome| match o {
        SettleOutcome::Done(r) => format!("done {:?} {:?}", r.status, r.committed_runs.map(|n| n.get())),
        SettleOutcome::Already(r) => format!("already {:?}", r.status),
        SettleOutcome::Conflict(r) => format!("conflict {:?}", r.status),
        SettleOutcome::TooManyRuns(r) => format!("too many {:?}", r.status),
        SettleOutcome::NotFound => "not found".to_owned(),
    };
    assert_eq!(
        outcomes.iter().map(kind).collect::<Vec<_>>(),
        [
            "done Committed Some(2)",
            "already Committed",
            "too many Held",
            "done Committed Some(0)",
            "done Committed Some(4)",
            "conflict Released",
            "not found",
            "conflict Expired",
        ]
    );
    // What a commit answers is what is stored.
    let SettleOutcome::Done(answered) = &outcomes[0] else { unreachable!() };
    assert_eq!(Some(answered), s.reservations.get(a1).await.unwrap().as_ref());
    assert_eq!(used_and_reserved(&s, ada.id).await, (2, 2));
    assert_eq!(used_and_reserved(&s, bob.id).await, (4, 0));
    let charged = |user| {
        let usage = s.usage.clone();
        async move { usage.list(user, 10).await.unwrap().iter().map(|r| r.units).collect::<Vec<_>>() }
    };
    assert_eq!(charged(AccountId::personal(ada.id)).await, [2]);
    assert_eq!(charged(AccountId::personal(bob.id)).await, [4]);
}
