//! Subscription status, aligned with Stripe's values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The text is not one of the eight statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown subscription status `{0}`")]
pub struct UnknownStatus(pub String);

/// Lower case on the wire; parsing is case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Unpaid,
    Canceled,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 8] = [
        Self::Active,
        Self::Trialing,
        Self::PastDue,
        Self::Unpaid,
        Self::Canceled,
        Self::Incomplete,
        Self::IncompleteExpired,
        Self::Paused,
    ];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Canceled => "canceled",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }

    /// Whether a provider reporting this status grants the paid plan (SPEC §2: only `active` and
    /// `trialing`; `incomplete` keeps the previous entitlement).
    pub const fn grants_plan(&self) -> bool {
        matches!(self, Self::Active | Self::Trialing)
    }

    /// A delinquent status that keeps a granted plan (with the grace window for `past_due`), but
    /// never grants one by itself.
    pub const fn has_grace(&self) -> bool {
        matches!(self, Self::PastDue | Self::Unpaid | Self::Paused)
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubscriptionStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownStatus(wanted.chars().take(32).collect()))
    }
}

impl TryFrom<String> for SubscriptionStatus {
    type Error = UnknownStatus;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_wire_name() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(status.as_str().parse::<SubscriptionStatus>(), Ok(status));
            let json = serde_json::to_string(&status).expect("serialise");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<SubscriptionStatus>(&json).ok(), Some(status));
        }
    }

    #[test]
    fn status_input_is_case_insensitive() {
        assert_eq!("PAST_DUE".parse(), Ok(SubscriptionStatus::PastDue));
        assert_eq!(" Trialing ".parse(), Ok(SubscriptionStatus::Trialing));
        assert_eq!(
            serde_json::from_str::<SubscriptionStatus>("\"Incomplete_Expired\"").ok(),
            Some(SubscriptionStatus::IncompleteExpired)
        );
    }

    #[test]
    fn an_unknown_status_is_refused() {
        assert!("expired".parse::<SubscriptionStatus>().is_err());
    }

    #[test]
    fn only_active_and_trialing_grant_a_paid_plan() {
        let granting: Vec<_> =
            SubscriptionStatus::ALL.into_iter().filter(SubscriptionStatus::grants_plan).collect();
        assert_eq!(granting, vec![SubscriptionStatus::Active, SubscriptionStatus::Trialing]);
    }
}
