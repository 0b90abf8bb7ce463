use proptest::prelude::*;

use super::*;

fn runs(n: u32) -> RunCount {
    RunCount::new(n)
}

fn counter(used: u32, reserved: u32) -> Counter {
    Counter { used: runs(used), reserved: runs(reserved) }
}

#[test]
fn the_pool_and_the_cap_are_each_filled_exactly_and_no_further() {
    let limit = RunLimit::limited(10);
    // The pool: 7 used and 2 held leave exactly 1.
    assert_eq!(admit(limit, counter(7, 2), None, counter(0, 0), runs(1)), Ok(()));
    assert_eq!(admit(limit, counter(7, 2), None, counter(0, 0), runs(2)), Err(PoolRefusal::PoolLimit));
    // The cap: 2 used and 1 held of 4 leave exactly 1, whatever the pool has left.
    assert_eq!(admit(limit, counter(3, 1), Some(runs(4)), counter(2, 1), runs(1)), Ok(()));
    assert_eq!(
        admit(limit, counter(3, 1), Some(runs(4)), counter(2, 1), runs(2)),
        Err(PoolRefusal::MemberCap)
    );
    // A cap of 0 admits nothing; no cap leaves only the pool.
    assert_eq!(
        admit(limit, counter(0, 0), Some(runs(0)), counter(0, 0), runs(1)),
        Err(PoolRefusal::MemberCap)
    );
    assert_eq!(admit(limit, counter(0, 0), None, counter(9, 0), runs(1)), Ok(()));
}

#[test]
fn a_spent_pool_is_named_before_the_members_cap() {
    let limit = RunLimit::limited(10);
    assert_eq!(
        admit(limit, counter(10, 0), Some(runs(3)), counter(3, 0), runs(1)),
        Err(PoolRefusal::PoolLimit)
    );
}

#[test]
fn an_unlimited_pool_still_keeps_a_members_cap() {
    let unlimited = RunLimit::Unlimited;
    let full = counter(u32::MAX, u32::MAX);
    assert_eq!(admit(unlimited, full, None, full, runs(u32::MAX)), Ok(()));
    assert_eq!(admit(unlimited, full, Some(runs(5)), counter(4, 1), runs(1)), Err(PoolRefusal::MemberCap));
}

#[test]
fn counters_near_the_top_of_u32_never_wrap() {
    let limit = RunLimit::limited(u32::MAX);
    assert_eq!(admit(limit, counter(u32::MAX, 0), None, counter(0, 0), runs(1)), Err(PoolRefusal::PoolLimit));
    assert_eq!(
        admit(limit, counter(u32::MAX - 1, 0), Some(runs(u32::MAX)), counter(u32::MAX - 1, 0), runs(1)),
        Ok(())
    );
}

/// What members do to the pool, in some order.
#[derive(Debug, Clone)]
enum Op {
    Consume {
        member: usize,
        units: u32,
    },
    Hold {
        member: usize,
        units: u32,
    },
    /// Commits the `hold`-th hold still held (modulo their number), charging `runs` of it.
    Commit {
        hold: usize,
        runs: u32,
    },
    Release {
        hold: usize,
    },
    Refund {
        consumption: usize,
    },
    /// A new period.
    Reset,
}

fn op(members: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..members, 0u32..6).prop_map(|(member, units)| Op::Consume { member, units }),
        3 => (0..members, 0u32..6).prop_map(|(member, units)| Op::Hold { member, units }),
        2 => (any::<usize>(), 0u32..8).prop_map(|(hold, runs)| Op::Commit { hold, runs }),
        1 => any::<usize>().prop_map(|hold| Op::Release { hold }),
        1 => any::<usize>().prop_map(|consumption| Op::Refund { consumption }),
        1 => Just(Op::Reset),
    ]
}

/// The reference ledger of one account: what the stores must keep, operation for operation.
struct Ledger {
    limit: RunLimit,
    caps: Vec<Option<RunCount>>,
    pool: Counter,
    members: Vec<Counter>,
    /// `(member, runs held)` of each hold still held this period.
    holds: Vec<(usize, u32)>,
    /// `(member, runs)` of each consumption of this period not refunded yet.
    consumptions: Vec<(usize, u32)>,
}

fn add(a: RunCount, n: u32) -> RunCount {
    runs(a.get() + n)
}

fn sub(a: RunCount, n: u32) -> RunCount {
    runs(a.get() - n)
}

impl Ledger {
    fn new(limit: RunLimit, caps: Vec<Option<RunCount>>) -> Self {
        let members = vec![Counter::default(); caps.len()];
        Self { limit, caps, pool: Counter::default(), members, holds: Vec::new(), consumptions: Vec::new() }
    }

