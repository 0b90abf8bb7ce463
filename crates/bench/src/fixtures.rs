//! Fixtures for the benchmark harness, made through the same use cases and adapters as the server.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use secrecy::ExposeSecret;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::{Email, FullName, PlanId, Role, Subscription, SubscriptionId, User, UserId};
use tollgate_ports::{PasswordHash, TokenIssuer};
use tollgate_security::{JwtConfig, JwtIssuer};
use tollgate_usecases::admin::Actor;

use tollgate::settings::Settings;
use tollgate::startup::{services, AUDIENCE, ISSUER};
use tollgate::store::Store;

/// Where `seed` writes what the workloads read.
pub struct Outputs<'a> {
    /// One access token per line (valid one day).
    pub tokens: &'a Path,
    /// One customer id per line.
    pub customers: &'a Path,
    pub user_ids: Option<&'a Path>,
    pub service_key: Option<&'a Path>,
    /// How many teams to make, and where to write their members' "<token> <account id>" lines.
    pub team: Option<(u32, &'a Path)>,
}

/// Members per team.
const TEAM_SIZE: usize = 16;

/// Creates `users` users on enterprise/unlimited (through the admin use case), links each to a
/// Stripe customer `cus_bench_<i>`, and writes their tokens, customers and ids; then the teams.
pub async fn seed(settings: &Settings, users: u32, out: &Outputs<'_>) -> anyhow::Result<()> {
    let (tokens_out, customers_out, user_ids_out, service_key_out) =
        (out.tokens, out.customers, out.user_ids, out.service_key);
    let store = Store::open(settings).await?;
    store.migrate().await?;
    let ports = store.ports();
    let services = services(settings, &store)?;
    let admin = services.admin.clone();
    let mut user_ids = match user_ids_out {
        Some(path) => Some(std::fs::File::create(path).context("Failed to create the user ids file")?),
        None => None,
    };
    if let Some(path) = service_key_out {
        let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let issued = services
            .keys
            .create(&name, &tollgate_usecases::admin::Actor::cli("bench"))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        std::fs::write(path, issued.secret).context("Failed to write the service key")?;
    }
    let issuer = JwtIssuer::new(JwtConfig {
        secret: settings.jwt_secret.expose_secret().as_bytes().to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        access_ttl: time::Duration::days(1),
        refresh_ttl: time::Duration::days(1),
    });
    // Not a real password's hash: benchmark users never sign in, they get tokens here.
    let hash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2g".into());
    let mut tokens = std::fs::File::create(tokens_out).context("Failed to create the tokens file")?;
    let mut customers =
        std::fs::File::create(customers_out).context("Failed to create the customers file")?;
    let now = time::OffsetDateTime::now_utc();
    let mut seeded: Vec<(UserId, String)> = Vec::new();
    for i in 0..users {
        let email = Email::parse(&format!("bench{i}@bench.example")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let user = User {
            id: UserId::from_uuid(uuid::Uuid::new_v4()),
            fullname: FullName::parse("Bench User").map_err(|e| anyhow::anyhow!("{e}"))?,
            email: email.clone(),
            role: Role::User,
            created_at: now,
        };
        let mut sub = Subscription::new_free(
            SubscriptionId::from_uuid(uuid::Uuid::new_v4()),
            tollgate_domain::AccountId::personal(user.id),
            now,
        );
        let customer = format!("cus_bench_{i}");
        let _ = sub.link_customer(&customer.as_str().into(), now);
        // A new row starts at version 0.
        let mut parts = sub.parts();
        parts.version = 0;
        let sub = Subscription::from_parts(parts);
        ports.users.create(&user, &hash, &sub).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        admin
            .set_plan(
                tollgate_domain::AccountId::personal(user.id),
                PlanId::Enterprise,
                Some(RunLimit::Unlimited),
                &Actor::cli("tollgate-bench"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let token = issuer.issue_access(user.id, user.role).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(tokens, "{}", token.token)?;
        seeded.push((user.id, token.token.clone()));
        writeln!(customers, "{customer}")?;
        if let Some(file) = user_ids.as_mut() {
            writeln!(file, "{}", user.id)?;
        }
    }
    println!("seeded {users} users on enterprise/unlimited");
    if let Some((teams, path)) = out.team {
        seed_teams(&ports, &seeded, teams, path, now).await?;
    }
    Ok(())
}

/// `teams` organisations on enterprise/unlimited, each of the next `TEAM_SIZE` seeded users
/// (the first its owner), every member capped far above what a run spends (so the cap is
/// checked on each charge and never refuses); one "<token> <account id>" line per member.
async fn seed_teams(
    ports: &tollgate_ports::RepositoryPorts,
    seeded: &[(UserId, String)],
    teams: u32,
    path: &Path,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    use tollgate_domain::account::{Account, AccountKind, AccountName, Invitation, MemberRole};
    use tollgate_domain::{AccountId, InvitationId, RunCount};
    let mut file = std::fs::File::create(path).context("Failed to create the team file")?;
    for (t, members) in seeded.chunks(TEAM_SIZE).take(teams as usize).enumerate() {
        let account = Account {
            id: AccountId::from_uuid(uuid::Uuid::new_v4()),
            kind: AccountKind::Organisation,
            name: AccountName::parse(&format!("Bench team {t}")).map_err(|e| anyhow::anyhow!("{e}"))?,
            created_at: now,
        };
        let mut sub =
            Subscription::new_free(SubscriptionId::from_uuid(uuid::Uuid::new_v4()), account.id, now);
        let owner = members[0].0;
        let _ = sub.set_plan_by_admin(PlanId::Enterprise, Some(RunLimit::Unlimited), now);
        let mut parts = sub.parts();
        parts.version = 0;
        let sub = Subscription::from_parts(parts);
        ports
            .accounts
            .create_organisation(&account, owner, &sub, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (i, (user, token)) in members.iter().enumerate() {
            if i > 0 {
                let email = Email::parse(&format!("bench{}@bench.example", t * TEAM_SIZE + i))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let invitation = Invitation::new(
                    InvitationId::from_uuid(uuid::Uuid::new_v4()),
                    account.id,
                    email,
                    MemberRole::Member,
                    owner,
                    now,
                );
                let hash = format!("bench-{}", invitation.id);
                ports
                    .accounts
                    .create_invitation(&invitation, &hash)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                ports
                    .accounts
                    .accept_invitation(invitation.id, *user, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            let role = if i == 0 { MemberRole::Owner } else { MemberRole::Member };
            ports
                .accounts
                .update_member(account.id, *user, role, Some(RunCount::new(1_000_000_000)))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            writeln!(file, "{token} {}", account.id)?;
        }
    }
    println!("seeded {teams} teams of {TEAM_SIZE}, every member capped");
    Ok(())
}

/// Writes `count` distinct `customer.subscription.updated` events for the customers listed in
/// `customers`, each line `<Stripe-Signature>\t<body>`, signed now with `STRIPE_WEBHOOK_SECRET`.
pub fn events(
    settings: &Settings,
    customers: &Path,
    start: u32,
    count: u32,
    out: &Path,
) -> anyhow::Result<()> {
    let secret = settings.stripe.webhook_secret.as_ref().context("STRIPE_WEBHOOK_SECRET must be set")?;
    let price = settings
        .catalog
        .get(PlanId::Basic)
        .stripe_price_id
        .clone()
        .context("STRIPE_PRICE_ID_BASIC must be set")?;
    let customers: Vec<String> = std::fs::read_to_string(customers)?.lines().map(str::to_owned).collect();
    anyhow::ensure!(!customers.is_empty(), "no customers");
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let period_start = now - 86_400;
    for n in start..start.saturating_add(count) {
        let i = n as usize % customers.len();
        let customer = &customers[i];
        let body = serde_json::json!({
            "id": format!("evt_bench_{n}"), "object": "event", "type": "customer.subscription.updated",
            "created": now - 3_600 + i64::from(n / customers.len() as u32),
            "data": {"object": {
                "id": format!("sub_bench_{i}"), "object": "subscription", "customer": customer, "status": "active",
                "cancel_at_period_end": false,
                "items": {"data": [{"price": {"id": price}, "current_period_start": period_start,
                                    "current_period_end": period_start + 30 * 86_400}]}
            }}
        })
        .to_string();
        let signature =
            tollgate_stripe::signature::sign(body.as_bytes(), secret.expose_secret().as_bytes(), now);
        writeln!(file, "{signature}\t{body}")?;
    }
    file.flush()?;
    println!("wrote {count} signed events");
    Ok(())
}
