//! Builds the running application from settings.

use std::net::TcpListener;

use actix_web::dev::Server;
use anyhow::Context;

use crate::settings::Settings;

/// A server bound to its listener, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free port) and builds the server.
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("Failed to bind TOLLGATE_LISTEN={}", settings.listen))?;
        let port = listener.local_addr().context("Failed to read the bound address")?.port();
        let server = tollgate_http::serve(listener).context("Failed to start the HTTP server")?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
