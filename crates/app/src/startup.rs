//! Builds the running application from settings: store, adapters, use cases, server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use anyhow::Context;
use secrecy::ExposeSecret;
use tollgate_http::{AppState, HttpConfig, Services};
use tollgate_ports::{
    Clock, IdGenerator, NoTelemetry, PaymentProvider, RandomIds, SystemClock, Telemetry, WebhookVerifier,
};
use tollgate_security::{Argon2Hasher, HashingLimits, JwtConfig, JwtIssuer};
use tollgate_stripe::{StripeProvider, StripeWebhooks};
use tollgate_usecases::accounts::{AccountsService, SeatSync};
use tollgate_usecases::admin::AdminService;
use tollgate_usecases::auth::AuthService;
use tollgate_usecases::billing::BillingService;
use tollgate_usecases::housekeeping::HousekeepingService;
use tollgate_usecases::metering::{MeteringService, QuotaPolicy};
use tollgate_usecases::reservations::ReservationService;
use tollgate_usecases::service_keys::ServiceKeyService;
use tollgate_usecases::sessions::SessionService;
use tollgate_usecases::usage_history::UsageHistoryService;
use tollgate_usecases::webhooks::WebhookService;

use crate::settings::Settings;
use crate::store::Store;

/// JWT `iss` and `aud`.
pub const ISSUER: &str = "tollgate";
pub const AUDIENCE: &str = "tollgate-api";

/// The use cases over a store, as configured.
pub fn services(settings: &Settings, store: &Store) -> anyhow::Result<Services> {
    services_with(settings, store, Arc::new(SystemClock), Arc::new(NoTelemetry))
}

/// The password hasher's workers and the token issuer, as configured.
fn security(settings: &Settings) -> anyhow::Result<(Arc<Argon2Hasher>, Arc<JwtIssuer>)> {
    let (workers, queue) = settings.auth.hashing();
    let limits = HashingLimits { workers: workers as usize, queue: queue as usize };
    let hasher = Arc::new(Argon2Hasher::new(limits).context("Failed to start the password hashers")?);
    let issuer = Arc::new(JwtIssuer::new(JwtConfig {
        secret: settings.jwt_secret.expose_secret().as_bytes().to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        access_ttl: time::Duration::try_from(settings.auth.access_ttl.0).unwrap_or(time::Duration::MINUTE),
        refresh_ttl: time::Duration::days(i64::from(settings.auth.refresh_ttl_days.get())),
    }));
    Ok((hasher, issuer))
}

/// The payment provider on Stripe; without a secret key, none (checkout and portal answer 503).
fn payment_provider(settings: &Settings) -> anyhow::Result<Option<Arc<dyn PaymentProvider>>> {
    let Some(key) = &settings.stripe.secret_key else {
        tracing::info!("STRIPE_SECRET_KEY is not set: checkout and portal answer 503 STRIPE_NOT_CONFIGURED");
        return Ok(None);
    };
    let provider = StripeProvider::new(key.expose_secret(), &settings.stripe.api_base.0)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("Invalid STRIPE_SECRET_KEY or STRIPE_API_BASE")?;
    Ok(Some(Arc::new(provider)))
}

/// Stripe's webhook verifier; without a webhook secret, none (the webhook answers 503).
fn webhook_verifier(settings: &Settings) -> Option<Arc<dyn WebhookVerifier>> {
    let Some(secret) = &settings.stripe.webhook_secret else {
        tracing::info!("STRIPE_WEBHOOK_SECRET is not set: the webhook answers 503 STRIPE_NOT_CONFIGURED");
        return None;
    };
    Some(Arc::new(StripeWebhooks::new(secret.expose_secret())))
}

