//! What the handlers share.

use std::sync::Arc;

use std::time::Duration;

use tollgate_ports::outbound::HealthCheck;
use tollgate_ports::services::admin::AdminService;
use tollgate_ports::services::auth::AuthService;
use tollgate_ports::services::billing::BillingService;
use tollgate_ports::services::housekeeping::HousekeepingService;
use tollgate_ports::services::metering::MeteringService;
use tollgate_ports::services::reservations::ReservationService;
use tollgate_ports::services::service_keys::ServiceKeyService;
use tollgate_ports::services::sessions::SessionService;
use tollgate_ports::services::usage_history::UsageHistoryService;
use tollgate_ports::services::webhooks::WebhookService;

use crate::rate_limit::RateLimits;
use crate::route_table::RouteTable;

/// The use cases, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub auth: Arc<AuthService>,
    pub billing: Arc<BillingService>,
    pub metering: Arc<MeteringService>,
    pub sessions: Arc<SessionService>,
    pub webhooks: Arc<WebhookService>,
    pub admin: Arc<AdminService>,
    pub keys: Arc<ServiceKeyService>,
    pub reservations: Arc<ReservationService>,
    pub usage_history: Arc<UsageHistoryService>,
    pub housekeeping: Arc<HousekeepingService>,
    pub health: Arc<dyn HealthCheck>,
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Which routes consume runs, and how many (SPEC §7.1).
    pub metered_routes: RouteTable,
    pub cors_origins: Vec<String>,
    /// Login + register attempts per client address, and failed logins per (email, client
    /// address), per minute; 0 = off.
    pub auth_rate_per_minute: u32,
    /// Checkout sessions per user per minute; 0 = off.
    pub checkout_rate_per_minute: u32,
    /// Body limit of the JSON API.
    pub max_body_bytes: usize,
    /// Body limit of the webhook.
    pub max_webhook_bytes: usize,
    /// A request body must have arrived this long after the request started (else 408).
    pub body_timeout: Duration,
    /// Send `Strict-Transport-Security` (production).
    pub hsts: bool,
    /// The built-in proxy to an agent API (`TOLLGATE_UPSTREAM_URL`), when configured.
    pub proxy: Option<crate::proxy::ProxyConfig>,
    /// The header pair the gate reads the original request from (`TOLLGATE_GATE_HEADERS`).
    pub gate_headers: crate::routes::gate::GateHeaders,
    /// The upstream answers a repeated `Idempotency-Key` itself (`TOLLGATE_UPSTREAM_DEDUPLICATES`):
    /// the gate and the proxy let such a request through uncharged instead of refusing it.
    pub upstream_deduplicates: bool,
    /// Peers whose `X-Forwarded-*` headers are believed (`TOLLGATE_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::forwarded::TrustedProxies,
    /// The billing pages' cookies and CSRF key.
    pub pages: crate::pages::session::PageKeys,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            metered_routes: RouteTable::default_table(),
            cors_origins: vec!["http://localhost:3000".into()],
            auth_rate_per_minute: 30,
            checkout_rate_per_minute: 10,
            max_body_bytes: 64 * 1024,
            max_webhook_bytes: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            hsts: false,
            proxy: None,
            gate_headers: crate::routes::gate::GateHeaders::default(),
            upstream_deduplicates: false,
            trusted_proxies: crate::forwarded::TrustedProxies::default(),
            pages: crate::pages::session::PageKeys::new(b"", false, time::Duration::days(30)),
        }
    }
}

/// Everything a request may need.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<HttpConfig>,
    pub limits: Arc<RateLimits>,
    /// The HTTP client to the proxy's upstream (pooled connections), when a proxy is configured.
    pub upstream: Option<reqwest::Client>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn new(services: Services, config: HttpConfig) -> Self {
        let limits = Arc::new(RateLimits::new(config.auth_rate_per_minute, config.checkout_rate_per_minute));
        let upstream = config.proxy.as_ref().map(|proxy| {
            reqwest::Client::builder()
                .connect_timeout(proxy.timeout.min(std::time::Duration::from_secs(10)))
                // The proxy forwards redirects as answers; it never follows them.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        });
        Self { services, config: Arc::new(config), limits, upstream, metrics: Arc::default() }
    }

    /// Counts requests into `metrics` (the registry the services report to).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}
