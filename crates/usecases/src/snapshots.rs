//! The subscription each account's last metered decision started from, so the next decision need
//! not read it again (SPEC §11: no read of its own on the metered path in the common case).
//!
//! Remembering is safe because the store enforces every decision atomically: a consumption
//! carries the version its decision saw and the limit it allows, and the store refuses it with
//! `StaleState` when anything but the counters changed since (every other change moves the
//! version) or with `LimitReached` when the counters do not allow it. So a decision started from
//! a remembered subscription can at worst cost a retry; it can never count a run the limit does
//! not allow. What it must not do is refuse on its own: a refusal is only ever answered from a
//! fresh read (see `MeteringService::meter`).
//!
//! The one thing the store does not check is the held runs a decision reports (`runs_reserved`,
//! part of `RateLimit-Remaining`): holds made by this process forget the account, and an entry is
//! used for at most [`MAX_AGE`], so a hold made by another replica shows within that.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::Duration;
use tollgate_domain::{AccountId, RunCount, Subscription, Timestamp};

/// How long a remembered subscription may start decisions.
pub(crate) const MAX_AGE: Duration = Duration::seconds(1);

/// Locks are per shard, so concurrent decisions for different users rarely wait on each other.
const SHARDS: usize = 16;
/// Users remembered per shard; past it, one entry makes room (an arbitrary one: a forgotten user
/// only costs its next decision a read).
const PER_SHARD: usize = 1024;

pub(crate) struct Snapshots {
    shards: Vec<Mutex<HashMap<AccountId, (Subscription, Timestamp)>>>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }
}

impl Snapshots {
    fn shard(
        &self,
        account: AccountId,
    ) -> std::sync::MutexGuard<'_, HashMap<AccountId, (Subscription, Timestamp)>> {
        // Both v4 and v7 ids end in random bits.
        let index = (account.as_uuid().as_u64_pair().1 % SHARDS as u64) as usize;
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The remembered subscription, when a decision at `now` may start from it: not when it is
    /// older than [`MAX_AGE`], nor when it holds runs (a fresh read gives back expired holds
    /// first), nor when time alone changes it (a fresh read saves the change once).
    pub(crate) fn get(&self, account: AccountId, now: Timestamp) -> Option<Subscription> {
        let (mut sub, read_at) = self.shard(account).get(&account)?.clone();
        if now - read_at >= MAX_AGE || sub.runs_reserved() > RunCount::ZERO || sub.refresh(now).changed() {
            return None;
        }
        Some(sub)
    }

    /// Remembers `sub`, read at `now`.
    pub(crate) fn remember(&self, sub: &Subscription, now: Timestamp) {
        let mut shard = self.shard(sub.account_id());
        if shard.len() >= PER_SHARD && !shard.contains_key(&sub.account_id()) {
            if let Some(any) = shard.keys().next().copied() {
                shard.remove(&any);
            }
        }
        shard.insert(sub.account_id(), (sub.clone(), now));
    }

    pub(crate) fn forget(&self, account: AccountId) {
        self.shard(account).remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{self as ts, free_sub, with};

    #[test]
    fn a_remembered_subscription_starts_decisions_until_it_is_forgotten() {
        let snapshots = Snapshots::default();
        let sub = free_sub(4);
        assert!(snapshots.get(sub.account_id(), ts::NOW).is_none());
        snapshots.remember(&sub, ts::NOW);
        assert_eq!(snapshots.get(sub.account_id(), ts::NOW), Some(sub.clone()));
        snapshots.forget(sub.account_id());
        assert!(snapshots.get(sub.account_id(), ts::NOW).is_none());
    }

    #[test]
    fn a_remembered_subscription_is_not_used_once_it_is_a_second_old() {
        let snapshots = Snapshots::default();
        let sub = free_sub(4);
        snapshots.remember(&sub, ts::NOW);
        let almost = ts::NOW + MAX_AGE - Duration::milliseconds(1);
        assert_eq!(snapshots.get(sub.account_id(), almost), Some(sub.clone()));
        assert!(snapshots.get(sub.account_id(), ts::NOW + MAX_AGE).is_none());
    }

    #[test]
    fn a_subscription_holding_runs_or_due_a_rollover_is_read_afresh() {
        let snapshots = Snapshots::default();
        let holding = with(&free_sub(4), |p| p.runs_reserved = RunCount::new(2));
        snapshots.remember(&holding, ts::NOW);
        assert!(snapshots.get(holding.account_id(), ts::NOW).is_none());

        let ending = free_sub(4);
        let end = ending.period().end();
        snapshots.remember(&ending, end - Duration::milliseconds(10));
        assert!(snapshots.get(ending.account_id(), end - Duration::milliseconds(5)).is_some());
        assert!(
            snapshots.get(ending.account_id(), end).is_none(),
            "the period is over: a fresh read rolls it over"
        );
    }

    #[test]
    fn a_full_shard_makes_room_for_a_new_account() {
        let snapshots = Snapshots::default();
        let base = free_sub(0);
        let users: Vec<AccountId> = (0..(SHARDS * PER_SHARD + 1) as u128)
            .map(|n| AccountId::from_uuid(uuid::Uuid::from_u128(n << 64 | n)))
            .collect();
        for &account in &users {
            snapshots.remember(&with(&base, |p| p.account_id = account), ts::NOW);
        }
        let kept: usize = snapshots.shards.iter().map(|s| s.lock().map(|s| s.len()).unwrap_or(0)).sum();
        assert_eq!(kept, SHARDS * PER_SHARD);
        assert!(snapshots.get(*users.last().expect("users"), ts::NOW).is_some(), "the newest is remembered");
    }
}
