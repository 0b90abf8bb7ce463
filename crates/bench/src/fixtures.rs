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

/// Creates `users` users on enterprise/unlimited (through the admin use case), links each to a
/// Stripe customer `cus_bench_<i>`, and writes one access token per line to `tokens_out` (valid
/// one day) and one customer id per line to `customers_out`.
pub async fn seed(
    settings: &Settings,
    users: u32,
    tokens_out: &Path,
    customers_out: &Path,
    user_ids_out: Option<&Path>,
    service_key_out: Option<&Path>,
) -> anyhow::Result<()> {
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
            .set_plan(user.id, PlanId::Enterprise, Some(RunLimit::Unlimited), &Actor::cli("tollgate-bench"))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let token = issuer.issue_access(user.id, user.role).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(tokens, "{}", token.token)?;
        writeln!(customers, "{customer}")?;
        if let Some(file) = user_ids.as_mut() {
            writeln!(file, "{}", user.id)?;
        }
    }
    println!("seeded {users} users on enterprise/unlimited");
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
