//! The HTTP adapter's settings, as the binary hands them over: the bottom of the crate, naming
//! only the vocabulary it configures (routes, header pairs, trusted proxies, page keys).

use std::time::Duration;

use crate::forwarded::TrustedProxies;
use crate::headers::GateHeaders;
use crate::pages::session::PageKeys;
use crate::route_table::{PathPatterns, RouteTable};

/// How long in-flight requests get to finish after SIGTERM / Ctrl-C.
pub const SHUTDOWN_GRACE_SECS: u64 = 30;

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
    pub proxy: Option<ProxyConfig>,
    /// The header pair the gate reads the original request from (`TOLLGATE_GATE_HEADERS`).
    pub gate_headers: GateHeaders,
    /// The upstream answers a repeated `Idempotency-Key` itself (`TOLLGATE_UPSTREAM_DEDUPLICATES`):
    /// the gate and the proxy let such a request through uncharged instead of refusing it.
    pub upstream_deduplicates: bool,
    /// Peers whose `X-Forwarded-*` headers are believed (`TOLLGATE_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// The billing pages' cookies and CSRF key.
    pub pages: PageKeys,
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
            gate_headers: GateHeaders::default(),
            upstream_deduplicates: false,
            trusted_proxies: TrustedProxies::default(),
            pages: PageKeys::new(b"", false, time::Duration::days(30)),
        }
    }
}

/// The proxy's settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http(s)://host[:port][/base]`: requests go below its path, never above it.
    pub upstream: reqwest::Url,
    /// Paths forwarded (default `/**`).
    pub routes: PathPatterns,
    /// Paths forwarded without a token.
    pub public: PathPatterns,
    /// How long the upstream may take to answer (its headers), and a proxied body to arrive.
    pub timeout: Duration,
    /// Send the bearer token Tollgate authenticated on to the upstream (off by default).
    pub forward_authorization: bool,
}
