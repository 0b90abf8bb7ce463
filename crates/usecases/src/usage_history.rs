//! Usage history (SPEC §8): the user's consumptions and refunds, bucketed by day or by period,
//! from the usage records already kept.

use std::sync::Arc;

use time::Duration;
use tollgate_domain::{AccountId, Period, Timestamp, UserId};

use crate::current::{load_current, CurrentError};
use crate::Failure;
use tollgate_ports::{Clock, SubscriptionRepository, UsageRepository};

/// At most this many buckets in one answer.
pub const MAX_BUCKETS: usize = 366;

/// How records are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// UTC days.
    Day,
    /// The subscription's monthly periods (anchored where its current period is).
    Period,
}

/// One bucket `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Runs consumed in the bucket (refunded ones included).
    pub runs_consumed: u64,
    /// Of those, runs given back.
    pub runs_refunded: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("`from` must be before `to`")]
    EmptyRange,
    #[error("more than {MAX_BUCKETS} buckets")]
    TooManyBuckets,
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Failure(#[from] Failure),
}

impl From<CurrentError> for HistoryError {
    fn from(e: CurrentError) -> Self {
        match e {
            CurrentError::NotFound => Self::UnknownUser,
            other => other.into_failure().map_or(Self::UnknownUser, Self::Failure),
        }
    }
}

pub struct UsageHistoryService {
    subs: Arc<dyn SubscriptionRepository>,
    usage: Arc<dyn UsageRepository>,
    clock: Arc<dyn Clock>,
}

impl UsageHistoryService {
    pub fn new(
        subs: Arc<dyn SubscriptionRepository>,
        usage: Arc<dyn UsageRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { subs, usage, clock }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The buckets covering `[from, to)` (the first starts at or before `from`, the last ends at
    /// or after `to`), with every record made in them.
    pub async fn history(
        &self,
        account: AccountId,
        member: Option<UserId>,
        from: Timestamp,
        to: Timestamp,
        granularity: Granularity,
    ) -> Result<Vec<UsageBucket>, HistoryError> {
        if from >= to {
            return Err(HistoryError::EmptyRange);
        }
        let buckets = match granularity {
            Granularity::Day => days(from, to),
            Granularity::Period => {
                let anchor =
                    load_current(self.subs.as_ref(), account, self.clock.now()).await?.period_anchor();
                periods(anchor, from, to)
            }
        }
        .ok_or(HistoryError::TooManyBuckets)?;
        let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else { return Ok(Vec::new()) };
        let records =
            self.usage.between(account, member, first.start, last.end).await.map_err(Failure::from)?;
        let mut buckets = buckets;
        for record in records {
            if let Some(bucket) = buckets.iter_mut().find(|b| b.start <= record.at && record.at < b.end) {
                bucket.runs_consumed += u64::from(record.units);
                if record.refunded {
                    bucket.runs_refunded += u64::from(record.units);
                }
            }
        }
        Ok(buckets)
    }
}

fn bucket(start: Timestamp, end: Timestamp) -> UsageBucket {
    UsageBucket { start, end, runs_consumed: 0, runs_refunded: 0 }
}

/// UTC days from the one containing `from` to the one containing the instant before `to`.
fn days(from: Timestamp, to: Timestamp) -> Option<Vec<UsageBucket>> {
    let mut start = from.replace_time(time::Time::MIDNIGHT);
    let mut all = Vec::new();
    while start < to {
        if all.len() == MAX_BUCKETS {
            return None;
        }
        all.push(bucket(start, start + Duration::DAY));
        start += Duration::DAY;
    }
    Some(all)
}

/// Monthly periods of the sequence anchored at `anchor`, covering `[from, to)`.
fn periods(anchor: Timestamp, from: Timestamp, to: Timestamp) -> Option<Vec<UsageBucket>> {
    let mut period = Period::monthly_containing(anchor, from);
    let mut all = Vec::new();
    while period.start() < to {
        if all.len() == MAX_BUCKETS {
            return None;
        }
        all.push(bucket(period.start(), period.end()));
        period = Period::monthly_containing(anchor, period.end());
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn days_cover_the_range_in_utc_days_and_refuse_more_than_366() {
        let b = days(datetime!(2026-03-01 10:00 UTC), datetime!(2026-03-03 00:00 UTC)).expect("buckets");
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].start, b[1].end), (datetime!(2026-03-01 0:00 UTC), datetime!(2026-03-03 0:00 UTC)));
        assert_eq!(
            days(datetime!(2026-01-01 0:00 UTC), datetime!(2027-01-02 0:00 UTC)).map(|b| b.len()),
            Some(366)
        );
        assert!(days(datetime!(2026-01-01 0:00 UTC), datetime!(2027-01-03 0:00 UTC)).is_none());
    }

    #[test]
    fn periods_follow_the_anchored_monthly_sequence() {
        let anchor = datetime!(2026-01-31 09:00 UTC);
        let b =
            periods(anchor, datetime!(2026-02-10 0:00 UTC), datetime!(2026-04-01 0:00 UTC)).expect("buckets");
        assert!(b.windows(2).all(|w| w[0].end == w[1].start), "contiguous");
        assert!(
            b[0].start <= datetime!(2026-02-10 0:00 UTC)
                && b.last().expect("last").end >= datetime!(2026-04-01 0:00 UTC)
        );
    }
}
