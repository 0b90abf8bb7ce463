//! Picks the store from `DATABASE_URL` at run time and hands its ports out.

use std::sync::Arc;

use anyhow::Context;
use tollgate_ports::RepositoryPorts;
use tollgate_store_postgres::PgStore;
use tollgate_store_sqlite::{PoolOptions, SqliteStore};

use crate::settings::Settings;

/// The configured store.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Every repository port of the chosen store.
pub type Ports = RepositoryPorts;

impl Store {
    /// Connects to `DATABASE_URL` (`sqlite://…` creates the file and its folder).
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.store.database_url.0.as_str();
        let options = PoolOptions {
            max_connections: settings.store.max_connections.get(),
            acquire_timeout: settings.store.acquire_timeout.0,
            write_queue_limit: settings.store.write_queue_limit.get() as usize,
        };
        let shown = redact(url);
        if url.starts_with("sqlite:") {
            let store = SqliteStore::connect(url, options)
                .await
                .with_context(|| format!("Failed to open {shown}"))?;
            Ok(Self::Sqlite(store))
        } else {
            let store = PgStore::connect(url, options)
                .await
                .with_context(|| format!("Failed to connect to {shown}"))?;
            Ok(Self::Postgres(store))
        }
    }

    /// Applies the store's migrations (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(s) => s.migrate().await,
            Self::Postgres(s) => s.migrate().await,
        }
        .context("Failed to apply migrations")
    }

    /// `tollgate backup PATH`: a consistent online copy of a SQLite store. Postgres has its own
    /// tools for that.
    pub async fn backup(&self, path: &std::path::Path) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(s) => {
                anyhow::ensure!(
                    !path.exists(),
                    "{} exists; a backup never overwrites a file",
                    path.display()
                );
                s.backup(path).await.with_context(|| format!("Failed to back up to {}", path.display()))
            }
            Self::Postgres(_) => anyhow::bail!(
                "`tollgate backup` copies a SQLite store; back up Postgres with its own tools, e.g. \
                 `pg_dump --format=custom --file=tollgate.dump \"$DATABASE_URL\"`"
            ),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    pub fn ports(&self) -> Ports {
        match self {
            Self::Sqlite(s) => RepositoryPorts::of(Arc::new(s.clone())),
            Self::Postgres(s) => RepositoryPorts::of(Arc::new(s.clone())),
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_database_password_is_never_shown() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/tollgate"), "postgres://app:***@db:5432/tollgate");
        assert_eq!(redact("postgres://app@db/tollgate"), "postgres://app@db/tollgate");
        assert_eq!(redact("sqlite://data/tollgate.db"), "sqlite://data/tollgate.db");
    }
}
