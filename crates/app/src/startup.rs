//! Builds the running application from settings.

use std::net::TcpListener;

use actix_web::dev::Server;
use anyhow::Context;
use tollgate_http::AppState;

use crate::settings::Settings;
use crate::store::Store;

/// A server bound to its listener, with its store open and migrated, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
}

impl Application {
    /// Opens the store from `DATABASE_URL`, applies its migrations, binds `TOLLGATE_LISTEN`
    /// (port 0 picks a free port) and builds the server.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let store = Store::open(settings).await?;
        store.migrate().await?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("Failed to bind TOLLGATE_LISTEN={}", settings.listen))?;
        let port = listener.local_addr().context("Failed to read the bound address")?.port();
        let state = AppState { store: store.ports().health };
        let server = tollgate_http::serve(listener, state).context("Failed to start the HTTP server")?;
        Ok(Self { port, server, store })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