    /// Applies `op`; what `admit` answered, for the admission ones.
    fn apply(&mut self, op: &Op) -> Option<Result<(), PoolRefusal>> {
        match *op {
            Op::Consume { member, units } | Op::Hold { member, units } => {
                let hold = matches!(op, Op::Hold { .. });
                let decided =
                    admit(self.limit, self.pool, self.caps[member], self.members[member], runs(units));
                if decided.is_ok() {
                    for c in [&mut self.pool, &mut self.members[member]] {
                        if hold {
                            c.reserved = add(c.reserved, units);
                        } else {
                            c.used = add(c.used, units);
                        }
                    }
                    if hold {
                        self.holds.push((member, units));
                    } else {
                        self.consumptions.push((member, units));
                    }
                }
                Some(decided)
            }
            Op::Commit { hold, runs: charged } if !self.holds.is_empty() => {
                let (member, held) = self.holds.remove(hold % self.holds.len());
                // Never refused; at most what was held is charged, the rest goes back.
                let charged = charged.min(held);
                for c in [&mut self.pool, &mut self.members[member]] {
                    c.reserved = sub(c.reserved, held);
                    c.used = add(c.used, charged);
                }
                self.consumptions.push((member, charged));
                None
            }
            Op::Release { hold } if !self.holds.is_empty() => {
                let (member, held) = self.holds.remove(hold % self.holds.len());
                for c in [&mut self.pool, &mut self.members[member]] {
                    c.reserved = sub(c.reserved, held);
                }
                None
            }
            Op::Refund { consumption } if !self.consumptions.is_empty() => {
                let (member, units) = self.consumptions.remove(consumption % self.consumptions.len());
                for c in [&mut self.pool, &mut self.members[member]] {
                    c.used = sub(c.used, units);
                }
                None
            }
            Op::Reset => {
                // Used runs start again; holds from the old period expire with it.
                self.pool = Counter::default();
                self.members.iter_mut().for_each(|m| *m = Counter::default());
                self.holds.clear();
                self.consumptions.clear();
                None
            }
            Op::Commit { .. } | Op::Release { .. } | Op::Refund { .. } => None,
        }
    }
}

fn caps() -> impl Strategy<Value = Vec<Option<RunCount>>> {
    prop::collection::vec(prop::option::of((0u32..12).prop_map(RunCount::new)), 1..5)
}

fn limit() -> impl Strategy<Value = RunLimit> {
    prop_oneof![4 => (0u32..30).prop_map(RunLimit::limited), 1 => Just(RunLimit::Unlimited)]
}

proptest! {
    /// Whatever members of one account do, in any order: the pool and every cap hold, the
    /// members' shares add up to the pool exactly, and a refusal happens only when the runs
    /// would really go over the limit it names.
    #[test]
    fn no_order_of_member_operations_oversells_the_pool_or_a_cap_and_every_run_is_someones(
        (limit, caps, ops) in (limit(), caps()).prop_flat_map(|(limit, caps)| {
            let n = caps.len();
            (Just(limit), Just(caps), prop::collection::vec(op(n), 0..80))
        })
    ) {
        let mut ledger = Ledger::new(limit, caps);
        for op in &ops {
            // Whether the runs would fit each limit, from the counters before the operation.
            let fits = match *op {
                Op::Consume { member, units } | Op::Hold { member, units } => {
                    let within = |committed: u64, bound: u32| committed + u64::from(units) <= u64::from(bound);
                    let pool = limit.as_option().is_none_or(|l| within(ledger.pool.committed(), l));
                    let cap = ledger.caps[member].is_none_or(|c| within(ledger.members[member].committed(), c.get()));
                    Some((pool, cap))
                }
                _ => None,
            };
            match (ledger.apply(op), fits) {
                (Some(Ok(())), Some((pool, cap))) => prop_assert!(pool && cap, "admitted past a limit: {op:?}"),
                (Some(Err(PoolRefusal::PoolLimit)), Some((pool, _))) => prop_assert!(!pool, "refused within the pool: {op:?}"),
                (Some(Err(PoolRefusal::MemberCap)), Some((pool, cap))) => prop_assert!(pool && !cap, "refused within the cap: {op:?}"),
                (None, None) => {}
                other => prop_assert!(false, "an admission answered for another operation: {other:?}"),
            }
            if let Some(l) = limit.as_option() {
                prop_assert!(ledger.pool.committed() <= u64::from(l), "the pool is oversold: {:?}", ledger.pool);
            }
            for (share, cap) in ledger.members.iter().zip(&ledger.caps) {
                if let Some(cap) = cap {
                    prop_assert!(share.committed() <= u64::from(cap.get()), "a cap is passed: {share:?} > {cap:?}");
                }
            }
            let used: u32 = ledger.members.iter().map(|m| m.used.get()).sum();
            let reserved: u32 = ledger.members.iter().map(|m| m.reserved.get()).sum();
            prop_assert_eq!((used, reserved), (ledger.pool.used.get(), ledger.pool.reserved.get()));
            let held: u32 = ledger.holds.iter().map(|(_, n)| n).sum();
            prop_assert_eq!(held, ledger.pool.reserved.get(), "every held run belongs to a hold");
        }
    }
}
