//! The contract every store must meet, one module per aggregate. Each function is one test, run
//! against each store (`contract_suite!`).
#![allow(clippy::unwrap_used, reason = "contract tests fail loudly")]

mod accounts;
mod admin;
mod group_commit;
mod housekeeping;
mod reservations;
mod sessions;
mod subscriptions;
mod usage;
mod users;

pub use accounts::*;
pub use admin::*;
pub use group_commit::*;
pub use housekeeping::*;
pub use reservations::*;
pub use sessions::*;
pub use subscriptions::*;
pub use usage::*;
pub use users::*;
