//! Housekeeping: purges beside metered writes.

use time::Duration;
use tollgate_domain::plan::RunLimit;
use tollgate_ports::{ConsumeOutcome, Consumption, InboxEntry};

use crate::fixtures::entry;
use crate::fixtures::{consumption, hold, id, registered, token, used_and_reserved, T0, TEN};
use crate::Subject;

/// Housekeeping on two replicas at once: every row past its cutoff is deleted exactly once, and
/// nothing younger (or still needed) is touched.
pub async fn two_concurrent_purges_delete_each_old_row_once_and_nothing_too_early(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let day = Duration::days(1);
    // Refresh tokens: one expired, one valid.
    let mut expired = token(user.id, id(), "old");
    expired.expires_at = T0 - day;
    s.tokens.insert(&expired).await.unwrap();
    s.tokens.insert(&token(user.id, id(), "fresh")).await.unwrap();
    // Reservations: released 10 days ago, released today, committed 10 days ago, held.
    let old_at = T0 - Duration::days(10);
    let place = |runs: u32| hold(user.id, 0, TEN, runs, None);
    let (old_released, new_released, old_committed, held) = (place(1), place(1), place(1), place(1));
    for (h, at) in [(&old_released, old_at), (&new_released, T0), (&old_committed, old_at), (&held, T0)] {
        let h = Consumption { at, ..h.clone() };
        s.reservations.hold(&h, at + Duration::hours(1)).await.unwrap();
    }
    s.reservations.release(old_released.record_id, old_at).await.unwrap();
    s.reservations.release(new_released.record_id, T0).await.unwrap();
    s.reservations.commit(old_committed.record_id, None, id(), old_at).await.unwrap();
    // Inbox: one entry received 100 days ago, one now.
    let old_event = InboxEntry { received_at: T0 - Duration::days(100), ..entry("evt_old") };
    s.inbox.record(&old_event, None).await.unwrap();
    s.inbox.record(&entry("evt_new"), None).await.unwrap();
    // Keys: a consumption keyed 10 days ago stops replaying, one keyed today still does.
    let old_keyed = Consumption { at: old_at, ..consumption(user.id, 0, TEN, Some("old-key")) };
    s.usage.consume(&old_keyed).await.unwrap();
    s.usage.consume(&consumption(user.id, 0, TEN, Some("new-key"))).await.unwrap();
    let cutoffs = tollgate_ports::PurgeCutoffs {
        refresh_tokens_expired_before: T0,
        reservations_settled_before: T0 - Duration::days(7),
        inbox_received_before: T0 - Duration::days(90),
        idempotency_keys_before: T0 - Duration::days(7),
    };
    let (a, b) = tokio::join!(s.housekeeping.purge(cutoffs), s.housekeeping.purge(cutoffs));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.refresh_tokens + b.refresh_tokens, 1);
    assert_eq!(a.reservations + b.reservations, 1);
    assert_eq!(a.inbox_entries + b.inbox_entries, 1);
    assert_eq!(s.tokens.find_by_hash("old").await.unwrap(), None);
    assert!(s.tokens.find_by_hash("fresh").await.unwrap().is_some());
    assert_eq!(s.reservations.get(old_released.record_id).await.unwrap(), None);
    for kept in [new_released.record_id, old_committed.record_id, held.record_id] {
        assert!(s.reservations.get(kept).await.unwrap().is_some(), "{kept} was deleted too early");
    }
    assert!(!s.inbox.contains("evt_old").await.unwrap());
    assert!(s.inbox.contains("evt_new").await.unwrap());
    // The old committed hold and the old consumption forgot their keys; today's did not.
    assert_eq!(a.idempotency_keys + b.idempotency_keys, 1, "only the consumption's key was old");
    let (used, _) = used_and_reserved(&s, user.id).await;
    let again = s.usage.consume(&consumption(user.id, 0, TEN, Some("old-key"))).await.unwrap();
    assert!(matches!(again, ConsumeOutcome::Consumed { .. }), "an expired key charges anew: {again:?}");
    let replay = s.usage.consume(&consumption(user.id, 0, TEN, Some("new-key"))).await.unwrap();
    assert!(matches!(replay, ConsumeOutcome::Replayed { .. }), "{replay:?}");
    assert_eq!(used_and_reserved(&s, user.id).await.0, used + 1);
    // Again: nothing left to delete.
    assert_eq!(s.housekeeping.purge(cutoffs).await.unwrap(), tollgate_ports::Purged::default());
}

/// A purge of more rows than one chunk deletes them all, in chunks, while metered writes go on
/// between chunks; both finish and every count is exact.
pub async fn a_large_purge_goes_in_chunks_beside_metered_writes(s: Subject) {
    let (user, _) = registered(&s, "ada@example.com").await;
    let chunk = u64::try_from(tollgate_ports::PURGE_CHUNK).unwrap();
    let expired_tokens = chunk * 2 + 17;
    for n in 0..expired_tokens {
        let mut t = token(user.id, id(), &format!("old-{n}"));
        t.expires_at = T0 - Duration::days(1);
        s.tokens.insert(&t).await.unwrap();
    }
    let cutoffs = tollgate_ports::PurgeCutoffs {
        refresh_tokens_expired_before: T0,
        reservations_settled_before: T0 - Duration::days(7),
        inbox_received_before: T0 - Duration::days(90),
        idempotency_keys_before: T0 - Duration::days(7),
    };
    let unlimited = RunLimit::Unlimited;
    let metered = async {
        let mut consumed = 0u32;
        for _ in 0..200 {
            if let ConsumeOutcome::Consumed { .. } =
                s.usage.consume(&consumption(user.id, 0, unlimited, None)).await.unwrap()
            {
                consumed += 1;
            }
        }
        consumed
    };
    let (purged, consumed) = tokio::join!(s.housekeeping.purge(cutoffs), metered);
    assert_eq!(purged.unwrap().refresh_tokens, expired_tokens);
    assert_eq!(consumed, 200);
    assert_eq!(used_and_reserved(&s, user.id).await, (200, 0));
    assert_eq!(s.housekeeping.purge(cutoffs).await.unwrap(), tollgate_ports::Purged::default());
}
