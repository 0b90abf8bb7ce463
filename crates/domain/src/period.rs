//! Usage periods and calendar-month arithmetic.
//!
//! A monthly period sequence is anchored at one instant (sign-up for the free plan, the billing
//! anchor for a paid one). Period `k` starts at `anchor + k months`, where adding months keeps the
//! anchor's day when the target month has it and otherwise takes the month's last day
//! (Jan 31 → Feb 28/29 → Mar 31), and keeps the time of day. Periods are half-open `[start, end)`.
//! Boundaries are always computed from the anchor, never from the previous period, so a short
//! month never shortens the months after it.

use serde::{Deserialize, Serialize};
use time::{Date, Month, UtcOffset};

use crate::Timestamp;

/// A period's end is not after its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a period must end after it starts")]
pub struct EmptyPeriod;

/// A half-open interval `[start, end)` of time, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    #[serde(with = "time::serde::rfc3339")]
    start: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    end: Timestamp,
}

impl Period {
    /// Builds a period, refusing an empty or inverted one.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, EmptyPeriod> {
        let (start, end) = (utc(start), utc(end));
        if end > start {
            Ok(Self { start, end })
        } else {
            Err(EmptyPeriod)
        }
    }

    pub const fn start(&self) -> Timestamp {
        self.start
    }

    pub const fn end(&self) -> Timestamp {
        self.end
    }

    /// `start <= at < end`.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }

    /// Whether `at` is at or past the end of this period.
    pub fn has_ended(&self, at: Timestamp) -> bool {
        at >= self.end
    }

    /// The `index`-th monthly period of the sequence anchored at `anchor` (index 0 starts at the anchor).
    pub fn monthly(anchor: Timestamp, index: u32) -> Self {
        Self { start: add_months(anchor, index), end: add_months(anchor, index.saturating_add(1)) }
    }

    /// The monthly period of the sequence anchored at `anchor` that contains `at`; the first
    /// period when `at` is before the anchor.
    pub fn monthly_containing(anchor: Timestamp, at: Timestamp) -> Self {
        let (anchor, at) = (utc(anchor), utc(at));
        if at < anchor {
            return Self::monthly(anchor, 0);
        }
        let months = (at.year() - anchor.year()) * 12 + (at.month() as i32 - anchor.month() as i32);
        let mut index = u32::try_from(months.max(0)).unwrap_or(0);
        while index > 0 && add_months(anchor, index) > at {
            index -= 1;
        }
        while add_months(anchor, index + 1) <= at {
            index += 1;
        }
        Self::monthly(anchor, index)
    }
}

/// `at` plus `months` calendar months, clamping the day to the target month's last day and
/// keeping the time of day. The result is in UTC.
pub fn add_months(at: Timestamp, months: u32) -> Timestamp {
    let at = utc(at);
    let zero_based = at.month() as i64 - 1 + i64::from(months);
    let year = at.year() as i64 + zero_based.div_euclid(12);
    let month = month_from_zero_based(zero_based.rem_euclid(12));
    let year = i32::try_from(year).unwrap_or(i32::MAX);
    let day = at.day().min(month.length(year));
    // The clamped day exists in that month, so this only fails past the `time` crate's year range.
    let date = Date::from_calendar_date(year, month, day).unwrap_or(Date::MAX);
    at.replace_date(date)
}

fn month_from_zero_based(index: i64) -> Month {
    const MONTHS: [Month; 12] = [
        Month::January,
        Month::February,
        Month::March,
        Month::April,
        Month::May,
        Month::June,
        Month::July,
        Month::August,
        Month::September,
        Month::October,
        Month::November,
        Month::December,
    ];
    MONTHS[usize::try_from(index.rem_euclid(12)).unwrap_or(0)]
}

