//! The `tollgate` binary's library half: configuration, telemetry and start-up, kept thin.

pub mod admin;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
