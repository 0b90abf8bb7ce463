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
    /// Print `user` and `key` answers as JSON (the admin API's names, RFC 3339 times).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Operator actions on one user (same rules as the API).
    #[command(subcommand)]
    User(UserCommand),
    /// Operator actions on one account (a user's personal one, or an organisation), by id.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Service keys for the service API (`Authorization: Bearer tgk_…`).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Write a consistent copy of the SQLite store to PATH while it keeps serving (Postgres: use pg_dump).
    Backup { path: PathBuf },
    /// Exit 0 when the server on TOLLGATE_LISTEN answers GET /ready with 200 (the container's health check).
    Health,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a key and print it (once; only its hash is stored).
    Create { name: String },
    /// List the keys: name, first characters, created, last used, revoked (never the keys).
    List,
    /// Revoke a key, at once, on every replica.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Print the account, its period, its members with their use and its latest usage.
    Show { id: String },
    /// Set the account's plan, optionally with its own run limit.
    SetPlan {
        id: String,
        plan: String,
        /// Runs per period for this account: a number or `unlimited` (default: the plan's).
        #[arg(long)]
        runs: Option<tollgate_domain::plan::RunLimit>,
    },
    /// Grant extra runs for the account's current period, with a reason for the audit log.
    Grant {
        id: String,
        runs: u32,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Print the user, their period and their latest usage.
    Show { email: String },
    /// Set the plan (free, basic, pro, enterprise), optionally with a per-customer run limit.
    SetPlan {
        email: String,
        plan: String,
        /// Runs per period for this customer: a number or `unlimited` (default: the plan's).
        #[arg(long)]
        runs: Option<tollgate_domain::plan::RunLimit>,
    },
    /// Set the role: `admin` may use the admin API (/api/v1/admin/…), `user` may not.
    SetRole { email: String, role: String },
    /// Grant extra runs for the user's current period, with a reason for the audit log.
    Grant {
        email: String,
        runs: u32,
        #[arg(long)]
        reason: String,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // The server logs what it does; a command logs only what went wrong (its answer is its output).
    telemetry::init(settings.mode(), if matches!(command, Command::Serve) { "info" } else { "warn" });
    let serving = matches!(command, Command::Serve);
    let output = if cli.json { tollgate::admin::Output::Json } else { tollgate::admin::Output::Text };
    // Only `serve` and `migrate` may create a store; the other commands open an existing one and
    // say which, so a command run from another folder never answers from an empty new file.
    if matches!(command, Command::User(_) | Command::Account(_) | Command::Key(_) | Command::Backup { .. }) {
        if let Err(e) = existing_store(&settings) {
            eprintln!("tollgate: {e}");
            return ExitCode::from(1);
        }
    }
    let result = match command {
        Command::Serve => serve(&mut settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::User(command) => tollgate::admin::run(&settings, command.into(), output).await,
        Command::Account(command) => tollgate::admin::run_account(&settings, command.into(), output).await,
        Command::Key(command) => tollgate::admin::run_key(&settings, command.into(), output).await,
        Command::Backup { path } => backup(&settings, &path).await,
        Command::Health => health(&settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Printed once: the server logs it (JSON lines in production), a command prints it.
            if serving && tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!(error = %format!("{e:#}"), "tollgate stopped with an error");
            } else {
                eprintln!("tollgate: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

impl From<UserCommand> for tollgate::admin::UserCommand {
    fn from(c: UserCommand) -> Self {
        match c {
            UserCommand::Show { email } => Self::Show { email },
            UserCommand::SetPlan { email, plan, runs } => Self::SetPlan { email, plan, runs },
            UserCommand::SetRole { email, role } => Self::SetRole { email, role },
            UserCommand::Grant { email, runs, reason } => Self::Grant { email, runs, reason },
        }
    }
}

impl From<AccountCommand> for tollgate::admin::AccountCommand {
    fn from(c: AccountCommand) -> Self {
        match c {
            AccountCommand::Show { id } => Self::Show { id },
            AccountCommand::SetPlan { id, plan, runs } => Self::SetPlan { id, plan, runs },
            AccountCommand::Grant { id, runs, reason } => Self::Grant { id, runs, reason },
        }
    }
}

impl From<KeyCommand> for tollgate::admin::KeyCommand {
    fn from(c: KeyCommand) -> Self {
        match c {
            KeyCommand::Create { name } => Self::Create { name },
            KeyCommand::List => Self::List,
            KeyCommand::Revoke { name } => Self::Revoke { name },
        }
    }
}

/// Checks that a SQLite store exists before a command other than `serve`/`migrate` opens it, and
/// says on stderr which store the command uses.
fn existing_store(settings: &Settings) -> anyhow::Result<()> {
    if let Some(file) = settings.store.sqlite_file() {
        let shown = std::path::absolute(&file).unwrap_or_else(|_| file.clone());
        anyhow::ensure!(
            file.exists(),
            "there is no store at {} (DATABASE_URL={}); run this command where the server runs, set \
             DATABASE_URL, or create the store with `tollgate migrate`",
            shown.display(),
            redact(&settings.store.database_url.0)
        );
        eprintln!("store: {}", shown.display());
    } else {
        eprintln!("store: {}", redact(&settings.store.database_url.0));
    }
    Ok(())
}

/// `GET /ready` on the configured address, by hand over a socket (no HTTP client for one line).
fn health(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut address = settings.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(3);
    let mut socket = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| anyhow::anyhow!("nothing answers on {address}: {e}"))?;
    socket.set_read_timeout(Some(timeout))?;
    socket.write_all(format!("GET /ready HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    let status = answer.lines().next().unwrap_or_default();
    anyhow::ensure!(status.split_whitespace().nth(1) == Some("200"), "not ready: {status}");
    println!("ready");
    Ok(())
}

async fn backup(settings: &Settings, path: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.backup(path).await?;
    println!("backed up {} to {}", redact(&settings.store.database_url.0), path.display());
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let database = redact(&settings.store.database_url.0);
    tracing::info!(store = store.kind(), %database, "migrations applied");
    println!("migrations applied to {database}");
    Ok(())
}

async fn serve(settings: &mut Settings) -> anyhow::Result<()> {
    if let Some(file) = settings.keep_dev_secret().map_err(|e| anyhow::anyhow!("the dev JWT secret: {e}"))? {
        tracing::warn!(
            file = %file.display(),
            "JWT_SECRET_KEY is unset (dev): tokens are signed with a generated secret kept in this file, so they \
             survive a restart; set JWT_SECRET_KEY (at least 32 bytes) in production"
        );
    }
    let settings = &*settings;
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let app = Application::build(settings).await?;
    tracing::info!(
        listen = %settings.server.listen,
        port = app.port(),
        mode = ?settings.mode(),
        store = app.store().kind(),
        "tollgate is listening"
    );
    app.run_until_stopped().await?;
    tracing::info!("tollgate stopped");
    Ok(())
}
