//! The group commit's decisions, without SQL: which writes of a batch pass, in arrival order,
//! against the counters and keys the batch read, and which reservation commits settle. The
//! repository macro (`repositories/metered.rs`) reads the rows, calls these, and writes what they
//! decided; these are unit- and property-tested without a database.

use std::collections::HashMap;

use tollgate_ports::{Reservation, ReservationStatus, SettleOutcome};
use uuid::Uuid;

use crate::batch::{Commit, MeteredWrite, Resource};
use crate::{run_count, Ts, WriteOutcome};

/// A user's counters as a batch moves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub version: i64,
    pub used: i64,
    pub reserved: i64,
}

/// An idempotency key's place: its user, whether it keys a hold (reservations) or a consumption
/// (usage records), and the key.
pub type KeyOf = (Uuid, bool, String);

/// What a key already paid for: its request's fingerprint, and the id a replay answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub fingerprint: Option<String>,
    pub answer: Uuid,
}

/// Each user's `(runs_used, runs_reserved)` change; either may be negative.
pub type Deltas = HashMap<Uuid, (i64, i64)>;

/// What a batch of metered writes comes to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WritePlan {
    /// One per write, in order.
    pub outcomes: Vec<WriteOutcome>,
    /// The counters' changes.
    pub deltas: Deltas,
    /// The writes that pass (indexes into the batch, in order): their rows are inserted.
    pub taken: Vec<usize>,
}

pub fn is_hold(write: &MeteredWrite) -> bool {
    matches!(write.resource, Resource::Hold { .. })
}

/// Decides `writes` in arrival order. A write whose key already paid (stored before, or taken
/// earlier in this batch) replays or is a mismatch; one whose user is unknown or whose version
/// moved is stale; one that would pass its limit (used + reserved + units) is refused; the rest
/// move the counters and are taken.
///
/// # Errors
/// A counter beyond `u32` (a broken row).
pub fn decide_writes(
    writes: &[MeteredWrite],
    mut counters: HashMap<Uuid, Counters>,
    mut paid: HashMap<KeyOf, Paid>,
) -> Result<WritePlan, sqlx::Error> {
    let mut plan = WritePlan { outcomes: Vec::with_capacity(writes.len()), ..WritePlan::default() };
    for (i, w) in writes.iter().enumerate() {
        let c = &w.consumption;
        let user = *c.user_id.as_uuid();
        let hold = is_hold(w);
        if let Some(key) = &c.idempotency_key {
            if let Some(earlier) = paid.get(&(user, hold, key.as_str().to_owned())) {
                plan.outcomes.push(if key.matches(earlier.fingerprint.as_deref()) {
                    WriteOutcome::Replayed(earlier.answer)
                } else {
                    WriteOutcome::Mismatch
                });
                continue;
            }
        }
        let Some(counter) = counters.get_mut(&user) else {
            plan.outcomes.push(WriteOutcome::Stale);
            continue;
        };
        if counter.version != c.expected_version {
            plan.outcomes.push(WriteOutcome::Stale);
            continue;
        }
        let units = i64::from(c.units.get());
        if c.limit.as_option().is_some_and(|limit| counter.used + counter.reserved + units > i64::from(limit))
        {
            plan.outcomes.push(WriteOutcome::LimitReached(run_count(counter.used)?));
            continue;
        }
        let delta = plan.deltas.entry(user).or_default();
        if hold {
            counter.reserved += units;
            delta.1 += units;
        } else {
            counter.used += units;
            delta.0 += units;
        }
        plan.outcomes.push(WriteOutcome::Consumed(run_count(counter.used)?));
        if let Some(key) = &c.idempotency_key {
            let taken = Paid { fingerprint: key.fingerprint().map(str::to_owned), answer: w.resource_id() };
            paid.insert((user, hold, key.as_str().to_owned()), taken);
        }
        plan.taken.push(i);
    }
    Ok(plan)
}

/// What a batch of reservation commits comes to.
#[derive(Debug, Default)]
pub struct CommitPlan {
    /// One per commit, in order; `None`: the commit is done alone (its reservation was not read —
    /// unknown, or locked by another transaction — or is past its expiry).
    pub outcomes: Vec<Option<SettleOutcome>>,
    /// The reservations committed: id, runs charged, when.
    pub settled: Vec<(Uuid, i64, Ts)>,
    /// The counters' changes: charged runs used, held runs no longer reserved.
    pub deltas: Deltas,
    /// Usage records to insert: the commit (index into the batch), its user, runs charged (> 0).
    pub charges: Vec<(usize, Uuid, i64)>,
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
        let delta = plan.deltas.entry(*r.user_id.as_uuid()).or_default();
        delta.0 += charged;
        delta.1 -= held;
        if charged > 0 {
            plan.charges.push((i, *r.user_id.as_uuid(), charged));
        }
        plan.outcomes.push(Some(SettleOutcome::Done(r.clone())));
    }
    Ok(plan)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
