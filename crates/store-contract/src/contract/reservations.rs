//! Reservations: holds, commits, releases, expiry.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::AccountId;
use tollgate_domain::RunCount;
use tollgate_ports::{ConsumeOutcome, Consumption, ReservationStatus, SettleOutcome};

use crate::fixtures::{consumption, hold, id, registered, used_and_reserved, T0, TEN};
use crate::Subject;

pub async fn a_hold_counts_against_the_limit_and_a_commit_charges_only_what_it_cost(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(15);
    let first = hold(user.id, 0, TEN, 6, None);
    assert!(matches!(s.reservations.hold(&first, later).await.unwrap(), ConsumeOutcome::Consumed { .. }));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 6));
    // 6 held + 5 > 10: refused; a consumption of 5 too.
    let refused = s.reservations.hold(&hold(user.id, 0, TEN, 5, None), later).await.unwrap();
    assert!(matches!(refused, ConsumeOutcome::LimitReached { .. }), "{refused:?}");
    let consume5 = Consumption { units: RunCount::new(5), ..consumption(user.id, 0, TEN, None) };
    assert!(matches!(s.usage.consume(&consume5).await.unwrap(), ConsumeOutcome::LimitReached { .. }));
    // Commit 2 of the 6: 2 used, 0 held; a usage record of 2 for the reservation.
    let done = s.reservations.commit(first.record_id, Some(RunCount::new(2)), id(), T0).await.unwrap();
    assert!(
        matches!(&done, SettleOutcome::Done(r) if r.status == ReservationStatus::Committed && r.committed_runs == Some(RunCount::new(2)))
    );
    assert_eq!(used_and_reserved(&s, user.id).await, (2, 0));
    let records = s.usage.list(AccountId::personal(user.id), 10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].units, records[0].resource_id), (2, Some(first.record_id)));
    // Settled once: a repeat is `Already`, a release `Conflict`, more than held `TooManyRuns`.
    assert!(matches!(
        s.reservations.commit(first.record_id, None, id(), T0).await.unwrap(),
        SettleOutcome::Already(_)
    ));
    assert!(matches!(s.reservations.release(first.record_id, T0).await.unwrap(), SettleOutcome::Conflict(_)));
    assert_eq!(used_and_reserved(&s, user.id).await, (2, 0));
    let second = hold(user.id, 0, TEN, 3, None);
    s.reservations.hold(&second, later).await.unwrap();
    let too_many = s.reservations.commit(second.record_id, Some(RunCount::new(4)), id(), T0).await.unwrap();
    assert!(matches!(too_many, SettleOutcome::TooManyRuns(_)));
    assert!(matches!(s.reservations.commit(id(), None, id(), T0).await.unwrap(), SettleOutcome::NotFound));
}

pub async fn a_release_gives_every_held_run_back_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let h = hold(user.id, 0, TEN, 4, None);
    s.reservations.hold(&h, T0 + Duration::minutes(1)).await.unwrap();
    assert!(matches!(s.reservations.release(h.record_id, T0).await.unwrap(), SettleOutcome::Done(_)));
    assert!(matches!(s.reservations.release(h.record_id, T0).await.unwrap(), SettleOutcome::Already(_)));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
    let commit = s.reservations.commit(h.record_id, None, id(), T0).await.unwrap();
    assert!(matches!(commit, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Released));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
}

pub async fn an_expired_hold_comes_back_once_whoever_expires_it(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let (a, b) = (hold(user.id, 0, TEN, 3, None), hold(user.id, 0, TEN, 2, None));
    s.reservations.hold(&a, T0 + Duration::seconds(10)).await.unwrap();
    s.reservations.hold(&b, T0 + Duration::hours(1)).await.unwrap();
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 5));
    assert_eq!(s.reservations.count_held(T0).await.unwrap(), 2);
    let at = T0 + Duration::seconds(11);
    // Past its expiry a hold holds nothing, swept or not.
    assert_eq!(s.reservations.count_held(at).await.unwrap(), 1);
    // Two sweeps and a lazy expiry at once: `a` expires once.
    let (x, y, z) = tokio::join!(
        s.reservations.expire_due(at),
        s.reservations.expire_due(at),
        s.subs.expire_holds(AccountId::personal(user.id), at)
    );
    let expired = x.unwrap() + y.unwrap();
    assert_eq!(expired + u64::from(z.unwrap().min(1)), 1, "one hold expired once");
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 2));
    let late = s.reservations.commit(a.record_id, None, id(), at).await.unwrap();
    assert!(matches!(late, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Expired));
    // A hold found past its expiry by a commit expires then, and is never committed.
    let later = T0 + Duration::hours(2);
    let late = s.reservations.commit(b.record_id, None, id(), later).await.unwrap();
    assert!(matches!(late, SettleOutcome::Conflict(r) if r.status == ReservationStatus::Expired));
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 0));
    assert_eq!(s.reservations.expire_due(later).await.unwrap(), 0);
}

