//! `tollgate user …`: operator actions through the same use cases as the API.

use anyhow::{anyhow, Context};
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{AccountId, Email, PlanId, Role, RunCount};
use tollgate_http::dto::{rfc3339, AdminAccountDetail, AdminUserDetail, SubscriptionView};
use tollgate_usecases::admin::{Actor, AdminError, MAX_GRANT};

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

/// How a command prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A line or a few, for a person.
    Text,
    /// One JSON document with the admin API's names and RFC 3339 times, for a program.
    Json,
}

/// Runs the command. A change prints one line of confirmation (`--json`: the user as
/// `GET /api/v1/admin/users/{id}` returns it); `show` prints the user, the period and the latest
/// usage.
pub async fn run(settings: &Settings, command: UserCommand, output: Output) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let admin = services(settings, &store)?.admin;
    let actor = cli_actor();
    let email = match &command {
        UserCommand::Show { email }
        | UserCommand::SetPlan { email, .. }
        | UserCommand::SetRole { email, .. }
        | UserCommand::Grant { email, .. } => parse_email(email)?,
    };
    let done = match command {
        UserCommand::Show { .. } => None,
        UserCommand::SetPlan { plan, runs, .. } => {
            let plan: PlanId =
                plan.parse().map_err(|_| anyhow!("unknown plan `{plan}` (free, basic, pro, enterprise)"))?;
            let user = admin.find(&email).await.map_err(describe)?;
            admin.set_plan(AccountId::personal(user.id), plan, runs, &actor).await.map_err(describe)?;
            Some(format!("plan set to {}", plan.as_str()))
        }
        UserCommand::SetRole { role, .. } => {
            let role: Role = role.parse().map_err(|_| anyhow!("unknown role `{role}` (user, admin)"))?;
            admin.set_role(&email, role, &actor).await.map_err(describe)?;
            Some(format!("role set to {}", role.as_str()))
        }
        UserCommand::Grant { runs, reason, .. } => {
            anyhow::ensure!((1..=MAX_GRANT).contains(&runs), "runs must be between 1 and {MAX_GRANT}");
            let reason = reason.trim().to_owned();
            anyhow::ensure!(!reason.is_empty(), "a reason is required (it goes into the audit log)");
            let user = admin.find(&email).await.map_err(describe)?;
            admin
                .grant(AccountId::personal(user.id), RunCount::new(runs), reason, &actor)
                .await
                .map_err(describe)?;
            Some(format!("granted {runs} runs"))
        }
    };
    // After a change, a failed read-back must not read as a failed change (a retried grant would
    // grant twice).
    let read_back = async {
        let user = admin.find(&email).await.map_err(describe)?;
        admin.detail(user.id, RECENT_USAGE).await.map_err(describe)
    };
    let detail = match (read_back.await, &done) {
        (Ok(detail), _) => detail,
        (Err(e), Some(done)) => {
            return Err(e.context(format!("{done} for {}; only reading it back failed", email.as_str())));
        }
        (Err(e), None) => return Err(e),
    };
    let shown = AdminUserDetail::new(&detail, &settings.catalog);
    match (output, done) {
        (Output::Json, _) => println!("{}", serde_json::to_string_pretty(&shown).context("Failed to print")?),
        (Output::Text, Some(done)) => {
            println!("{}: {done}; {}", shown.user.email, quota_line(&shown.subscription))
        }
        (Output::Text, None) => print!("{}", show_text(&shown)),
    }
    Ok(())
}

/// `pro (active), 12 of 5000 runs used, 4988 remaining, 0 granted, period ends 2027-01-01T00:00:00Z`.
fn quota_line(s: &SubscriptionView) -> String {
    let limit = s.monthly_agent_runs_limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
    let remaining = s.remaining_runs.map_or_else(|| "unlimited".to_owned(), |r| r.to_string());
    format!(
        "{} ({}), {} of {limit} runs used, {remaining} remaining, {} granted, period ends {}",
        s.plan, s.status, s.monthly_agent_runs, s.granted_runs, s.current_period_end
    )
}

fn show_text(d: &AdminUserDetail) -> String {
    use std::fmt::Write;
    let u = &d.user;
    let mut text =
        format!("{} ({}), role {}, id {}, since {}\n", u.email, u.fullname, u.role, u.id, u.created_at);
    let _ = writeln!(text, "{}", quota_line(&d.subscription));
    if let Some(trial_end) = &d.subscription.trial_end {
        let _ = writeln!(text, "trial ends {trial_end}");
    }
    if let Some(customer) = &d.stripe_customer_id {
        let subscription = d.stripe_subscription_id.as_deref().unwrap_or("none");
        let _ = writeln!(text, "stripe customer {customer}, subscription {subscription}");
    }
    for r in &d.recent_usage {
        let refunded = if r.refunded { " (refunded)" } else { "" };
        let _ = writeln!(
            text,
            "{}  {} run{}  {}{refunded}",
            r.at,
            r.runs,
            if r.runs == 1 { "" } else { "s" },
            r.reason
        );
    }
    text
}

fn parse_email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|_| anyhow!("`{raw}` is not a valid email address"))
}

fn describe(e: AdminError) -> anyhow::Error {
    match e {
        AdminError::UnknownUser => anyhow!("no user with this email"),
        AdminError::UnknownAccount => anyhow!("no account with this id"),
        AdminError::NoSubscription => anyhow!("the user has no subscription"),
        AdminError::Refused(reason) => anyhow!("refused: {reason}"),
        e @ (AdminError::LimitTooLarge | AdminError::TooManyGranted) => anyhow!("refused: {e}"),
        AdminError::Contended => anyhow!("the subscription kept changing; nothing was written: try again"),
        AdminError::Failure(f) => anyhow::Error::new(f).context("the store failed"),
    }
}

