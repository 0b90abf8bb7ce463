//! The HTTP API over real sockets, on a fresh store per test (SQLite by default; Postgres with
//! `TOLLGATE_TEST_STORE=postgres`, as CI also runs them).

// Tests run on real time and make their own ids.
#![allow(clippy::disallowed_methods, reason = "tests run on real time and make their own ids")]
#![allow(clippy::expect_used, reason = "a test fails loudly on what it did not expect")]

mod accounts;
mod admin;
mod auth;
mod bad_input;
mod billing;
mod browser;
mod checkout;
mod gate;
mod hardening;
mod helpers;
mod localstripe;
mod metrics;
mod ops;
mod outage;
mod pages;
mod proxy;
mod reservations;
mod schemathesis;
mod service_api;
mod sessions;
mod stripe_events;
mod usage_history;
mod webhooks;