/// [`services`] with another clock (tests move time), reporting to `telemetry` (metrics).
pub fn services_with(
    settings: &Settings,
    store: &Store,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
) -> anyhow::Result<Services> {
    let ports = store.ports();
    let ids: Arc<dyn IdGenerator> = Arc::new(RandomIds);
    let (hasher, issuer) = security(settings)?;
    let policy = QuotaPolicy {
        catalog: Arc::new(settings.catalog.clone()),
        past_due_grace: time::Duration::hours(i64::from(settings.billing.past_due_grace_hours)),
    };
    let provider = payment_provider(settings)?;
    let verifier = webhook_verifier(settings);
    let keys = ServiceKeyService::new(ports.service_keys.clone(), issuer.clone(), clock.clone(), ids.clone());
    let mut accounts = AccountsService::new(
        ports.accounts.clone(),
        ports.users.clone(),
        issuer.clone(),
        clock.clone(),
        ids.clone(),
    );
    if let Some(provider) = &provider {
        accounts = accounts.with_seat_sync(SeatSync {
            subs: ports.subs.clone(),
            provider: provider.clone(),
            catalog: policy.catalog.clone(),
        });
    }
    let auth = AuthService::new(
        ports.users.clone(),
        ports.tokens.clone(),
        hasher,
        issuer,
        clock.clone(),
        ids.clone(),
    )
    .with_reuse_grace(
        time::Duration::try_from(settings.auth.refresh_reuse_grace.0).unwrap_or(time::Duration::ZERO),
    );
    let metering = Arc::new(
        MeteringService::new(
            ports.subs.clone(),
            ports.usage.clone(),
            policy.clone(),
            clock.clone(),
            ids.clone(),
        )
        .with_telemetry(telemetry.clone()),
    );
    let reservations =
        ReservationService::new(metering.clone(), ports.reservations.clone(), clock.clone(), ids.clone());
    let billing = BillingService::new(
        ports.subs.clone(),
        ports.users.clone(),
        ports.accounts.clone(),
        provider,
        policy.clone(),
        settings.billing.redirect_origins.clone(),
        clock.clone(),
        ids.clone(),
    );
    let sessions = SessionService::new(ports.sessions.clone(), metering.clone(), clock.clone(), ids.clone());
    let webhooks =
        WebhookService::new(verifier, ports.inbox.clone(), ports.subs.clone(), policy, clock.clone())
            .with_telemetry(telemetry);
    let admin = AdminService::new(
        ports.users.clone(),
        ports.accounts.clone(),
        ports.subs.clone(),
        ports.usage.clone(),
        ports.admin.clone(),
        clock.clone(),
        ids.clone(),
    );
    Ok(Services {
        auth: Arc::new(auth),
        accounts: Arc::new(accounts),
        billing: Arc::new(billing),
        metering,
        sessions: Arc::new(sessions),
        webhooks: Arc::new(webhooks),
        admin: Arc::new(admin),
        keys: Arc::new(keys),
        reservations: Arc::new(reservations),
        usage_history: Arc::new(UsageHistoryService::new(
            ports.subs.clone(),
            ports.usage.clone(),
            clock.clone(),
        )),
        housekeeping: Arc::new(HousekeepingService::new(
            ports.housekeeping.clone(),
            clock.clone(),
            time::Duration::days(i64::from(settings.billing.inbox_retention_days)),
        )),
        health: ports.health,
    })
}

/// The HTTP settings.
pub fn http_config(settings: &Settings) -> anyhow::Result<HttpConfig> {
    let production = settings.server.mode == crate::settings::RunMode::Production;
    let mut pages = tollgate_http::pages::session::PageKeys::new(
        settings.jwt_secret.expose_secret().as_bytes(),
        production,
        time::Duration::days(i64::from(settings.auth.refresh_ttl_days.get())),
    );
    // A Stripe emulator's Checkout and portal pages (not Stripe's own) are where forms lead too.
    if let Ok(api) = url::Url::parse(&settings.stripe.api_base.0) {
        if api.host_str() != Some("api.stripe.com") {
            pages = pages.with_form_target(api.origin().ascii_serialization());
        }
    }
    Ok(HttpConfig {
        pages,
        metered_routes: settings.server.metered_routes.clone(),
        cors_origins: settings.cors_origins.clone(),
        auth_rate_per_minute: settings.auth.rate_per_minute,
        checkout_rate_per_minute: settings.billing.checkout_rate_per_minute,
        max_body_bytes: settings.server.max_body_bytes.get() as usize,
        body_timeout: settings.server.body_timeout.0,
        hsts: settings.server.mode == crate::settings::RunMode::Production,
        proxy: match &settings.proxy.upstream_url {
            None => None,
            Some(url) => Some(tollgate_http::config::ProxyConfig {
                upstream: url.0.parse().context("Invalid TOLLGATE_UPSTREAM_URL")?,
                routes: settings.proxy.routes.clone(),
                public: settings.proxy.public_routes.clone(),
                timeout: settings.proxy.timeout.0,
                forward_authorization: settings.proxy.forward_authorization,
            }),
        },
        gate_headers: settings.server.gate_headers,
        upstream_deduplicates: settings.proxy.upstream_deduplicates,
        trusted_proxies: settings.server.trusted_proxies.clone(),
        ..HttpConfig::default()
    })
}