pub async fn a_repeated_key_answers_the_first_hold(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let first = hold(user.id, 0, TEN, 2, Some("job-1"));
    let held = s.reservations.hold(&first, later).await.unwrap();
    let ConsumeOutcome::Consumed { value, .. } = held else { panic!("{held:?}") };
    let again = s.reservations.hold(&hold(user.id, 0, TEN, 2, Some("job-1")), later).await.unwrap();
    assert_eq!(again, ConsumeOutcome::Replayed { value: Some(value) });
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 2));
}

pub async fn sixty_four_concurrent_holds_against_a_limit_of_ten_hold_exactly_ten(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (s, user) = (s.clone(), user.id);
            tokio::spawn(
                async move { s.reservations.hold(&hold(user, 0, TEN, 1, None), later).await.unwrap() },
            )
        })
        .collect();
    let mut held = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), ConsumeOutcome::Consumed { .. }) {
            held += 1;
        }
    }
    assert_eq!(held, 10);
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 10));
}

/// Random interleavings (eight seeds, 150 steps each) of holds, commits, releases, expiries and
/// consumptions: after every step used + reserved stays within the limit and every run is
/// accounted for.
pub async fn any_interleaving_of_holds_and_consumptions_never_oversells_and_conserves_runs(s: Subject) {
    for seed in 0..8u64 {
        interleaving(&s, seed).await;
    }
}

async fn interleaving(s: &Subject, seed: u64) {
    let (user, _) = registered(s, &format!("ada{seed}@example.com")).await;
    let limit = RunLimit::limited(20);
    let mut seed: u64 = 0x5EED ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut now = T0;
    let mut open: Vec<(uuid::Uuid, u32)> = Vec::new();
    let (mut charged, mut refused) = (0u32, 0u32);
    for _ in 0..150 {
        now += Duration::seconds(1);
        match next(5) {
            0 => {
                let h = hold(user.id, 0, limit, 1 + next(4) as u32, None);
                match s.reservations.hold(&h, now + Duration::seconds(1 + next(20) as i64)).await.unwrap() {
                    ConsumeOutcome::Consumed { .. } => open.push((h.record_id, h.units.get())),
                    _ => refused += 1,
                }
            }
            1 if !open.is_empty() => {
                let (rid, runs) = open.swap_remove(next(open.len() as u64) as usize);
                let cost = next(u64::from(runs) + 1) as u32;
                if let SettleOutcome::Done(_) =
                    s.reservations.commit(rid, Some(RunCount::new(cost)), id(), now).await.unwrap()
                {
                    charged += cost;
                }
            }
            2 if !open.is_empty() => {
                let (rid, _) = open.swap_remove(next(open.len() as u64) as usize);
                s.reservations.release(rid, now).await.unwrap();
            }
            3 => {
                s.reservations.expire_due(now).await.unwrap();
            }
            _ => {
                let c = Consumption {
                    units: RunCount::new(1 + next(3) as u32),
                    at: now,
                    ..consumption(user.id, 0, limit, None)
                };
                match s.usage.consume(&c).await.unwrap() {
                    ConsumeOutcome::Consumed { .. } => charged += c.units.get(),
                    _ => refused += 1,
                }
            }
        }
        let (used, reserved) = used_and_reserved(s, user.id).await;
        assert!(used + reserved <= 20, "oversold: {used} used + {reserved} reserved");
        assert_eq!(used, charged, "every charged run is counted, nothing else");
    }
    // Everything still held expires; then nothing is held and the charges are all that remain.
    s.reservations.expire_due(now + Duration::hours(1)).await.unwrap();
    assert_eq!(used_and_reserved(s, user.id).await, (charged, 0));
    assert!(refused > 0, "the sequence reached the limit");
}

pub async fn concurrent_holds_with_one_key_hold_once(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let later = T0 + Duration::minutes(5);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (s, user) = (s.clone(), user.id);
            tokio::spawn(async move {
                s.reservations.hold(&hold(user, 0, TEN, 3, Some("job-9")), later).await.unwrap()
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            ConsumeOutcome::Consumed { value, .. } | ConsumeOutcome::Replayed { value: Some(value) } => {
                ids.insert(value.id);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids.len(), 1, "every request answers the one hold");
    assert_eq!(used_and_reserved(&s, user.id).await, (0, 3));
}
