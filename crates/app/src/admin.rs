//! `tollgate user …`: operator actions through the same use cases as the API.

use anyhow::{anyhow, Context};
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{Email, PlanId, Role, RunCount, Subscription, User};
use tollgate_ports::services::admin::{Actor, AdminError, MAX_GRANT};

use crate::settings::Settings;
use crate::startup::services;
use crate::store::Store;

/// How many of the user's latest usage records `user show` prints (support questions start there).
const RECENT_USAGE: u32 = 10;

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    Show { email: String },
    SetPlan { email: String, plan: String, runs: Option<RunLimit> },
    SetRole { email: String, role: String },
    Grant { email: String, runs: u32, reason: String },
}

/// The audit log's actor for the command line: `cli:` and the operating-system account running
/// the process (SPEC §12) — its real user id, named from the password database — never an
/// environment variable anyone can set (`USER=alice tollgate …`).
fn cli_actor() -> Actor {
    Actor::cli(&os_account())
}

/// The process's real user: its name from `/etc/passwd`, else `uid:N`.
fn os_account() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .map(str::to_owned);
    let Some(uid) = uid else { return "unknown".to_owned() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&uid.as_str()))
        .and_then(|fields| fields.first().map(|name| (*name).to_owned()))
        .unwrap_or_else(|| format!("uid:{uid}"))
}

/// Runs the command and prints the result as JSON on stdout.
pub async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let admin = services(settings, &store)?.admin;
    let usage = store.ports().usage;
    let actor = cli_actor();
    let email = match &command {
        UserCommand::Show { email }
        | UserCommand::SetPlan { email, .. }
        | UserCommand::SetRole { email, .. }
        | UserCommand::Grant { email, .. } => parse_email(email)?,
    };
    match command {
        UserCommand::Show { .. } => {}
        UserCommand::SetPlan { plan, runs, .. } => {
            let plan: PlanId =
                plan.parse().map_err(|_| anyhow!("unknown plan `{plan}` (free, basic, pro, enterprise)"))?;
            let user = admin.find(&email).await.map_err(describe)?;
            admin.set_plan(user.id, plan, runs, &actor).await.map_err(describe)?;
        }
        UserCommand::SetRole { role, .. } => {
            let role: Role = role.parse().map_err(|_| anyhow!("unknown role `{role}` (user, admin)"))?;
            admin.set_role(&email, role, &actor).await.map_err(describe)?;
        }
        UserCommand::Grant { runs, reason, .. } => {
            anyhow::ensure!((1..=MAX_GRANT).contains(&runs), "runs must be between 1 and {MAX_GRANT}");
            let reason = reason.trim().to_owned();
            anyhow::ensure!(!reason.is_empty(), "a reason is required (it goes into the audit log)");
            let user = admin.find(&email).await.map_err(describe)?;
            admin.grant(user.id, RunCount::new(runs), reason, &actor).await.map_err(describe)?;
        }
    }
    let (user, sub) = admin.show(&email).await.map_err(describe)?;
    let recent = usage.list(user.id, RECENT_USAGE).await.context("Failed to read the usage records")?;
    let mut shown = view(&user, &sub, settings);
    shown["recent_usage"] = serde_json::to_value(&recent).context("Failed to print")?;
    println!("{}", serde_json::to_string_pretty(&shown).context("Failed to print")?);
    Ok(())
}

fn parse_email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|_| anyhow!("`{raw}` is not a valid email address"))
}

fn describe(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::UnknownUser => anyhow!("no user with this email"),
        AdminError::NoSubscription => anyhow!("the user has no subscription"),
        AdminError::Refused(reason) => anyhow!("refused: {reason}"),
        e @ (AdminError::LimitTooLarge | AdminError::TooManyGranted) => anyhow!("refused: {e}"),
        AdminError::Contended => anyhow!("the subscription kept changing; nothing was written: try again"),
        AdminError::Failure(f) => anyhow::Error::new(f).context("the store failed"),
    }
}

fn view(user: &User, sub: &Subscription, settings: &Settings) -> serde_json::Value {
    let limit = sub.runs_limit(&settings.catalog);
    serde_json::json!({
        "user": { "id": user.id, "email": user.email.as_str(), "fullname": user.fullname.as_str(), "role": user.role.as_str() },
        "subscription": {
            "plan": sub.plan().as_str(),
            "status": sub.status().as_str(),
            "monthly_agent_runs": sub.runs_used().get(),
            "monthly_agent_runs_limit": limit.as_option(),
            "runs_granted": sub.runs_granted().get(),
            "current_period_start": sub.period().start().to_string(),
            "current_period_end": sub.period().end().to_string(),
            "is_trial": sub.is_trial(),
            "stripe_customer_id": sub.billing().customer_id,
        }
    })
}

/// `tollgate key …`: service keys for the service API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCommand {
    Create { name: String },
    List,
    Revoke { name: String },
}

/// Runs a key command. `create` prints the key once, on stdout; nothing else ever shows it.
pub async fn run_key(settings: &Settings, command: KeyCommand) -> anyhow::Result<()> {
    use tollgate_ports::services::service_keys::CreateKeyError;
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let keys = services(settings, &store)?.keys;
    let actor = cli_actor();
    match command {
        KeyCommand::Create { name } => {
            let issued = keys.create(&name, &actor).await.map_err(|e| match e {
                CreateKeyError::InvalidName | CreateKeyError::NameTaken => anyhow!("{e}"),
                CreateKeyError::Failure(f) => anyhow::Error::new(f).context("the store failed"),
            })?;
            eprintln!("service key `{}` created; it is shown once, keep it secret:", issued.key.name);
            println!("{}", issued.secret);
        }
        KeyCommand::List => {
            let listed: Vec<serde_json::Value> = keys
                .list()
                .await
                .context("the store failed")?
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "name": k.name,
                        "created_at": k.created_at.to_string(),
                        "revoked_at": k.revoked_at.map(|t| t.to_string()),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&listed).context("Failed to print")?);
        }
        KeyCommand::Revoke { name } => {
            if !keys.revoke(&name, &actor).await.context("the store failed")? {
                anyhow::bail!("no service key named `{name}`");
            }
            println!("service key `{name}` revoked");
        }
    }
    Ok(())
}
