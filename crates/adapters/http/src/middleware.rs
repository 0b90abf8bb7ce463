//! Request ids and the quota gate in front of metered routes.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_domain::RunCount;
use tollgate_ports::outbound::IdempotencyKey;
use tracing::Instrument;

use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

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
        _ => uuid::Uuid::new_v4().to_string(),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route);
    let started = std::time::Instant::now();
    // No clone of the request may live across this call: routing needs it unshared.
    let mut res = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
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

/// How a metered request was paid for, in request extensions.
#[derive(Debug, Clone)]
pub enum MeterGrant {
    /// The handler consumes in the same transaction as the resource it creates.
    InHandler { key: Option<IdempotencyKey> },
    /// Consumed before the handler ran; refunded if it fails with a 5xx.
    Consumed { replayed: bool },
}

/// The quota after a metered request, set by a handler in response extensions.
#[derive(Debug, Clone, Copy)]
pub struct QuotaAfter(pub QuotaSnapshot);

/// Routes whose handler meters itself (one transaction with the created resource).
fn meters_itself(method: &actix_web::http::Method, path: &str) -> bool {
    method == actix_web::http::Method::POST && path.trim_end_matches('/') == "/api/v1/sessions"
}

/// In front of the configured metered routes: authenticate, refuse with 402 before any work when
/// the quota does not allow the run, and put the remaining quota in the answer's headers.
/// Routes that meter themselves get the run consumed with their resource; any other metered
/// route gets it consumed here, and refunded when the handler fails with a 5xx.
pub async fn meter(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (method, path) = (req.method().clone(), req.path().to_owned());
    if !state.config.metered_routes.iter().any(|r| r.matches(&method, &path)) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let claims = match crate::extract::authenticate(req.request()) {
        Ok(claims) => claims,
        Err(e) => return Ok(req.error_response(e)),
    };
    let key =
        match req.headers().get(IDEMPOTENCY_KEY).map(|raw| raw.to_str().ok().and_then(IdempotencyKey::parse))
        {
            None => None,
            Some(Some(key)) => Some(key),
            Some(None) => {
                let field = FieldError::new("Idempotency-Key", "must be 1–255 visible ASCII characters");
                return Ok(req.error_response(ApiError::validation(vec![field])));
            }
        };
    let metering = &state.services.metering;
    // A retry with a key may be a replay, which must answer even on a spent quota: the store decides.
    if key.is_none() {
        if let Err(e) = metering.check(claims.user_id, RunCount::new(1)).await {
            return Ok(req.error_response(ApiError::from(e)));
        }
    }
    if meters_itself(&method, &path) {
        req.extensions_mut().insert(MeterGrant::InHandler { key });
        let mut res = next.call(req).await?.map_into_boxed_body();
        let quota = res.response().extensions().get::<QuotaAfter>().copied();
        if let Some(QuotaAfter(quota)) = quota {
            quota_headers(&mut res, &quota);
        }
        return Ok(res);
    }
    let metered = match metering.consume(claims.user_id, RunCount::new(1), key, &path).await {
        Ok(metered) => metered,
        Err(e) => return Ok(req.error_response(ApiError::from(e))),
    };
    req.extensions_mut().insert(MeterGrant::Consumed { replayed: metered.replayed });
    let outcome = next.call(req).await;
    let failed = match &outcome {
        Ok(res) => res.status().is_server_error(),
        Err(e) => e.as_response_error().status_code().is_server_error(),
    };
    if failed && !metered.replayed {
        if let Some(record) = metered.value {
            if let Err(e) = metering.refund(record).await {
                tracing::error!(error = ?e, "could not refund a failed metered request");
            }
        }
    }
    let mut res = outcome?.map_into_boxed_body();
    quota_headers(&mut res, &metered.quota);
    Ok(res)
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), for limited plans.
fn quota_headers(res: &mut ServiceResponse<BoxBody>, quota: &QuotaSnapshot) {
    let (Some(limit), Some(remaining)) = (quota.runs_limit.as_option(), quota.remaining()) else { return };
    let reset = (quota.resets_at - time::OffsetDateTime::now_utc()).whole_seconds().max(0);
    let headers = res.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
