//! Tollgate's HTTP adapter on actix-web: SPEC §3 over real HTTP, the quota gate in front of the
//! metered routes, problem+json errors, request ids, CORS, rate-limited sign-in, OpenAPI.

pub mod body;
pub mod config;
pub mod dto;
pub mod extract;
pub mod forwarded;
pub mod headers;
pub mod metering;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod path;
pub mod problem;
pub mod proxy;
pub mod rate_limit;
pub mod route_table;
pub mod routes;
pub mod services;
pub mod state;

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{http, web, App, HttpServer};

pub use config::{HttpConfig, SHUTDOWN_GRACE_SECS};
pub use route_table::{MeteredRoute, RouteTable};
pub use services::Services;
pub use state::AppState;

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            headers::IDEMPOTENCY_KEY,
            headers::REQUEST_ID,
        ])
        .expose_headers([
            "x-request-id",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "idempotent-replayed",
        ])
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// `X-Content-Type-Options: nosniff` on every answer; HSTS in production.
fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new().add((http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if hsts {
        headers.add((http::header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
    } else {
        headers
    }
}

/// Builds the server on an already bound listener (port 0 in tests). Await the returned
/// [`Server`] to run it; it stops gracefully on SIGTERM and Ctrl-C.
pub fn serve(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let limits = data.config.clone();
        let json_limit = limits.max_body_bytes;
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(json_limit)
                    .error_handler(move |err, req| extract::json_error(err, req, json_limit)),
            )
            .app_data(web::PayloadConfig::new(limits.max_webhook_bytes))
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .wrap(from_fn(body::deadline))
            .wrap(cors(&limits.cors_origins))
            .wrap(from_fn(problem::render_errors))
            .wrap(security_headers(limits.hsts))
            .wrap(from_fn(middleware::request_id))
            .wrap(from_fn(middleware::record_metrics))
            .configure(routes::configure)
            .configure(pages::configure)
            // Everything the router did not route: the proxy when one is configured, else 404.
            .default_service(web::to(proxy::forward))
    })
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .listen(listener)?
    .run();
    Ok(server)
}
