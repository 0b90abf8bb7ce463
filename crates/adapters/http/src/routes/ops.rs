//! Operations: liveness and readiness (the OpenAPI document is served by `crate::openapi`).

use actix_web::{web, HttpResponse};

use crate::dto::StatusResponse;
use crate::state::AppState;

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = StatusResponse)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(StatusResponse { status: "ok" })
}

/// Readiness: the store answers (503 otherwise).
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = StatusResponse), (status = 503, body = StatusResponse)))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.services.health.ping().await {
        Ok(()) => HttpResponse::Ok().json(StatusResponse { status: "ready" }),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed: the store does not answer");
            HttpResponse::ServiceUnavailable().json(StatusResponse { status: "unavailable" })
        }
    }
}
