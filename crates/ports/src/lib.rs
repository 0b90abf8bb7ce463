//! Ports: what the application needs from the outside world.

mod accounts;
mod admin;
mod error;
mod housekeeping;
mod inbox;
mod provider;
mod reservations;
mod security;
mod service_keys;
mod sessions;
mod store;
mod subscriptions;
mod system;
mod telemetry;
mod tokens;
mod usage;
mod users;

pub use accounts::*;
pub use admin::*;
pub use error::StoreError;
pub use housekeeping::*;
pub use inbox::*;
pub use provider::*;
pub use reservations::*;
pub use security::*;
pub use service_keys::*;
pub use sessions::*;
pub use store::*;
pub use subscriptions::*;
pub use system::*;
pub use telemetry::*;
pub use tokens::*;
pub use usage::*;
pub use users::*;
