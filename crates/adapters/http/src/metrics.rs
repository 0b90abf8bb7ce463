//! Prometheus metrics (SPEC §8), in the Prometheus text format on a listener of their own
//! (`TOLLGATE_METRICS_LISTEN`), made with tikv's `prometheus` client. Request metrics are
//! labelled by the route *pattern* the router matched (never the raw path), the method from a
//! fixed set and the status code, so their cardinality is bounded whatever clients send.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tollgate_ports::{DecisionOutcome, Telemetry};

use crate::services::Services;

/// The route label of a request no route matched (404s), and of one the built-in proxy forwarded.
pub const UNMATCHED: &str = "unmatched";
pub const PROXIED: &str = "proxy";

/// Every metric Tollgate exports, in one registry of its own (not the process-global one).
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    decisions: IntCounterVec,
    consumed: IntCounter,
    refunded: IntCounter,
    reservations_held: IntGauge,
    webhooks: IntCounterVec,
    pool: IntGaugeVec,
}

impl Metrics {
    /// A registry with every metric registered and `tollgate_build_info{version}` set to 1.
    ///
    /// # Panics
    /// Never in practice: the names and labels below are valid and registered once.
    pub fn new(version: &str) -> Self {
        let registry = Registry::new();
        let http_requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "tollgate_http_requests_total",
                    "HTTP requests answered, by method, route pattern and status.",
                ),
                &["method", "route", "status"],
            ),
        );
        let http_duration = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "tollgate_http_request_duration_seconds",
                    "Time from a request's arrival to its answer, by method and route pattern.",
                ),
                &["method", "route"],
            ),
        );
        let decisions = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "tollgate_quota_decisions_total",
                    "Metered decisions (sessions, gated routes, consumptions, holds), by outcome.",
                ),
                &["outcome"],
            ),
        );
        for outcome in DecisionOutcome::ALL {
            decisions.with_label_values(&[outcome.as_str()]);
        }
        let consumed = registered(
            &registry,
            IntCounter::new(
                "tollgate_runs_consumed_total",
                "Runs charged to quotas (consumptions and reservation commits).",
            ),
        );
        let refunded = registered(
            &registry,
            IntCounter::new("tollgate_runs_refunded_total", "Runs given back by refunds."),
        );
        let reservations_held = registered(
            &registry,
            IntGauge::new(
                "tollgate_reservations_held",
                "Reservations holding runs now (all replicas; read from the store at each scrape).",
            ),
        );
        let webhooks = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "tollgate_webhook_events_total",
                    "Stripe webhook events, by type (`other` for types Tollgate does not act on, `unverified` for bad signatures) and outcome.",
                ),
                &["type", "outcome"],
            ),
        );
        let pool = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new("tollgate_store_pool_connections", "This replica's store connections, by state."),
                &["state"],
            ),
        );
        let build = registered(
            &registry,
            IntGaugeVec::new(Opts::new("tollgate_build_info", "The running build; always 1."), &["version"]),
        );
        build.with_label_values(&[version]).set(1);
        Self {
            registry,
            http_requests,
            http_duration,
            decisions,
            consumed,
            refunded,
            reservations_held,
            webhooks,
            pool,
        }
    }

    /// Counts one answered request.
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.http_requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.http_duration.with_label_values(&[method, route]).observe(elapsed.as_secs_f64());
    }

    /// The exposition, with the gauges read now from `services`.
    pub async fn scrape(&self, services: &Services) -> String {
        match services.reservations.count_held().await {
            Ok(held) => self.reservations_held.set(i64::try_from(held).unwrap_or(i64::MAX)),
            // The last value stays; the scrape still answers.
            Err(e) => tracing::warn!(error = ?e, "could not count the held reservations for /metrics"),
        }
        let connections = services.health.connections();
        self.pool.with_label_values(&["active"]).set(i64::from(connections.active));
        self.pool.with_label_values(&["idle"]).set(i64::from(connections.idle));
        let mut text = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Registers `metric` (one of the fixed definitions above) and hands it back.
#[allow(clippy::expect_used, reason = "fixed, valid metric definitions, each registered once")]
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("a valid metric definition");
    registry.register(Box::new(metric.clone())).expect("each metric is registered once");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(env!("CARGO_PKG_VERSION"))
    }
}

impl Telemetry for Metrics {
    fn quota_decision(&self, outcome: DecisionOutcome) {
        self.decisions.with_label_values(&[outcome.as_str()]).inc();
    }

    fn runs_consumed(&self, runs: u32) {
        self.consumed.inc_by(u64::from(runs));
    }

    fn runs_refunded(&self, runs: u32) {
        self.refunded.inc_by(u64::from(runs));
    }

    fn webhook_event(&self, event_type: &str, outcome: &str) {
        self.webhooks.with_label_values(&[event_type, outcome]).inc();
    }
}

/// The method label: the standard methods by name, anything else (extension methods are
/// unbounded) as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|m| *m == method).map_or("OTHER", Method::as_str)
}

struct MetricsState {
    metrics: Arc<Metrics>,
    services: Services,
}

async fn exposition(state: web::Data<MetricsState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.scrape(&state.services).await)
}

/// The metrics listener: `GET /metrics` and nothing else (kept off the API's address so it can be
/// bound to a private interface).
pub fn serve(listener: TcpListener, metrics: Arc<Metrics>, services: Services) -> std::io::Result<Server> {
    let state = web::Data::new(MetricsState { metrics, services });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(exposition))
            .route("/metrics", web::head().to(exposition))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }))
    })
    .workers(1)
    .shutdown_timeout(crate::config::SHUTDOWN_GRACE_SECS)
    .disable_signals()
    .listen(listener)?
    .run())
}
