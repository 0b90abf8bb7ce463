//! The quota gate: the whole metering decision for a route, in one place.
//!
//! Every route is declared once, in `routes::configure`, with who pays for a metered request:
//! - [`Payment::Upfront`]: [`gate`] (a middleware on the route itself, so it runs only for
//!   requests the router dispatched to that handler) consumes before the handler runs and gives
//!   the runs back if the handler fails with a 5xx;
//! - [`Payment::WithResource`]: the handler takes a [`Charge`] and consumes in the same store
//!   transaction as what it creates (a session), so a failure charges nothing.
//!
//! Whether a request is metered, and what it costs, is [`bill`]: the route table (SPEC §7.1)
//! matched against the path the router itself routed (percent-decoded, the one actix matched
//! the route on), so no spelling of a path reaches a metered handler unmetered.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use sha2::{Digest, Sha256};
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_domain::{RunCount, UserId};
use tollgate_ports::outbound::{IdempotencyKey, UsageReason};

use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Who pays for a metered request on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// [`gate`] consumes before the handler and refunds a 5xx.
    Upfront,
    /// The handler consumes with its resource, through [`Charge`].
    WithResource,
}

/// What a metered request owes.
#[derive(Debug, Clone)]
pub struct Bill {
    pub user: UserId,
    pub cost: RunCount,
    /// The client's `Idempotency-Key`, without a request fingerprint yet.
    pub key: Option<IdempotencyKey>,
}

/// The metering decision for a request the router dispatched to a handler: `None` when the
/// route table does not meter its routed path; else the caller is authenticated (401) and the
/// `Idempotency-Key` checked (422). The quota itself is decided by the use case, atomically,
/// before any work.
pub fn bill(req: &HttpRequest) -> Result<Option<Bill>, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::unauthenticated)?;
    let Some(cost) = state.config.metered_routes.cost(req.method(), req.match_info().as_str()) else {
        return Ok(None);
    };
    let claims = crate::extract::authenticate(req)?;
    let key = idempotency_key(req)?;
    Ok(Some(Bill { user: claims.user_id, cost, key }))
}

/// The request's `Idempotency-Key`, if it sent one (422 when it is not 1–255 visible ASCII).
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    match req.headers().get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(raw) => raw.to_str().ok().and_then(IdempotencyKey::parse).map(Some).ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "Idempotency-Key",
                "must be 1–255 visible ASCII characters",
            )])
        }),
    }
}

/// A fingerprint of a request, bound to its idempotency key: the same key with another request
/// is refused (`IDEMPOTENCY_KEY_MISMATCH`) instead of replaying the first answer.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), body] {
        // Length-prefixed, so no part can run into the next.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The request's `Idempotency-Key` bound to the fingerprint of `body` as parsed (re-serialised,
/// so formatting differences are the same request) on `method path`.
pub fn keyed_body(
    req: &HttpRequest,
    method: &str,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    Ok(idempotency_key(req)?.map(|k| k.for_request(fingerprint(method, path, &canonical))))
}

/// The metering of a [`Payment::WithResource`] route, for its handler: `None` when the route
/// table does not meter the request.
#[derive(Debug, Clone)]
pub struct Charge(pub Option<Bill>);

impl FromRequest for Charge {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(bill(req).map(Charge))
    }
}

/// Route middleware of every [`Payment::Upfront`] route: consumes the route's cost before the
/// handler runs (402 when the quota does not allow it; nothing else happens then), and gives
/// the runs back when the handler answers 5xx.
pub async fn gate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let bill = match bill(req.request()) {
        Ok(Some(bill)) => bill,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(req.error_response(e)),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(ApiError::unauthenticated()));
    };
    let path = req.match_info().as_str().to_owned();
    let key = match bill.key {
        None => None,
        Some(key) => {
            // Read the body once to fingerprint it, then hand it on to the handler unchanged.
            let mut payload = req.take_payload();
            let body = match web::Bytes::from_request(req.request(), &mut payload).await {
                Ok(body) => body,
                Err(e) => return Ok(req.error_response(e)),
            };
            let print = fingerprint(req.method().as_str(), &path, &body);
            req.set_payload(Payload::from(body));
            Some(key.for_request(print))
        }
    };
    let reason = UsageReason::Route(format!("{} {}", req.method(), req.match_pattern().unwrap_or(path)));
    let metering = &state.services.metering;
    let metered = match metering.consume(bill.user, bill.cost, key, reason).await {
        Ok(metered) => metered,
        Err(e) => return Ok(req.error_response(ApiError::from(e))),
    };
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
    let headers = res.headers_mut();
    for (name, value) in metered_headers(&metered.quota, metered.replayed) {
        headers.insert(name, value);
    }
    Ok(res)
}

/// The headers of a metered answer: `RateLimit-*` for the quota after it, and
/// `Idempotent-Replayed: true` when an earlier request with the same key answered.
pub fn metered_headers(quota: &QuotaSnapshot, replayed: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = rate_limit_headers(quota);
    if replayed {
        headers.push((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    }
    headers
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds to the period's end), for
/// limited plans; on metered answers and on 402s.
pub fn rate_limit_headers(quota: &QuotaSnapshot) -> Vec<(HeaderName, HeaderValue)> {
    let (Some(limit), Some(remaining)) = (quota.runs_limit.as_option(), quota.remaining()) else {
        return Vec::new();
    };
    let reset = quota.seconds_to_reset();
    [
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((HeaderName::from_static(name), HeaderValue::from_str(&value).ok()?)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn a_fingerprint_changes_with_the_method_the_path_and_the_body() {
        let base = fingerprint("POST", "/a", b"{}");
        assert_eq!(base, fingerprint("POST", "/a", b"{}"));
        assert_eq!(base.len(), 64);
        assert_ne!(base, fingerprint("PUT", "/a", b"{}"));
        assert_ne!(base, fingerprint("POST", "/b", b"{}"));
        assert_ne!(base, fingerprint("POST", "/a", b"{ }"));
        // Length prefixes keep the parts apart.
        assert_ne!(fingerprint("POST", "/a\n", b"x"), fingerprint("POST", "/a", b"\nx"));
    }
}
