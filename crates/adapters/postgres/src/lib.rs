//! The production store on PostgreSQL.
//!
//! Not implemented yet: the repository ports of `tollgate-ports` get their Postgres
//! implementation, migrations and contract tests in the stores work (issue #3).
