//! `Telemetry`: what the use cases report for operators (the metrics adapter counts it). Reports
//! are fire-and-forget: they never fail and never block a request.

/// How a metered decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionOutcome {
    /// Allowed and counted (or held).
    Allowed,
    /// A retry with a known idempotency key: answered as before, nothing counted.
    Replayed,
    /// Refused: the period's runs are spent (402 `SUBSCRIPTION_LIMIT_REACHED`).
    LimitReached,
    /// Refused: the status does not allow use (402 `SUBSCRIPTION_INACTIVE`).
    Inactive,
}

impl DecisionOutcome {
    pub const ALL: [Self; 4] = [Self::Allowed, Self::Replayed, Self::LimitReached, Self::Inactive];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Replayed => "replayed",
            Self::LimitReached => "limit_reached",
            Self::Inactive => "inactive",
        }
    }
}

pub trait Telemetry: Send + Sync {
    /// A metered decision (consume, session, gated route, reservation hold).
    fn quota_decision(&self, outcome: DecisionOutcome);
    /// Runs charged to a quota (a consumption, or a reservation's commit).
    fn runs_consumed(&self, runs: u32);
    /// Runs given back by a refund.
    fn runs_refunded(&self, runs: u32);
    /// A webhook event, by its provider type and what became of it.
    fn webhook_event(&self, event_type: &str, outcome: &str);
}

/// Reports nothing (the command line, tests of other things).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn quota_decision(&self, _: DecisionOutcome) {}
    fn runs_consumed(&self, _: u32) {}
    fn runs_refunded(&self, _: u32) {}
    fn webhook_event(&self, _: &str, _: &str) {}
}