fn utc(at: Timestamp) -> Timestamp {
    at.to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn a_period_must_not_be_empty() {
        let t = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(Period::new(t, t), Err(EmptyPeriod));
        assert_eq!(Period::new(t + Duration::SECOND, t), Err(EmptyPeriod));
        assert!(Period::new(t, t + Duration::SECOND).is_ok());
    }

    #[test]
    fn a_period_is_half_open() {
        let p = Period::new(datetime!(2026-01-01 0:00 UTC), datetime!(2026-02-01 0:00 UTC)).expect("valid");
        assert!(p.contains(datetime!(2026-01-01 0:00 UTC)));
        assert!(p.contains(datetime!(2026-01-31 23:59:59 UTC)));
        assert!(!p.contains(datetime!(2026-02-01 0:00 UTC)));
        assert!(p.has_ended(datetime!(2026-02-01 0:00 UTC)));
    }

    #[test]
    fn months_anchored_on_the_31st_clamp_then_recover() {
        let anchor = datetime!(2026-01-31 10:30 UTC);
        assert_eq!(add_months(anchor, 1), datetime!(2026-02-28 10:30 UTC));
        assert_eq!(add_months(anchor, 2), datetime!(2026-03-31 10:30 UTC));
        assert_eq!(add_months(anchor, 3), datetime!(2026-04-30 10:30 UTC));
        assert_eq!(add_months(anchor, 12), datetime!(2027-01-31 10:30 UTC));
    }

    #[test]
    fn february_of_a_leap_year_ends_on_the_29th() {
        let anchor = datetime!(2028-01-31 0:00 UTC);
        assert_eq!(add_months(anchor, 1), datetime!(2028-02-29 0:00 UTC));
        let feb29 = datetime!(2028-02-29 8:00 UTC);
        assert_eq!(add_months(feb29, 12), datetime!(2029-02-28 8:00 UTC));
        assert_eq!(add_months(feb29, 48), datetime!(2032-02-29 8:00 UTC));
    }

    #[test]
    fn the_free_period_sequence_is_anchored_at_sign_up() {
        let signup = datetime!(2026-01-31 9:00 UTC);
        let feb = Period::monthly(signup, 1);
        assert_eq!(feb.start(), datetime!(2026-02-28 9:00 UTC));
        assert_eq!(feb.end(), datetime!(2026-03-31 9:00 UTC));
    }

    #[test]
    fn the_period_containing_an_instant_is_found_across_many_months() {
        let signup = datetime!(2026-01-31 9:00 UTC);
        let p = Period::monthly_containing(signup, datetime!(2026-07-15 0:00 UTC));
        assert_eq!(p.start(), datetime!(2026-06-30 9:00 UTC));
        assert_eq!(p.end(), datetime!(2026-07-31 9:00 UTC));
        // Exactly on a boundary, the new period has begun.
        let q = Period::monthly_containing(signup, datetime!(2026-07-31 9:00 UTC));
        assert_eq!(q.start(), datetime!(2026-07-31 9:00 UTC));
    }

    #[test]
    fn an_instant_before_the_anchor_gets_the_first_period() {
        let anchor = datetime!(2026-05-10 0:00 UTC);
        let p = Period::monthly_containing(anchor, datetime!(2026-01-01 0:00 UTC));
        assert_eq!(p, Period::monthly(anchor, 0));
    }

    #[test]
    fn periods_are_normalised_to_utc() {
        let local = datetime!(2026-03-01 02:00 +02:00);
        let p = Period::new(local, local + Duration::HOUR).expect("valid");
        assert_eq!(p.start().offset(), UtcOffset::UTC);
        assert_eq!(p.start(), datetime!(2026-03-01 00:00 UTC));
    }

    fn any_instant() -> impl Strategy<Value = Timestamp> {
        // 1990 .. 2100, second resolution.
        (631_152_000i64..4_102_444_800i64).prop_map(|s| Timestamp::from_unix_timestamp(s).expect("in range"))
    }

    proptest! {
        #[test]
        fn consecutive_monthly_periods_are_contiguous_and_never_empty(anchor in any_instant(), k in 0u32..1200) {
            let a = Period::monthly(anchor, k);
            let b = Period::monthly(anchor, k + 1);
            prop_assert_eq!(a.end(), b.start());
            prop_assert!(a.start() < a.end());
        }

        #[test]
        fn a_monthly_period_lasts_between_28_and_31_days(anchor in any_instant(), k in 0u32..1200) {
            let p = Period::monthly(anchor, k);
            let len = p.end() - p.start();
            prop_assert!(len >= Duration::days(28), "{len}");
            prop_assert!(len <= Duration::days(31), "{len}");
        }

        #[test]
        fn the_anchor_day_is_kept_whenever_the_month_has_it(anchor in any_instant(), k in 0u32..1200) {
            let start = Period::monthly(anchor, k).start();
            let last = start.month().length(start.year());
            prop_assert_eq!(start.day(), anchor.day().min(last));
            prop_assert_eq!(start.time(), anchor.time());
        }

        #[test]
        fn exactly_one_period_contains_any_later_instant(anchor in any_instant(), offset in 0i64..(100 * 366 * 86_400)) {
            let at = anchor + Duration::seconds(offset);
            let p = Period::monthly_containing(anchor, at);
            prop_assert!(p.contains(at));
            // Neighbours do not contain it: the sequence does not overlap.
            let idx = (0u32..1300).find(|i| Period::monthly(anchor, *i) == p);
            prop_assert!(idx.is_some());
            let idx = idx.unwrap_or_default();
            prop_assert!(!Period::monthly(anchor, idx + 1).contains(at));
            if idx > 0 {
                prop_assert!(!Period::monthly(anchor, idx - 1).contains(at));
            }
        }
    }
}
