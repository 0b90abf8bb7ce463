//! One contract test suite for every store, generic over the repository ports.
//!
//! Not written yet: it arrives with the stores (issue #3) and runs against SQLite and Postgres.
