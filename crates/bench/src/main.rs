//! `tollgate-bench`: fixtures for the benchmark harness (`scripts/bench.sh`). A development tool,
//! kept out of the production binary: pointed at a database, `seed` creates thousands of
//! unlimited users.

// A tool: real time and fresh ids, no seams needed.
#![allow(clippy::disallowed_methods, reason = "benchmark fixtures use real time and fresh ids")]
#![allow(clippy::expect_used, reason = "a development tool: a failed fixture step stops it")]

mod fixtures;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tollgate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "tollgate-bench", about = "Fixtures for Tollgate's benchmark harness")]
struct Cli {
    /// Folder holding `default.toml` and `{TOLLGATE_ENV}.toml` (both optional).
    #[arg(long, global = true, default_value = "config")]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create users on enterprise/unlimited and write their access tokens and customer ids.
    Seed {
        #[arg(long, default_value_t = 1000)]
        users: u32,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long)]
        customers: PathBuf,
        /// Where to write the users' ids (for the service API workloads).
        #[arg(long)]
        user_ids: Option<PathBuf>,
        /// Where to write a new service key (for the service API workloads).
        #[arg(long)]
        service_key: Option<PathBuf>,
        /// Make this many organisations of 16 seeded users each (enterprise/unlimited, every
        /// member capped) and write one "<token> <account id>" line per member to `team_out`.
        #[arg(long, default_value_t = 0)]
        teams: u32,
        #[arg(long)]
        team_out: Option<PathBuf>,
    },
    /// Write distinct, signed subscription events for those customers.
    Events {
        #[arg(long)]
        customers: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        count: u32,
        /// First event number (distinct ids across runs).
        #[arg(long, default_value_t = 0)]
        start: u32,
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("tollgate-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Seed { users, tokens, customers, user_ids, service_key, teams, team_out } => {
            let outputs = fixtures::Outputs {
                tokens: &tokens,
                customers: &customers,
                user_ids: user_ids.as_deref(),
                service_key: service_key.as_deref(),
                team: team_out.as_deref().map(|path| (teams, path)),
            };
            fixtures::seed(&settings, users, &outputs).await
        }
        Command::Events { customers, count, start, out } => {
            fixtures::events(&settings, &customers, start, count, &out)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
