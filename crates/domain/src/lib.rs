//! The Tollgate billing domain.
//!
//! Everything here is pure: no I/O, no async runtime, no database or HTTP types. Time enters only
//! through the [`Clock`] trait (or as an explicit `now` argument), so every rule can be tested at a
//! fixed instant.

pub mod account;
pub mod clock;
pub mod ids;
pub mod money;
pub mod period;
pub mod plan;
pub mod pool;
pub mod provider_events;
pub mod quota;
pub mod status;
pub mod subscription;
pub mod user;

pub use account::{Account, AccountKind, AccountName, Invitation, MemberRole, Membership};
pub use clock::{Clock, FixedClock};
pub use ids::{
    AccountId, CustomerId, InvitationId, ProviderSubscriptionId, SessionId, SubscriptionId, UserId,
};
pub use money::{Currency, Money, MoneyError};
pub use period::Period;
pub use plan::{Plan, PlanCatalog, PlanId, RunCount, RunLimit, TrialTerms};
pub use provider_events::{BillingEvent, EventVerdict, ProviderSubscription};
pub use quota::{ConsumeDecision, Refusal};
pub use status::SubscriptionStatus;
pub use subscription::{AdminPlanError, Subscription, SubscriptionParts, TrialError, UsageEffect};
pub use user::{Email, FullName, Password, Role, User};

/// A point in time. Always UTC in this crate.
pub type Timestamp = time::OffsetDateTime;
