//! Group commit: the metered writes that arrive while a write transaction is in flight are
//! applied together in the next one (SPEC §11).
//!
//! One [`Batcher`] per store owns the metered write path. A request queues its [`MeteredWrite`]
//! and waits for its own answer; the batcher takes the first queued write, drains whatever else is
//! queued (up to [`MAX_BATCH`]) and hands the batch to the store, which decides every write in
//! arrival order against its own user's limit and applies the batch with set-based statements in
//! one transaction. Everyone is answered after `COMMIT`. Batches grow only while transactions are
//! in flight, so a request alone is never delayed waiting for company.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tollgate_domain::{RunCount, Timestamp};
use tollgate_ports::{Consumption, Session, SettleOutcome, StoreError};

use crate::WriteOutcome;

/// The most writes one transaction carries.
pub const MAX_BATCH: usize = 64;

/// A metered write: a consumption and the resource it pays for, written together.
#[derive(Debug, Clone)]
pub struct MeteredWrite {
    pub consumption: Consumption,
    pub resource: Resource,
}

/// What a metered write creates beside its count.
#[derive(Debug, Clone)]
pub enum Resource {
    /// A usage record alone (`POST /usage/consume`, a gated route).
    Usage,
    /// A usage record and the session it paid for.
    Session(Session),
    /// A hold on `runs_reserved` and its reservation, instead of a usage record.
    Hold { expires_at: Timestamp },
}

impl MeteredWrite {
    /// The id a replay of this write answers with: the session, else the record (or the hold).
    pub fn resource_id(&self) -> uuid::Uuid {
        match &self.resource {
            Resource::Session(session) => *session.id.as_uuid(),
            Resource::Usage | Resource::Hold { .. } => self.consumption.record_id,
        }
    }
}

/// A reservation's commit (`ReservationRepository::commit`).
#[derive(Debug, Clone, Copy)]
pub struct Commit {
    pub id: uuid::Uuid,
    /// Runs charged; all held runs when `None`.
    pub runs: Option<RunCount>,
    pub record_id: uuid::Uuid,
    pub at: Timestamp,
}

/// A store's group-commit queues: metered writes, and reservation commits. On Postgres neither
/// waits in a deadlock: a metered batch locks only counters, in user order (the reservations it
/// writes are new rows); a commit batch skips reservations another transaction holds, then locks
/// counters in user order, as every other path does after any reservation.
#[derive(Debug, Clone)]
pub struct Batchers {
    pub metered: Batcher<MeteredWrite, WriteOutcome>,
    /// `None`: the commit is done alone (a hold found past its expiry expires in that transaction).
    pub commits: Batcher<Commit, Option<SettleOutcome>>,
}

/// Why a batch was not applied.
#[derive(Debug)]
pub enum BatchFailed {
    /// Its statements failed before `COMMIT` (a same-key race with another replica, a
    /// constraint): nothing was written, each write is retried in a transaction of its own.
    Retry,
    /// The transaction could not begin or its `COMMIT` failed: the outcome is the store's error.
    Store(StoreError),
}

/// Where a write's answer goes: `None` asks its caller to write it alone.
type Answer<A> = oneshot::Sender<Result<Option<A>, StoreError>>;

/// The queue in front of a store's writes of one kind `W`, each answered with an `A`. Cloning
/// shares it. It holds at most its limit of waiting writes: one more is refused at once
/// ([`StoreError::Overloaded`]), never queued without bound.
pub struct Batcher<W, A> {
    queue: mpsc::Sender<(W, Answer<A>)>,
}

impl<W, A> Clone for Batcher<W, A> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone() }
    }
}

