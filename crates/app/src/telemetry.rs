//! Logging: human-readable in dev, JSON lines in production. `RUST_LOG` filters (default `info`
//! for the server, `warn` for a command). Colour only when stderr is a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::RunMode;

/// Installs the global subscriber once; later calls are no-ops (tests start several apps).
pub fn init(mode: RunMode, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match mode {
        RunMode::Dev => builder.compact().try_init(),
        RunMode::Production => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
