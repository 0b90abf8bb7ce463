//! Wire shapes, kept apart from domain types, one module per resource like `routes/`.
//! Timestamps are RFC 3339 UTC.

mod accounts;
mod admin;
mod auth;
mod billing;
mod service;
mod sessions;
mod usage_history;
mod wire;

pub use accounts::*;
pub use admin::*;
pub use auth::*;
pub use billing::*;
pub use service::*;
pub use sessions::*;
pub use usage_history::*;
pub use wire::{rfc3339, StatusResponse};