impl<W, A> std::fmt::Debug for Batcher<W, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<W: Clone + Send + 'static, A: Send + 'static> Batcher<W, A> {
    /// Starts the batcher on the current Tokio runtime. One batch runs at a time, through
    /// `apply`, which returns one answer per write, in order: batches are applied in the order
    /// their writes arrived, so each write is decided after every write that arrived before it.
    /// The task ends when the last clone is dropped. At most `limit` writes wait (at least one).
    pub fn spawn<F, Fut>(limit: usize, apply: F) -> Self
    where
        F: Fn(Vec<W>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<A>, BatchFailed>> + Send + 'static,
    {
        let (queue, mut queued) = mpsc::channel::<(W, Answer<A>)>(limit.max(1));
        tokio::spawn(async move {
            // While a batch is applied, the next writes queue up and form the next batch.
            while let Some(first) = queued.recv().await {
                // A write whose caller went away (a dropped request) before it was decided is left
                // out: nothing was decided for it, as when a request's own transaction was dropped.
                let waiting = |(_, answer): &(W, Answer<A>)| !answer.is_closed();
                let mut batch = Vec::with_capacity(MAX_BATCH);
                batch.extend(Some(first).filter(waiting));
                while batch.len() < MAX_BATCH {
                    match queued.try_recv() {
                        Ok(next) => batch.extend(Some(next).filter(waiting)),
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                let (writes, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                if writes.len() == 1 {
                    answer(answers, run(&apply, writes).await);
                    continue;
                }
                match run(&apply, writes.clone()).await {
                    // Each write again in a batch of its own, still in arrival order; one that
                    // fails alone is answered `None`, and its caller writes it alone.
                    Some(Err(BatchFailed::Retry)) => {
                        for (write, answer_to) in writes.into_iter().zip(answers) {
                            answer(vec![answer_to], run(&apply, vec![write]).await);
                        }
                    }
                    outcome => answer(answers, outcome),
                }
            }
        });
        Self { queue }
    }

    /// Queues `write` and waits for the transaction holding it. `None` means the batch could not
    /// take it, even alone: the caller writes it alone (where a lost same-key race with another
    /// replica turns into a replay, and any other failure is its own). A full queue refuses the
    /// write at once (`Overloaded`): nothing of it was written.
    pub async fn submit(&self, write: W) -> Result<Option<A>, StoreError> {
        let stopped = || StoreError::unavailable("the store's metered writer stopped");
        let (answer, answered) = oneshot::channel();
        self.queue.try_send((write, answer)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => stopped(),
        })?;
        answered.await.map_err(|_| stopped())?
    }
}

/// `apply(writes)` in a task of its own, so that a panic fails this batch (`None`: its callers
/// see the store unavailable) and never the writes that come after it.
async fn run<W, A, F, Fut>(apply: &F, writes: Vec<W>) -> Option<Result<Vec<A>, BatchFailed>>
where
    A: Send + 'static,
    F: Fn(Vec<W>) -> Fut,
    Fut: Future<Output = Result<Vec<A>, BatchFailed>> + Send + 'static,
{
    tokio::spawn(apply(writes)).await.ok()
}

fn answer<A>(answers: Vec<Answer<A>>, outcome: Option<Result<Vec<A>, BatchFailed>>) {
    // A caller that went away (a dropped request) is not waiting: its send fails, harmlessly.
    // A batch that panicked answers nobody: its callers' channels close (store unavailable).
    let Some(outcome) = outcome else { return };
    match outcome {
        Ok(results) if results.len() == answers.len() => {
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(Ok(Some(result)));
            }
        }
        Ok(_) => {
            for answer in answers {
                let _ = answer.send(Err(StoreError::failed("a batch answered the wrong number of writes")));
            }
        }
        Err(BatchFailed::Retry) => {
            for answer in answers {
                let _ = answer.send(Ok(None));
            }
        }
        Err(BatchFailed::Store(e)) => {
            let (unavailable, message) = match &e {
                StoreError::Unavailable(source) => (true, source.to_string()),
                StoreError::Failed(source) => (false, source.to_string()),
                StoreError::Overloaded => (true, e.to_string()),
            };
            for answer in answers {
                let _ = answer.send(Err(if unavailable {
                    StoreError::unavailable(message.clone())
                } else {
                    StoreError::failed(message.clone())
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::Semaphore;
    use tollgate_domain::plan::{RunCount, RunLimit};
    use tollgate_domain::UserId;
    use tollgate_ports::UsageReason;

    use super::*;

    fn write(n: u32) -> MeteredWrite {
        MeteredWrite {
            consumption: Consumption {
                record_id: uuid::Uuid::from_u128(u128::from(n)),
                account_id: tollgate_domain::AccountId::from_uuid(uuid::Uuid::from_u128(1)),
                user_id: Some(UserId::from_uuid(uuid::Uuid::from_u128(1))),
                units: RunCount::new(n),
                limit: RunLimit::Unlimited,
                expected_version: 0,
                idempotency_key: None,
                reason: UsageReason::SessionCreate,
                at: time::OffsetDateTime::UNIX_EPOCH,
            },
            resource: Resource::Usage,
        }
    }

    /// Each batch, as its writes' units.
    type Recorded = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A batcher whose batches are recorded (as their writes' units) and each answered with
    /// `Consumed(units)`; every batch takes a permit of `gate` before it is answered.
    fn recording(gate: Arc<Semaphore>) -> (Batcher<MeteredWrite, WriteOutcome>, Recorded) {
        recording_with(MAX_BATCH * 4, gate)
    }

    /// [`recording`] with a queue of `limit` waiting writes.
    fn recording_with(limit: usize, gate: Arc<Semaphore>) -> (Batcher<MeteredWrite, WriteOutcome>, Recorded) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let batcher = Batcher::spawn(limit, move |writes: Vec<MeteredWrite>| {
            let (gate, seen) = (gate.clone(), seen.clone());
            async move {
                let units: Vec<u32> = writes.iter().map(|w| w.consumption.units.get()).collect();
                seen.lock().unwrap().push(units.clone());
                gate.acquire().await.unwrap().forget();
                Ok(units.into_iter().map(|n| WriteOutcome::Consumed(RunCount::new(n))).collect())
            }
        });
        (batcher, batches)
    }

    #[tokio::test]
    async fn a_lone_write_goes_at_once_and_writes_queued_meanwhile_go_together_in_order() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(gate.clone());
        let first = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(write(1)).await }
        });
        // The first write is being applied alone while the others arrive.
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (2..=11)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(write(n)).await })
            })
            .collect();
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), Some(WriteOutcome::Consumed(RunCount::new(1))));
        while batches.lock().unwrap().len() < 2 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        for (n, answer) in (2..=11).zip(rest) {
            assert_eq!(answer.await.unwrap().unwrap(), Some(WriteOutcome::Consumed(RunCount::new(n))));
        }
        assert_eq!(*batches.lock().unwrap(), vec![vec![1], (2..=11).collect::<Vec<_>>()]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_went_away_before_its_batch_is_left_out() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(gate.clone());
        let submit = |n| {
            let batcher = batcher.clone();
            tokio::spawn(async move { batcher.submit(write(n)).await })
        };
        let first = submit(1);
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let (gone, kept) = (submit(2), submit(3));
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        assert!(gone.await.is_err());
        gate.add_permits(2);
        assert!(first.await.unwrap().is_ok());
        assert_eq!(kept.await.unwrap().unwrap(), Some(WriteOutcome::Consumed(RunCount::new(3))));
        assert_eq!(*batches.lock().unwrap(), vec![vec![1], vec![3]]);
    }

    #[tokio::test]
    async fn a_batch_takes_at_most_max_batch_writes() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(gate.clone());
        let answers: Vec<_> = (1..=u32::try_from(MAX_BATCH).unwrap() + 2)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(write(n)).await })
            })
            .collect();
        gate.add_permits(answers.len());
        for answer in answers {
            assert!(answer.await.unwrap().is_ok());
        }
        assert!(batches.lock().unwrap().iter().all(|b| b.len() <= MAX_BATCH));
    }

    #[tokio::test]
    async fn a_batch_that_fails_is_applied_again_one_write_at_a_time_in_arrival_order() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::<MeteredWrite, WriteOutcome>::spawn(MAX_BATCH * 4, {
            let batches = batches.clone();
            move |writes: Vec<MeteredWrite>| {
                let units: Vec<u32> = writes.iter().map(|w| w.consumption.units.get()).collect();
                batches.lock().unwrap().push(units.clone());
                async move {
                    match units[..] {
                        [n] => Ok(vec![WriteOutcome::Consumed(RunCount::new(n))]),
                        _ => Err(BatchFailed::Retry),
                    }
                }
            }
        });
        let answers: Vec<_> = (1..=3)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(write(n)).await })
            })
            .collect();
        for (n, answer) in (1..=3).zip(answers) {
            assert_eq!(answer.await.unwrap().unwrap(), Some(WriteOutcome::Consumed(RunCount::new(n))));
        }
        assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 3], vec![1], vec![2], vec![3]]);
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_alone_or_fails_each_write_and_a_panic_stops_nothing() {
        let calls = Arc::new(Mutex::new(0));
        let batcher = Batcher::<MeteredWrite, WriteOutcome>::spawn(MAX_BATCH * 4, {
            let calls = calls.clone();
            move |writes: Vec<MeteredWrite>| {
                let call = {
                    let mut calls = calls.lock().unwrap();
                    *calls += 1;
                    *calls
                };
                async move {
                    match call {
                        1 => Err(BatchFailed::Retry),
                        2 => Err(BatchFailed::Store(StoreError::unavailable("down"))),
                        3 => panic!("a bug in a batch"),
                        _ => Ok(vec![WriteOutcome::Stale; writes.len()]),
                    }
                }
            }
        });
        assert_eq!(batcher.submit(write(1)).await.unwrap(), None);
        assert!(matches!(batcher.submit(write(1)).await, Err(StoreError::Unavailable(_))));
        assert!(matches!(batcher.submit(write(1)).await, Err(StoreError::Unavailable(_))));
        assert_eq!(batcher.submit(write(1)).await.unwrap(), Some(WriteOutcome::Stale));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_a_write_at_once_and_takes_writes_again_when_it_drains() {
        let gate = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording_with(2, gate.clone());
        let submit = |n| {
            let batcher = batcher.clone();
            tokio::spawn(async move { batcher.submit(write(n)).await })
        };
        // One write in flight (taken off the queue), two waiting: the queue is full.
        let first = submit(1);
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let waiting = [submit(2), submit(3)];
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(batcher.submit(write(4)).await, Err(StoreError::Overloaded)));
        gate.add_permits(2);
        assert!(first.await.unwrap().is_ok());
        for w in waiting {
            assert!(w.await.unwrap().is_ok());
        }
        gate.add_permits(1);
        assert_eq!(batcher.submit(write(5)).await.unwrap(), Some(WriteOutcome::Consumed(RunCount::new(5))));
        assert_eq!(
            *batches.lock().unwrap(),
            vec![vec![1], vec![2, 3], vec![5]],
            "the refused write was never applied"
        );
    }
}
