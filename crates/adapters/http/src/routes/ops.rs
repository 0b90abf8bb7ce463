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

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi() -> HttpResponse {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(crate::openapi::document))
}
