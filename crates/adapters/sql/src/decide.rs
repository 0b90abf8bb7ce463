//! The group commit's decisions, without SQL: which writes of a batch pass, in arrival order,
//! against the counters and keys the batch read, and which reservation commits settle. The
//! repository macro (`repositories/metered.rs`) reads the rows, calls these, and writes what they
//! decided; these are unit- and property-tested without a database.

use std::collections::HashMap;

use tollgate_domain::pool::{admit, Counter, PoolRefusal};
use tollgate_domain::{AccountId, UserId};
use tollgate_ports::{Reservation, ReservationStatus, SettleOutcome};
use uuid::Uuid;

use crate::batch::{Commit, MeteredWrite, Resource};
use crate::{run_count, Ts, WriteOutcome};

/// An account's counters (its pool) as a batch moves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub version: i64,
    pub used: i64,
    pub reserved: i64,
}

/// A member's share of their account's pool as a batch moves it, and their cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberCounters {
    pub cap: Option<i64>,
    pub used: i64,
    pub reserved: i64,
}

/// A member: their account and themselves.
pub type MemberOf = (Uuid, Uuid);

/// The member a write, hold or commit counts against, if any: a user named beside an account
/// that is not their own personal account. A personal account's one member has no counters of
/// their own (their use is the account's); an account's own use names nobody.
pub fn member_of(account: AccountId, user: Option<UserId>) -> Option<MemberOf> {
    user.filter(|u| *u.as_uuid() != *account.as_uuid()).map(|u| (*account.as_uuid(), *u.as_uuid()))
}

/// An idempotency key's place: its account, whether it keys a hold (reservations) or a
/// consumption (usage records), and the key.
pub type KeyOf = (Uuid, bool, String);

/// What a key already paid for: its request's fingerprint, and the id a replay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub fingerprint: Option<String>,
    pub answer: Uuid,
}

/// Each account's (or member's) `(runs_used, runs_reserved)` change; either may be negative.
pub type Deltas = HashMap<Uuid, (i64, i64)>;

/// Each member's `(runs_used, runs_reserved)` change.
pub type MemberDeltas = HashMap<MemberOf, (i64, i64)>;

/// What a batch of metered writes comes to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WritePlan {
    /// One per write, in order.
    pub outcomes: Vec<WriteOutcome>,
    /// The accounts' counters' changes.
    pub deltas: Deltas,
    /// The members' counters' changes.
    pub member_deltas: MemberDeltas,
    /// The writes that pass (indexes into the batch, in order): their rows are inserted.
    pub taken: Vec<usize>,
}

pub fn is_hold(write: &MeteredWrite) -> bool {
    matches!(write.resource, Resource::Hold { .. })
}

fn counter(used: i64, reserved: i64) -> Result<Counter, sqlx::Error> {
    Ok(Counter { used: run_count(used)?, reserved: run_count(reserved)? })
}

/// Decides `writes` in arrival order. A write whose key already paid (stored before, or taken
/// earlier in this batch) replays or is a mismatch; one whose account is unknown or whose version
/// moved is stale; one naming a member who is not one (`members` has no row) is refused so; one
/// that would pass the pool's limit or the member's cap (used + reserved + units, by
/// [`admit`]) is refused, naming which; the rest move both counters and are taken.
///
/// # Errors
/// A counter beyond `u32` (a broken row).
pub fn decide_writes(
    writes: &[MeteredWrite],
    mut counters: HashMap<Uuid, Counters>,
    mut members: HashMap<MemberOf, MemberCounters>,
    mut paid: HashMap<KeyOf, Paid>,
) -> Result<WritePlan, sqlx::Error> {
    let mut plan = WritePlan { outcomes: Vec::with_capacity(writes.len()), ..WritePlan::default() };
    for (i, w) in writes.iter().enumerate() {
        let c = &w.consumption;
        let account = *c.account_id.as_uuid();
        let hold = is_hold(w);
        if let Some(key) = &c.idempotency_key {
            if let Some(earlier) = paid.get(&(account, hold, key.as_str().to_owned())) {
                plan.outcomes.push(if key.matches(earlier.fingerprint.as_deref()) {
                    WriteOutcome::Replayed(earlier.answer)
                } else {
                    WriteOutcome::Mismatch
                });
                continue;
            }
        }
        let Some(pool) = counters.get_mut(&account) else {
            plan.outcomes.push(WriteOutcome::Stale);
            continue;
        };
        if pool.version != c.expected_version {
            plan.outcomes.push(WriteOutcome::Stale);
            continue;
        }
        let member = member_of(c.account_id, c.user_id);
        let mut share = match member {
            None => None,
            Some(member) => match members.get_mut(&member) {
                Some(share) => Some((member, share)),
                None => {
                    plan.outcomes.push(WriteOutcome::NotAMember);
                    continue;
                }
            },
        };
        let (cap, mine) = match &share {
            Some((_, s)) => (s.cap.map(run_count).transpose()?, counter(s.used, s.reserved)?),
            None => (None, Counter::default()),
        };
        match admit(c.limit, counter(pool.used, pool.reserved)?, cap, mine, c.units) {
            Ok(()) => {}
            Err(PoolRefusal::PoolLimit) => {
                plan.outcomes.push(WriteOutcome::LimitReached(run_count(pool.used)?));
                continue;
            }
            Err(PoolRefusal::MemberCap) => {
                plan.outcomes.push(WriteOutcome::MemberCapReached(mine.used));
                continue;
            }
        }
        let units = i64::from(c.units.get());
        let (used, reserved) = if hold { (0, units) } else { (units, 0) };
        pool.used += used;
        pool.reserved += reserved;
        add(plan.deltas.entry(account).or_default(), used, reserved);
        if let Some((member, share)) = share.as_mut() {
            share.used += used;
            share.reserved += reserved;
            add(plan.member_deltas.entry(*member).or_default(), used, reserved);
        }
        plan.outcomes.push(WriteOutcome::Consumed(run_count(pool.used)?));
        if let Some(key) = &c.idempotency_key {
            let taken = Paid { fingerprint: key.fingerprint().map(str::to_owned), answer: w.resource_id() };
            paid.insert((account, hold, key.as_str().to_owned()), taken);
        }
        plan.taken.push(i);
    }
    Ok(plan)
}

