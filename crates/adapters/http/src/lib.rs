//! Tollgate's HTTP adapter on actix-web.
//!
//! For now it serves the operational endpoint `GET /health`; the API of SPEC §3 lands with the
//! HTTP work (routes, DTOs, extractors, quota middleware, problem+json, OpenAPI).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};

/// How long in-flight requests get to finish after SIGTERM / Ctrl-C.
pub const SHUTDOWN_GRACE_SECS: u64 = 30;

/// Builds the server on an already bound listener (port 0 in tests). Await the returned
/// [`Server`] to run it; it stops gracefully on SIGTERM and Ctrl-C.
pub fn serve(listener: TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(|| App::new().route("/health", web::get().to(health)))
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .listen(listener)?
        .run();
    Ok(server)
}

/// Liveness: the process answers HTTP.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}
