//! The repositories, written once for both stores.
//!
//! sqlx's statements are the same text on SQLite and Postgres here (`$N` placeholders, which the
//! SQLite driver accepts too; [`crate::Ts`] for timestamps; portable casts), so each repository
//! is one macro body, expanded in each store crate for its own concrete types — no trait bounds
//! over `sqlx::Database` to carry. A store invokes [`repositories!`](crate::repositories) and
//! provides three methods:
//! - `read_pool(&self) -> &sqlx::Pool<DB>`: for reads;
//! - `write_pool(&self) -> &sqlx::Pool<DB>`: for single-statement writes;
//! - `async write(&self) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error>`: a write
//!   transaction (SQLite: `BEGIN IMMEDIATE` on its one writer connection);
//!
//! and, for the metered writes' group commit (`metered.rs`):
//! - a `batchers: Batchers` field, made at connect time by the expanded free function
//!   `batchers(limit, begin)` (`begin` opens a write transaction; each queue takes at most `limit`
//!   waiting writes). `Self::metered` and the reservation commit submit to it;
//! - `const LOCK_ROWS: &str`, the clause that locks the counters a batch reads (`" FOR UPDATE"` on
//!   Postgres; empty on SQLite, whose write transaction already excludes every other writer);
//! - `const LOCK_ROWS_SKIP_LOCKED: &str`, the clause a commit batch reads reservations with, so it
//!   never waits for one another transaction holds (`" FOR UPDATE SKIP LOCKED"` on Postgres; empty
//!   on SQLite).
//!
//! The macros hold SQL only: what a batch decides (which writes pass, which commits settle) is in
//! [`crate::decide`], plain functions tested without a database.

mod accounts;
mod admin;
mod housekeeping;
mod inbox;
mod metered;
mod reservations;
mod service_keys;
mod sessions;
mod subscriptions;
mod tokens;
mod usage;
mod users;

/// Implements every repository port of `tollgate-ports` for `$store` on database `$db`.
#[macro_export]
macro_rules! repositories {
    ($store:ty, $db:ty) => {
        $crate::__subscriptions!($store, $db);
        $crate::__accounts!($store, $db);
        $crate::__users!($store, $db);
        $crate::__usage!($store, $db);
        $crate::__metered!($store, $db);
        $crate::__sessions!($store, $db);
        $crate::__tokens!($store, $db);
        $crate::__inbox!($store, $db);
        $crate::__service_keys!($store, $db);
        $crate::__reservations!($store, $db);
        $crate::__housekeeping!($store, $db);
        $crate::__admin!($store, $db);

        #[::async_trait::async_trait]
        impl ::tollgate_ports::HealthCheck for $store {
            async fn ping(&self) -> Result<(), ::tollgate_ports::StoreError> {
                ::sqlx::query("SELECT 1")
                    .execute(self.read_pool())
                    .await
                    .map(|_| ())
                    .map_err($crate::store_error)
            }

            fn connections(&self) -> ::tollgate_ports::PoolConnections {
                let count = |pool: &::sqlx::Pool<$db>| {
                    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
                    ::tollgate_ports::PoolConnections { active: pool.size().saturating_sub(idle), idle }
                };
                let (read, write) = (count(self.read_pool()), count(self.write_pool()));
                // One pool serving both (Postgres) is counted once.
                if ::std::ptr::eq(self.read_pool(), self.write_pool()) {
                    read
                } else {
                    ::tollgate_ports::PoolConnections {
                        active: read.active + write.active,
                        idle: read.idle + write.idle,
                    }
                }
            }
        }
    };
}
