//! The middleware every request passes: its id and root span, and its count in the metrics.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tracing::Instrument;

use crate::headers::REQUEST_ID;
use crate::metrics;
use crate::state::AppState;

/// The request's id, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Honours a sane incoming `X-Request-Id` (else makes one), opens the request's root span with
/// it and the route template, logs one line per request and echoes the id on every answer.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let incoming = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::trim);
    let id = match incoming {
        Some(id) if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) => {
            id.to_owned()
        }
        #[allow(clippy::disallowed_methods, reason = "a correlation id for logs, not a Tollgate id")]
        _ => uuid::Uuid::new_v4().to_string(),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    // The route template is known once the router has matched; it is recorded then.
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = tracing::field::Empty);
    let started = std::time::Instant::now();
    // No clone of the request may live across this call: routing needs it unshared.
    let mut res = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    span.record("route", route.as_str());
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "handled"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// Counts every request by the pattern it was routed on (outermost middleware: it sees the final
/// answer, errors included).
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?.map_into_boxed_body();
    if let Some(state) = state {
        let route = match res.request().match_pattern() {
            Some(pattern) => pattern,
            None if state.config.proxy.is_some() => metrics::PROXIED.to_owned(),
            None => metrics::UNMATCHED.to_owned(),
        };
        state.metrics.observe_request(&method, &route, res.status().as_u16(), started.elapsed());
    }
    Ok(res)
}
