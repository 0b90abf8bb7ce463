//! What the handlers share: the use cases, the settings, the rate limits, the upstream client
//! and the metrics.

use std::sync::Arc;

use crate::config::HttpConfig;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::services::Services;

/// Everything a request may need.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<HttpConfig>,
    pub limits: Arc<RateLimits>,
    /// The HTTP client to the proxy's upstream (pooled connections), when a proxy is configured.
    pub upstream: Option<reqwest::Client>,
    pub metrics: Arc<Metrics>,
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
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}
