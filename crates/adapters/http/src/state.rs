//! What the handlers share.

use std::sync::Arc;

use actix_web::http::Method;
use tollgate_ports::outbound::HealthCheck;
use tollgate_ports::services::admin::AdminService;
use tollgate_ports::services::auth::AuthService;
use tollgate_ports::services::billing::BillingService;
use tollgate_ports::services::metering::MeteringService;
use tollgate_ports::services::sessions::SessionService;
use tollgate_ports::services::webhooks::WebhookService;

use crate::rate_limit::AuthRateLimiter;

/// The use cases, built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub auth: Arc<AuthService>,
    pub billing: Arc<BillingService>,
    pub metering: Arc<MeteringService>,
    pub sessions: Arc<SessionService>,
    pub webhooks: Arc<WebhookService>,
    pub admin: Arc<AdminService>,
    pub health: Arc<dyn HealthCheck>,
}

/// A metered route: method and path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredRoute {
    pub method: Method,
    pub prefix: String,
}

impl MeteredRoute {
    /// Parses `POST /api/v1/sessions`.
    pub fn parse(text: &str) -> Option<Self> {
        let (method, prefix) = text.trim().split_once(char::is_whitespace)?;
        let method = Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes()).ok()?;
        let prefix = prefix.trim();
        prefix.starts_with('/').then(|| Self { method, prefix: prefix.trim_end_matches('/').to_owned() })
    }

    /// The path equals the prefix or continues it at a `/`.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        self.method == *method
            && (path == self.prefix
                || path.strip_prefix(&self.prefix).is_some_and(|rest| rest.starts_with('/')))
    }
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub metered_routes: Vec<MeteredRoute>,
    pub cors_origins: Vec<String>,
    /// Login + register attempts per client address (and per email) per minute; 0 = off.
    pub auth_rate_per_minute: u32,
    /// Body limit of the JSON API.
    pub max_body_bytes: usize,
    /// Body limit of the webhook.
    pub max_webhook_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            metered_routes: vec![MeteredRoute { method: Method::POST, prefix: "/api/v1/sessions".into() }],
            cors_origins: vec!["http://localhost:3000".into()],
            auth_rate_per_minute: 30,
            max_body_bytes: 64 * 1024,
            max_webhook_bytes: 1024 * 1024,
        }
    }
}

/// Everything a request may need.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<HttpConfig>,
    pub limiter: Arc<AuthRateLimiter>,
}

impl AppState {
    pub fn new(services: Services, config: HttpConfig) -> Self {
        let limiter = Arc::new(AuthRateLimiter::new(config.auth_rate_per_minute));
        Self { services, config: Arc::new(config), limiter }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metered_route_matches_its_prefix_at_segment_boundaries_only() {
        let route = MeteredRoute::parse("post /api/v1/sessions/").expect("valid");
        assert!(route.matches(&Method::POST, "/api/v1/sessions"));
        assert!(route.matches(&Method::POST, "/api/v1/sessions/"));
        assert!(route.matches(&Method::POST, "/api/v1/sessions/x/run"));
        assert!(!route.matches(&Method::POST, "/api/v1/sessionsx"));
        assert!(!route.matches(&Method::GET, "/api/v1/sessions"));
        assert!(MeteredRoute::parse("/no-method").is_none());
        assert!(MeteredRoute::parse("POST no-slash").is_none());
    }
}