fn add(delta: &mut (i64, i64), used: i64, reserved: i64) {
    delta.0 += used;
    delta.1 += reserved;
}

/// What a batch of reservation commits comes to.
#[derive(Debug, Default)]
pub struct CommitPlan {
    /// One per commit, in order; `None`: the commit is done alone (its reservation was not read —
    /// unknown, or locked by another transaction — or is past its expiry).
    pub outcomes: Vec<Option<SettleOutcome>>,
    /// The reservations committed: id, runs charged, when.
    pub settled: Vec<(Uuid, i64, Ts)>,
    /// The accounts' counters' changes: charged runs used, held runs no longer reserved.
    pub deltas: Deltas,
    /// The members' counters' changes, likewise.
    pub member_deltas: MemberDeltas,
    /// Usage records to insert: the commit (index into the batch), its reservation's account and
    /// member, runs charged (> 0).
    pub charges: Vec<(usize, AccountId, Option<UserId>, i64)>,
}

/// Decides `commits` in arrival order against the reservations read (`found`).
///
/// # Errors
/// A commit time out of the store's range.
pub fn decide_commits(
    commits: &[Commit],
    mut found: HashMap<Uuid, Reservation>,
) -> Result<CommitPlan, sqlx::Error> {
    let mut plan = CommitPlan { outcomes: Vec::with_capacity(commits.len()), ..CommitPlan::default() };
    for (i, commit) in commits.iter().enumerate() {
        let Some(r) = found.get_mut(&commit.id) else {
            plan.outcomes.push(None);
            continue;
        };
        match r.status {
            ReservationStatus::Committed => {
                plan.outcomes.push(Some(SettleOutcome::Already(r.clone())));
                continue;
            }
            ReservationStatus::Released | ReservationStatus::Expired => {
                plan.outcomes.push(Some(SettleOutcome::Conflict(r.clone())));
                continue;
            }
            ReservationStatus::Held => {}
        }
        if commit.at >= r.expires_at {
            plan.outcomes.push(None);
            continue;
        }
        let charged = commit.runs.unwrap_or(r.runs);
        if charged > r.runs {
            plan.outcomes.push(Some(SettleOutcome::TooManyRuns(r.clone())));
            continue;
        }
        // Stored to the microsecond: the answer says what a later read will.
        let at =
            crate::from_micros(crate::to_micros(commit.at)).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        r.status = ReservationStatus::Committed;
        r.committed_runs = Some(charged);
        r.updated_at = at;
        let (held, charged) = (i64::from(r.runs.get()), i64::from(charged.get()));
        plan.settled.push((r.id, charged, Ts(at)));
        add(plan.deltas.entry(*r.account_id.as_uuid()).or_default(), charged, -held);
        if let Some(member) = member_of(r.account_id, r.user_id) {
            add(plan.member_deltas.entry(member).or_default(), charged, -held);
        }
        if charged > 0 {
            plan.charges.push((i, r.account_id, r.user_id, charged));
        }
        plan.outcomes.push(Some(SettleOutcome::Done(r.clone())));
    }
    Ok(plan)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