/// A server bound to its listener, with its store open and migrated, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    /// The Prometheus listener and its port, unless `TOLLGATE_METRICS_LISTEN=off`.
    metrics: Option<(u16, Server)>,
    store: Store,
    services: Services,
    /// How often expired reservations are swept (`None`: never; expiry is still lazy).
    sweep_every: Option<std::time::Duration>,
    /// How often housekeeping runs (`None`: never).
    housekeeping_every: Option<std::time::Duration>,
}

impl Application {
    /// Opens the store from `DATABASE_URL`, applies its migrations, binds `TOLLGATE_LISTEN`
    /// (port 0 picks a free port) and builds the server.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Arc::new(SystemClock)).await
    }

    /// [`Self::build`] with another clock.
    pub async fn build_with(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = Store::open(settings).await?;
        store.migrate().await?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("Failed to bind TOLLGATE_LISTEN={}", settings.server.listen))?;
        let port = listener.local_addr().context("Failed to read the bound address")?.port();
        let metrics = Arc::new(tollgate_http::metrics::Metrics::new(env!("CARGO_PKG_VERSION")));
        let services = services_with(settings, &store, clock, metrics.clone())?;
        let state = AppState::new(services.clone(), http_config(settings)?).with_metrics(metrics.clone());
        let server = tollgate_http::serve(listener, state).context("Failed to start the HTTP server")?;
        let metrics = match settings.server.metrics_listen.0 {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .with_context(|| format!("Failed to bind TOLLGATE_METRICS_LISTEN={address}"))?;
                let port = listener.local_addr().context("Failed to read the bound address")?.port();
                let server = tollgate_http::metrics::serve(listener, metrics, services.clone())
                    .context("Failed to start the metrics listener")?;
                Some((port, server))
            }
            None => None,
        };
        let sweep_every = Some(settings.billing.reservation_sweep.0).filter(|d| !d.is_zero());
        let housekeeping_every = Some(settings.billing.housekeeping.0).filter(|d| !d.is_zero());
        Ok(Self { port, server, metrics, store, services, sweep_every, housekeeping_every })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The use cases the server runs (tests and tools act through them).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Runs until SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(every) = self.sweep_every {
            let reservations = self.services.reservations.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    // Each hold expires once however many replicas sweep (a guarded UPDATE).
                    match reservations.sweep().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(expired = n, "expired reservations swept"),
                        Err(e) => tracing::warn!(error = ?e, "the reservation sweep failed; it runs again"),
                    }
                }
            });
        }
        if let Some(every) = self.housekeeping_every {
            let housekeeping = self.services.housekeeping.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    // Replicas may purge at once: each row is deleted once, none before its cutoff.
                    match housekeeping.run().await {
                        Ok(purged) => tracing::info!(?purged, "housekeeping done"),
                        Err(e) => tracing::warn!(error = ?e, "housekeeping failed; it runs again"),
                    }
                }
            });
        }
        match self.metrics {
            Some((_, metrics)) => {
                // The API server handles the signals; the metrics listener stops with it.
                let handle = metrics.handle();
                let metrics = tokio::spawn(metrics);
                let served = self.server.await;
                handle.stop(true).await;
                let _ = metrics.await;
                served
            }
            None => self.server.await,
        }
    }
}
