//! Tollgate's application layer.
//!
//! `outbound` holds the port traits the adapters implement (stores, payment provider, password
//! hasher, token issuer, clock, ids), each documenting the errors an adapter must return.
//! `services` holds the use cases that orchestrate them; they are what the HTTP adapter and the
//! CLI call, and they are unit-tested here against `mockall` mocks of the ports.

pub mod outbound;
pub mod redirect;
pub mod services;

pub use tollgate_domain as domain;
