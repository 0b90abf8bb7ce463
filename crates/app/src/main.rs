//! `tollgate`: the billing and usage-quota service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tollgate::settings::Settings;
use tollgate::startup::Application;
use tollgate::store::{redact, Store};
use tollgate::telemetry;

#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about = "Billing and usage quotas for AI-agent products")]
struct Cli {
    /// Folder holding `default.toml` and `{TOLLGATE_ENV}.toml` (both optional).
    #[arg(long, global = true, default_value = "config")]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.mode);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings).await,
        Command::Migrate => migrate(&settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "tollgate stopped with an error");
            eprintln!("tollgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let database = redact(&settings.database_url);
    tracing::info!(store = store.kind(), %database, "migrations applied");
    println!("migrations applied to {database}");
    Ok(())
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    tracing::info!(
        listen = %settings.listen,
        port = app.port(),
        mode = ?settings.mode,
        store = app.store().kind(),
        "tollgate is listening"
    );
    app.run_until_stopped().await?;
    tracing::info!("tollgate stopped");
    Ok(())
}
