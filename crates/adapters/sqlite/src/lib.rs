//! The embedded default store on SQLite.
//!
//! Not implemented yet: the repository ports of `tollgate-ports` get their SQLite
//! implementation, migrations and contract tests in the stores work (issue #3). Until then the
//! binary refuses `tollgate migrate` with a message saying so.
