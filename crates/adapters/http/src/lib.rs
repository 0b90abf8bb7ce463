//! Tollgate's HTTP adapter on actix-web.
//!
//! For now it serves the operational endpoints `GET /health` (live) and `GET /ready` (the store
//! answers); the API of SPEC §3 lands with the HTTP work (routes, DTOs, extractors, quota
//! middleware, problem+json, OpenAPI).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use tollgate_ports::outbound::HealthCheck;

/// How long in-flight requests get to finish after SIGTERM / Ctrl-C.
pub const SHUTDOWN_GRACE_SECS: u64 = 30;

/// What the handlers need.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn HealthCheck>,
}

/// Builds the server on an already bound listener (port 0 in tests). Await the returned
/// [`Server`] to run it; it stops gracefully on SIGTERM and Ctrl-C.
pub fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/health", web::get().to(health))
            .route("/ready", web::get().to(ready))
    })
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Liveness: the process answers HTTP.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the store answers. The cause of a failure is logged, never returned.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed: the store does not answer");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}
