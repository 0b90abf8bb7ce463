//! The billing page's bar chart of daily runs: server-rendered SVG from the usage history, built
//! from numbers and dates only (nothing a user typed), readable without JavaScript or colour.

use std::fmt::Write;

use tollgate_usecases::usage_history::UsageBucket;

const WIDTH: u32 = 600;
const HEIGHT: u32 = 141;
const AXIS: u32 = 1;

/// `<svg>` with one bar per bucket (oldest left); each bar has a `<title>` ("Nov 3: 4 runs"), the
/// whole an accessible name summarising it.
pub fn bars(buckets: &[UsageBucket]) -> String {
    let max = buckets.iter().map(|b| b.runs_consumed).max().unwrap_or(0).max(1);
    let total: u64 = buckets.iter().map(|b| b.runs_consumed).sum();
    let n = u32::try_from(buckets.len()).unwrap_or(u32::MAX).max(1);
    let slot = WIDTH / n;
    let bar = slot.saturating_sub(2).max(1);
    let plot = HEIGHT - AXIS;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" preserveAspectRatio="none"><title id="chart-title">Runs per day over the last {n} days: {total} in all, at most {max} in a day</title>"#,
        max = if total == 0 { 0 } else { max },
    );
    let _ = write!(svg, r#"<line class="axis" x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}"/>"#);
    for (i, bucket) in buckets.iter().enumerate() {
        let x = u32::try_from(i).unwrap_or(0) * slot + 1;
        let h = u32::try_from(bucket.runs_consumed * u64::from(plot) / max).unwrap_or(plot);
        let day = format!("{} {}", month(bucket.start.month()), bucket.start.day());
        let runs = bucket.runs_consumed;
        let noun = if runs == 1 { "run" } else { "runs" };
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x}" y="{y}" width="{bar}" height="{h}"><title>{day}: {runs} {noun}</title></rect>"#,
            y = plot - h,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The first and last day shown (`Nov 1`, `Nov 30`), for the axis under the chart (HTML text,
/// so the stretched SVG never distorts it).
pub fn span(buckets: &[UsageBucket]) -> (String, String) {
    let day = |b: &UsageBucket| format!("{} {}", month(b.start.month()), b.start.day());
    (buckets.first().map(day).unwrap_or_default(), buckets.last().map(day).unwrap_or_default())
}

fn month(m: time::Month) -> &'static str {
    use time::Month::*;
    match m {
        January => "Jan",
        February => "Feb",
        March => "Mar",
        April => "Apr",
        May => "May",
        June => "Jun",
        July => "Jul",
        August => "Aug",
        September => "Sep",
        October => "Oct",
        November => "Nov",
        December => "Dec",
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn day(d: u8, runs: u64) -> UsageBucket {
        let start = datetime!(2026-11-01 00:00 UTC).replace_day(d).expect("a day");
        UsageBucket { start, end: start + time::Duration::DAY, runs_consumed: runs, runs_refunded: 0 }
    }

    #[test]
    fn bars_are_scaled_to_the_busiest_day_and_titled() {
        let svg = bars(&[day(1, 0), day(2, 5), day(3, 10)]);
        assert!(svg.contains("Nov 3: 10 runs"), "{svg}");
        assert!(svg.contains("Nov 2: 5 runs"));
        assert!(svg.contains("over the last 3 days: 15 in all, at most 10 in a day"));
        // The busiest day fills the plot (140 units), half of it half.
        assert!(svg.contains(r#"y="0" width="198" height="140""#), "{svg}");
        assert!(svg.contains(r#"y="70" width="198" height="70""#), "{svg}");
    }

    #[test]
    fn an_empty_history_draws_empty_bars() {
        let svg = bars(&[day(1, 0), day(2, 0)]);
        assert!(svg.contains("0 in all, at most 0 in a day"));
        assert!(svg.contains(r#"height="0""#));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
