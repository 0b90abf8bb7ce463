use proptest::prelude::*;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{AccountId, RunCount, UserId};
use tollgate_ports::{Consumption, IdempotencyKey, UsageReason};

use super::*;

const T0: time::OffsetDateTime = time::macros::datetime!(2026-12-01 00:00 UTC);

fn user(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn write(
    n: u128,
    who: u8,
    units: u32,
    limit: Option<u32>,
    key: Option<(&str, &str)>,
    hold: bool,
) -> MeteredWrite {
    MeteredWrite {
        consumption: Consumption {
            record_id: Uuid::from_u128(n),
            account_id: AccountId::from_uuid(user(who)),
            user_id: Some(UserId::from_uuid(user(who))),
            units: RunCount::new(units),
            limit: limit.map_or(RunLimit::Unlimited, RunLimit::limited),
            expected_version: 0,
            idempotency_key: key
                .map(|(k, fingerprint)| IdempotencyKey::parse(k).expect("a key").for_request(fingerprint)),
            reason: UsageReason::Service("test".into()),
            at: T0,
        },
        resource: if hold {
            Resource::Hold { expires_at: T0 + time::Duration::minutes(5) }
        } else {
            Resource::Usage
        },
    }
}

fn counters(users: &[(u8, i64, i64)]) -> HashMap<Uuid, Counters> {
    users.iter().map(|&(u, used, reserved)| (user(u), Counters { version: 0, used, reserved })).collect()
}

#[test]
fn writes_are_decided_in_arrival_order_against_used_plus_reserved() {
    let writes = [
        write(1, 1, 3, Some(5), None, false),
        write(2, 1, 2, Some(5), None, true),
        write(3, 1, 1, Some(5), None, false),
        write(4, 2, 7, None, None, false),
        write(5, 9, 1, None, None, false),
    ];
    let plan = decide_writes(&writes, counters(&[(1, 0, 0), (2, 10, 0)]), HashMap::new(), HashMap::new())
        .expect("decided");
    assert_eq!(
        plan.outcomes,
        [
            WriteOutcome::Consumed(RunCount::new(3)),
            WriteOutcome::Consumed(RunCount::new(3)),
            WriteOutcome::LimitReached(RunCount::new(3)),
            WriteOutcome::Consumed(RunCount::new(17)),
            WriteOutcome::Stale,
        ]
    );
    assert_eq!(plan.taken, [0, 1, 3]);
    assert_eq!(plan.deltas, HashMap::from([(user(1), (3, 2)), (user(2), (7, 0))]));
}

#[test]
fn a_key_paid_before_or_earlier_in_the_batch_replays_or_mismatches() {
    let stored = HashMap::from([(
        (user(1), false, "paid".to_owned()),
        Paid { fingerprint: Some("f".into()), answer: Uuid::from_u128(99) },
    )]);
    let writes = [
        write(1, 1, 1, None, Some(("paid", "f")), false),
        write(2, 1, 1, None, Some(("paid", "other body")), false),
        write(3, 1, 1, None, Some(("new", "g")), false),
        write(4, 1, 1, None, Some(("new", "g")), false),
        // The same key on a hold is another key.
        write(5, 1, 1, None, Some(("new", "g")), true),
    ];
    let plan = decide_writes(&writes, counters(&[(1, 0, 0)]), HashMap::new(), stored).expect("decided");
    assert_eq!(
        plan.outcomes,
        [
            WriteOutcome::Replayed(Uuid::from_u128(99)),
            WriteOutcome::Mismatch,
            WriteOutcome::Consumed(RunCount::new(1)),
            WriteOutcome::Replayed(Uuid::from_u128(3)),
            WriteOutcome::Consumed(RunCount::new(1)),
        ]
    );
    assert_eq!(plan.taken, [2, 4]);
}

#[test]
fn a_moved_version_is_stale() {
    let mut moved = write(1, 1, 1, None, None, false);
    moved.consumption.expected_version = 4;
    let plan =
        decide_writes(&[moved], counters(&[(1, 0, 0)]), HashMap::new(), HashMap::new()).expect("decided");
    assert_eq!((plan.outcomes, plan.taken), (vec![WriteOutcome::Stale], vec![]));
}

fn reservation(id: u128, who: u8, runs: u32, status: ReservationStatus) -> Reservation {
    Reservation {
        id: Uuid::from_u128(id),
        account_id: AccountId::from_uuid(user(who)),
        user_id: Some(UserId::from_uuid(user(who))),
        runs: RunCount::new(runs),
        committed_runs: None,
        status,
        expires_at: T0 + time::Duration::minutes(5),
        created_at: T0,
        updated_at: T0,
    }
}

fn commit(id: u128, runs: Option<u32>, at: time::OffsetDateTime) -> Commit {
    Commit {
        id: Uuid::from_u128(id),
        runs: runs.map(RunCount::new),
        record_id: Uuid::from_u128(1000 + id),
        at,
    }
}

#[test]
fn commits_settle_held_reservations_once_and_refuse_the_rest() {
    let found: HashMap<Uuid, Reservation> = [
        reservation(1, 1, 5, ReservationStatus::Held),
        reservation(2, 1, 4, ReservationStatus::Held),
        reservation(3, 2, 2, ReservationStatus::Released),
        reservation(4, 2, 3, ReservationStatus::Held),
        reservation(5, 2, 3, ReservationStatus::Held),
    ]
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let soon = T0 + time::Duration::minutes(1);
    let commits = [
        commit(1, Some(3), soon),
        commit(1, Some(3), soon),                         // again: already committed
        commit(2, Some(0), soon),                         // nothing charged: no usage record
        commit(3, None, soon),                            // released
        commit(4, Some(9), soon),                         // more than held
        commit(5, None, T0 + time::Duration::minutes(6)), // past its expiry: done alone
        commit(6, None, soon),                            // not read: done alone
    ];
    let plan = decide_commits(&commits, found).expect("decided");
    let shown: Vec<&str> = plan
        .outcomes
        .iter()
        .map(|o| match o {
            Some(SettleOutcome::Done(_)) => "done",
            Some(SettleOutcome::Already(_)) => "already",
            Some(SettleOutcome::Conflict(_)) => "conflict",
            Some(SettleOutcome::TooManyRuns(_)) => "too many",
            Some(_) => "other",
            None => "alone",
        })
        .collect();
    assert_eq!(shown, ["done", "already", "done", "conflict", "too many", "alone", "alone"]);
    assert_eq!(
        plan.settled.iter().map(|(id, runs, _)| (*id, *runs)).collect::<Vec<_>>(),
        [(Uuid::from_u128(1), 3), (Uuid::from_u128(2), 0)]
    );
    assert_eq!(plan.deltas, HashMap::from([(user(1), (3, -9))]));
    let ada = UserId::from_uuid(user(1));
    assert_eq!(plan.charges, [(0, AccountId::personal(ada), Some(ada), 3)]);
    assert!(plan.member_deltas.is_empty(), "a personal account's member has no counters of their own");
}

proptest! {
    /// Whatever the batch: one outcome per write; each user's taken units never pass their limit
    /// (counting what was used and reserved before); the deltas are exactly the taken units; a key
    /// is taken at most once per (user, kind).
    #[test]
    fn a_batch_never_oversells_and_its_deltas_are_what_it_took(
        batch in proptest::collection::vec(
            (0u8..3, 1u32..6, proptest::option::of(0u32..12), proptest::option::of(0u8..3), any::<bool>()),
            0..40,
        ),
        before in proptest::collection::vec((0i64..6, 0i64..6), 3),
    ) {
        let writes: Vec<MeteredWrite> = batch
            .iter()
            .enumerate()
            .map(|(i, &(who, units, limit, key, hold))| {
                let key = key.map(|k| format!("k{k}"));
                write(i as u128, who, units, limit, key.as_deref().map(|k| (k, "f")), hold)
            })
            .collect();
        let start = counters(&[(0, before[0].0, before[0].1), (1, before[1].0, before[1].1), (2, before[2].0, before[2].1)]);
        let plan = decide_writes(&writes, start.clone(), HashMap::new(), HashMap::new()).expect("decided");
        prop_assert_eq!(plan.outcomes.len(), writes.len());
        let mut deltas: Deltas = HashMap::new();
        let mut keys = std::collections::HashSet::new();
        for &i in &plan.taken {
            let w = &writes[i];
            let c = &w.consumption;
            let user = *c.account_id.as_uuid();
            let delta = deltas.entry(user).or_default();
            if is_hold(w) { delta.1 += i64::from(c.units.get()) } else { delta.0 += i64::from(c.units.get()) }
            let s = start[&user];
            let total = s.used + s.reserved + delta.0 + delta.1;
            if let Some(limit) = c.limit.as_option() {
                prop_assert!(total <= i64::from(limit), "write {} took the user to {} of {}", i, total, limit);
            }
            if let Some(key) = &c.idempotency_key {
                prop_assert!(keys.insert((user, is_hold(w), key.as_str().to_owned())), "key taken twice");
            }
        }
        prop_assert_eq!(plan.deltas, deltas);
        for (i, outcome) in plan.outcomes.iter().enumerate() {
            prop_assert_eq!(matches!(outcome, WriteOutcome::Consumed(_)), plan.taken.contains(&i));
        }
    }
}

/// The team of the tests below: account 9, whose members are users 0, 1 and 2.
const TEAM: u8 = 9;

/// `write` by member `who` of the team.
fn team_write(n: u128, who: u8, units: u32, limit: Option<u32>, hold: bool) -> MeteredWrite {
    let mut w = write(n, who, units, limit, None, hold);
    w.consumption.account_id = AccountId::from_uuid(user(TEAM));
    w
}

fn members(caps: &[(u8, Option<i64>, i64, i64)]) -> HashMap<MemberOf, MemberCounters> {
    caps.iter()
        .map(|&(who, cap, used, reserved)| ((user(TEAM), user(who)), MemberCounters { cap, used, reserved }))
        .collect()
}

#[test]
fn a_member_is_held_to_their_cap_and_the_pool_both_and_a_stranger_to_neither() {
    let writes = [
        team_write(1, 1, 2, Some(10), false), // member 1: 0 + 2 <= cap 3
        team_write(2, 1, 2, Some(10), true),  // member 1: 2 + 2 > cap 3
        team_write(3, 2, 5, Some(10), false), // member 2, uncapped: pool 2 + 5 <= 10
        team_write(4, 2, 4, Some(10), false), // pool 7 + 4 > 10: the pool names itself first
        team_write(5, 7, 1, Some(10), false), // user 7 is not a member
    ];
    let caps = members(&[(1, Some(3), 0, 0), (2, None, 0, 0)]);
    let plan = decide_writes(&writes, counters(&[(TEAM, 0, 0)]), caps, HashMap::new()).expect("decided");
    assert_eq!(
        plan.outcomes,
        [
            WriteOutcome::Consumed(RunCount::new(2)),
            WriteOutcome::MemberCapReached(RunCount::new(2)),
            WriteOutcome::Consumed(RunCount::new(7)),
            WriteOutcome::LimitReached(RunCount::new(7)),
            WriteOutcome::NotAMember,
        ]
    );
    assert_eq!(plan.deltas, HashMap::from([(user(TEAM), (7, 0))]));
    assert_eq!(
        plan.member_deltas,
        HashMap::from([((user(TEAM), user(1)), (2, 0)), ((user(TEAM), user(2)), (5, 0))])
    );
}

#[test]
fn an_accounts_own_use_names_no_member_and_a_commit_gives_a_members_hold_back_to_both() {
    let mut own = team_write(1, 0, 3, Some(10), false);
    own.consumption.user_id = None;
    let plan =
        decide_writes(&[own], counters(&[(TEAM, 0, 0)]), HashMap::new(), HashMap::new()).expect("decided");
    assert_eq!(plan.outcomes, [WriteOutcome::Consumed(RunCount::new(3))]);
    assert!(plan.member_deltas.is_empty());

    let mut held = reservation(1, 1, 5, ReservationStatus::Held);
    held.account_id = AccountId::from_uuid(user(TEAM));
    let found = HashMap::from([(held.id, held)]);
    let plan = decide_commits(&[commit(1, Some(2), T0)], found).expect("decided");
    assert_eq!(plan.deltas, HashMap::from([(user(TEAM), (2, -5))]));
    assert_eq!(plan.member_deltas, HashMap::from([((user(TEAM), user(1)), (2, -5))]));
}

proptest! {
    /// Members of one account racing in one batch (consumptions and holds mixed): the pool never
    /// passes its limit, no member passes their cap, and both sets of deltas are exactly what
    /// was taken.
    #[test]
    fn a_team_batch_never_passes_the_pool_or_a_cap(
        batch in proptest::collection::vec((0u8..4, 1u32..5, any::<bool>()), 0..48),
        limit in proptest::option::of(0u32..30),
        caps in proptest::collection::vec(proptest::option::of(0i64..10), 3),
        before in proptest::collection::vec((0i64..4, 0i64..4), 3),
    ) {
        let writes: Vec<MeteredWrite> = batch
            .iter()
            .enumerate()
            .map(|(i, &(who, units, hold))| team_write(i as u128, who, units, limit, hold))
            .collect();
        let pool_before: (i64, i64) = before.iter().fold((0, 0), |(u, r), (mu, mr)| (u + mu, r + mr));
        let shares = members(&[
            (0, caps[0], before[0].0, before[0].1),
            (1, caps[1], before[1].0, before[1].1),
            (2, caps[2], before[2].0, before[2].1),
        ]);
        let plan = decide_writes(&writes, counters(&[(TEAM, pool_before.0, pool_before.1)]), shares.clone(), HashMap::new())
            .expect("decided");
        let mut pool = 0i64;
        let mut mine: HashMap<MemberOf, i64> = HashMap::new();
        for &i in &plan.taken {
            let c = &writes[i].consumption;
            let member = (user(TEAM), *c.user_id.expect("a member").as_uuid());
            let units = i64::from(c.units.get());
            pool += units;
            *mine.entry(member).or_default() += units;
            let share = shares.get(&member);
            prop_assert!(share.is_some(), "a stranger's write was taken");
            let share = share.expect("checked");
            if let Some(cap) = share.cap {
                prop_assert!(share.used + share.reserved + mine[&member] <= cap, "a cap was passed");
            }
            if let Some(limit) = limit {
                prop_assert!(pool_before.0 + pool_before.1 + pool <= i64::from(limit), "the pool was passed");
            }
        }
        let took: i64 = plan.deltas.values().map(|(u, r)| u + r).sum();
        prop_assert_eq!(took, pool);
        let members_took: i64 = plan.member_deltas.values().map(|(u, r)| u + r).sum();
        prop_assert_eq!(members_took, pool);
        for (i, w) in writes.iter().enumerate() {
            let stranger = !shares.contains_key(&(user(TEAM), *w.consumption.user_id.expect("a member").as_uuid()));
            if stranger {
                prop_assert_eq!(plan.outcomes[i], WriteOutcome::NotAMember);
            }
        }
    }
}