/// `tollgate account …`: what the operator asked of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    Show { id: String },
    SetPlan { id: String, plan: String, runs: Option<RunLimit> },
    Grant { id: String, runs: u32, reason: String },
}

/// Runs an account command, as `run` does for a user: a change prints one line (`--json`: the
/// account as `GET /api/v1/admin/accounts/{id}` returns it); `show` prints the account, its
/// members with their use this period and its latest usage. The audit entry names the account.
pub async fn run_account(settings: &Settings, command: AccountCommand, output: Output) -> anyhow::Result<()> {
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let admin = services(settings, &store)?.admin;
    let actor = cli_actor();
    let raw = match &command {
        AccountCommand::Show { id }
        | AccountCommand::SetPlan { id, .. }
        | AccountCommand::Grant { id, .. } => id,
    };
    let account: AccountId = raw.trim().parse().map_err(|_| anyhow!("`{raw}` is not an account id"))?;
    let done = match command {
        AccountCommand::Show { .. } => None,
        AccountCommand::SetPlan { plan, runs, .. } => {
            let plan: PlanId =
                plan.parse().map_err(|_| anyhow!("unknown plan `{plan}` (free, basic, pro, enterprise)"))?;
            admin.set_plan(account, plan, runs, &actor).await.map_err(describe)?;
            Some(format!("plan set to {}", plan.as_str()))
        }
        AccountCommand::Grant { runs, reason, .. } => {
            anyhow::ensure!((1..=MAX_GRANT).contains(&runs), "runs must be between 1 and {MAX_GRANT}");
            let reason = reason.trim().to_owned();
            anyhow::ensure!(!reason.is_empty(), "a reason is required (it goes into the audit log)");
            admin.grant(account, RunCount::new(runs), reason, &actor).await.map_err(describe)?;
            Some(format!("granted {runs} runs"))
        }
    };
    let detail = match (admin.account_detail(account, RECENT_USAGE).await.map_err(describe), &done) {
        (Ok(detail), _) => detail,
        (Err(e), Some(done)) => {
            return Err(e.context(format!("{done} for {account}; only reading it back failed")))
        }
        (Err(e), None) => return Err(e),
    };
    let shown = AdminAccountDetail::new(&detail, &settings.catalog);
    let name = detail.account.name.as_str();
    match (output, done) {
        (Output::Json, _) => println!("{}", serde_json::to_string_pretty(&shown).context("Failed to print")?),
        (Output::Text, Some(done)) => println!("{name}: {done}; {}", quota_line(&shown.subscription)),
        (Output::Text, None) => {
            use std::fmt::Write;
            let mut text = format!(
                "{name} ({}), id {account}\n{}\n",
                detail.account.kind.as_str(),
                quota_line(&shown.subscription)
            );
            for m in &shown.members {
                let cap = m.runs_cap.map_or_else(|| "no cap".to_owned(), |c| format!("cap {c}"));
                let _ = writeln!(text, "{} {} ({cap}): {} runs this period", m.role, m.email, m.runs_used);
            }
            print!("{text}");
        }
    }
    Ok(())
}

/// `tollgate key …`: service keys for the service API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCommand {
    Create { name: String },
    List,
    Revoke { name: String },
}

/// Runs a key command. `create` prints the key once, on stdout; nothing else ever shows it.
/// `list` prints a table (`--json`: an array with RFC 3339 times).
pub async fn run_key(settings: &Settings, command: KeyCommand, output: Output) -> anyhow::Result<()> {
    use tollgate_usecases::service_keys::CreateKeyError;
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
            match output {
                Output::Text => println!("{}", issued.secret),
                Output::Json => {
                    println!("{}", serde_json::json!({ "name": issued.key.name, "key": issued.secret }))
                }
            }
        }
        KeyCommand::List => {
            let listed = keys.list().await.context("the store failed")?;
            match output {
                Output::Json => {
                    let listed: Vec<serde_json::Value> = listed
                        .iter()
                        .map(|k| {
                            serde_json::json!({
                                "name": k.name,
                                "prefix": k.prefix,
                                "created_at": rfc3339(k.created_at),
                                "last_used_at": k.last_used_at.map(rfc3339),
                                "revoked_at": k.revoked_at.map(rfc3339),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&listed).context("Failed to print")?);
                }
                Output::Text => print!("{}", key_table(&listed)),
            }
        }
        KeyCommand::Revoke { name } => {
            if !keys.revoke(&name, &actor).await.context("the store failed")? {
                anyhow::bail!("no service key named `{name}`");
            }
            match output {
                Output::Text => println!("service key `{name}` revoked"),
                Output::Json => println!("{}", serde_json::json!({ "name": name.trim(), "revoked": true })),
            }
        }
    }
    Ok(())
}

/// The keys as aligned columns; a key made before prefixes were kept shows `-`.
fn key_table(keys: &[tollgate_ports::ServiceKey]) -> String {
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|k| {
            [
                k.name.clone(),
                k.prefix.as_ref().map_or_else(|| "-".to_owned(), |p| format!("{p}…")),
                rfc3339(k.created_at),
                // Keys made before uses were recorded (no prefix kept either) may have been used.
                k.last_used_at.map_or_else(
                    || if k.prefix.is_some() { "never" } else { "not recorded" }.to_owned(),
                    rfc3339,
                ),
                k.revoked_at.map_or_else(|| "-".to_owned(), rfc3339),
            ]
        })
        .collect();
    let header = ["NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED"].map(str::to_owned);
    let widths: Vec<usize> = (0..5)
        .map(|i| std::iter::once(&header).chain(&rows).map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
