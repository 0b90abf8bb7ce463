//! Metering: the whole decision of what a request owes, in one place.
//!
//! Every route is declared once, in `routes::configure`, with who pays for a metered request:
//! - [`PaidWhen::Upfront`]: [`charge_upfront`] (a middleware on the route itself, so it runs only for
//!   requests the router dispatched to that handler) consumes before the handler runs and gives
//!   the runs back if the handler fails with a 5xx;
//! - [`PaidWhen::WithResource`]: the handler takes a [`RouteBill`] and consumes in the same store
//!   transaction as what it creates (a session), so a failure charges nothing.
//!
//! Whether a request is metered, who pays, what it costs and under which key is [`Bill`], for
//! every entry: Tollgate's own routes (the route table, SPEC §7.1, matched against the path the
//! router itself routed, so no spelling reaches a metered handler unmetered), the forward-auth
//! gate and the proxy (on the path [`RoutedPath`] decoded once), and the service API.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use sha2::{Digest, Sha256};
use tollgate_domain::quota::QuotaSnapshot;
use tollgate_domain::RunCount;
use tollgate_ports::{IdempotencyKey, Payer, UsageReason};
use tollgate_usecases::accounts::Acting;

use crate::headers::{rate_limit_headers, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use crate::path::RoutedPath;
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// Who pays for a metered request on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidWhen {
    /// [`charge_upfront`] consumes before the handler and refunds a 5xx.
    Upfront,
    /// The handler consumes with its resource, through [`RouteBill`].
    WithResource,
}

/// Where a metered request comes in. Every entry resolves through [`Bill::for_route`] or
/// [`Bill::for_service`], and keys its fingerprint through [`Bill::key_for`]: no entry decides
/// "is this metered, for whom, at what cost, under which key" on its own.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// One of Tollgate's own routes, on the path the router matched.
    Own,
    /// The forward-auth gate: the original request the proxy reported (its body never arrives).
    Forwarded { method: &'a Method, path: &'a RoutedPath },
    /// The built-in proxy, on the path it decoded once and forwards (it streams the body).
    Proxied { path: &'a RoutedPath },
}

/// What a request's body adds to its key's fingerprint.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// The body as the handler understood it (its parsed DTO): spelling differences are the same
    /// request.
    Parsed(&'a dyn erased::Canonical),
    /// The bytes as they arrived (an upfront route reads them once, before its handler).
    Raw(&'a [u8]),
    /// Not read: the gate never receives it and the proxy streams it unread; such keys are never
    /// replayed to an upstream (see [`forwarded_replay`]).
    Unread,
}

/// A DTO's canonical bytes, without making [`Body`] generic.
pub mod erased {
    pub trait Canonical {
        fn canonical(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Canonical for T {
        fn canonical(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

/// What a metered request owes: who pays, how much, and under which key.
#[derive(Debug, Clone)]
pub struct Bill {
    /// The account that pays and the member who ran it.
    pub payer: Payer,
    pub cost: RunCount,
    /// The method and routed path the fingerprint binds the key to.
    method: Method,
    path: String,
    /// The client's `Idempotency-Key`, not yet bound to its request.
    key: Option<IdempotencyKey>,
}

impl Bill {
    /// The bill of a request on the route table (an own route, the gate, the proxy): `None` when
    /// the table does not meter it; else the caller is authenticated (401), the account they act
    /// for resolved (`X-Tollgate-Account`: 422, 403 `NOT_A_MEMBER`) and the `Idempotency-Key`
    /// checked (422). HEAD is billed as GET (SPEC §12).
    ///
    /// # Errors
    /// 401 without a valid bearer token, 403 or 422 as said, 500 without the app's state.
    pub async fn for_route(req: &HttpRequest, entry: Entry<'_>) -> Result<Option<Self>, ApiError> {
        let Some((cost, method, path)) = Self::route_cost(req, entry)? else { return Ok(None) };
        let claims = crate::extract::authenticate(req)?;
        let acting = crate::extract::acting(req, claims.user_id).await?;
        Ok(Some(Self::new(req, acting.payer(), cost, method, path)?))
    }

    /// [`Self::for_route`] for a caller whose account is already resolved (a handler that takes
    /// [`crate::extract::ActingFor`] for its own use too).
    ///
    /// # Errors
    /// 422 for a malformed key, 500 without the app's state.
    pub fn for_route_as(
        req: &HttpRequest,
        entry: Entry<'_>,
        acting: &Acting,
    ) -> Result<Option<Self>, ApiError> {
        let Some((cost, method, path)) = Self::route_cost(req, entry)? else { return Ok(None) };
        Ok(Some(Self::new(req, acting.payer(), cost, method, path)?))
    }

    /// What the route table charges for the request at `entry`, and the method and path it
    /// matched; `None` when the request is not metered.
    fn route_cost(
        req: &HttpRequest,
        entry: Entry<'_>,
    ) -> Result<Option<(RunCount, Method, String)>, ApiError> {
        let state = app_state(req)?;
        let (method, path) = match entry {
            Entry::Own => (req.method(), req.match_info().as_str()),
            Entry::Forwarded { method, path } => (method, path.as_str()),
            Entry::Proxied { path } => (req.method(), path.as_str()),
        };
        Ok(state.config.metered_routes.cost(method, path).map(|cost| (cost, method.clone(), path.to_owned())))
    }

    /// The bill of a service-API call (`/usage/consume`, `/reservations`): who pays and the runs
    /// come from its body, the route is the one the router matched.
    ///
    /// # Errors
    /// 422 for a malformed `Idempotency-Key`.
    pub fn for_service(req: &HttpRequest, payer: Payer, cost: RunCount) -> Result<Self, ApiError> {
        // The routed path (the service routes have no parameters): no second routing pass.
        Self::new(req, payer, cost, req.method().clone(), req.match_info().as_str().to_owned())
    }

    fn new(
        req: &HttpRequest,
        payer: Payer,
        cost: RunCount,
        method: Method,
        path: String,
    ) -> Result<Self, ApiError> {
        Ok(Self { payer, cost, method, path, key: idempotency_key(req)? })
    }

    /// Whether the request carries an `Idempotency-Key` (its body is read only then).
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// The key bound to its request's fingerprint: method, routed path and `body` — and, in an
    /// organisation, the member (keys are the paying account's: two members reusing one are
    /// refused, never answered with each other's result). The same key with another fingerprint
    /// is refused (`IDEMPOTENCY_KEY_MISMATCH`), never replayed.
    pub fn key_for(&self, body: Body<'_>) -> Option<IdempotencyKey> {
        let key = self.key.clone()?;
        let body: std::borrow::Cow<'_, [u8]> = match body {
            Body::Parsed(dto) => dto.canonical().into(),
            Body::Raw(bytes) => bytes.into(),
            Body::Unread => (&b""[..]).into(),
        };
        // A personal account's fingerprints are what they were before accounts.
        let member = match self.payer.member {
            Some(user) if *user.as_uuid() != *self.payer.account.as_uuid() => user.to_string(),
            _ => String::new(),
        };
        let print =
            fingerprint(&[self.method.as_str().as_bytes(), self.path.as_bytes(), &body, member.as_bytes()]);
        Some(key.for_request(print))
    }
}

/// The shared state; its absence is a server fault (500), never the caller's.
pub(crate) fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the application state is not configured".into()))
}

/// SPEC §12.1: a request forwarded to an upstream (gate, proxy) whose key already has a standing
/// charge or a live hold would make the upstream do the work again for nothing. It is refused
/// (409 `IDEMPOTENCY_KEY_REUSED`) unless the upstream deduplicates keys itself
/// (`TOLLGATE_UPSTREAM_DEDUPLICATES`), when it passes uncharged.
///
/// # Errors
/// The 409 problem.
pub fn forwarded_replay(replayed: bool, state: &AppState) -> Result<(), ApiError> {
    if replayed && !state.config.upstream_deduplicates {
        return Err(crate::problem::catalog::forwarded_key_reused());
    }
    Ok(())
}

/// The request's `Idempotency-Key`, if it sent one (422 when it is not 1–255 visible ASCII).
fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
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
fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    // An empty last part (no member) adds nothing: the fingerprints of before stay.
    let parts = match parts.split_last() {
        Some((&[], rest)) => rest,
        _ => parts,
    };
    for part in parts {
        // Length-prefixed, so no part can run into the next.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Route middleware of every [`PaidWhen::Upfront`] route: consumes the route's cost before the
/// handler runs (402 when the quota does not allow it; nothing else happens then), and gives
/// the runs back when the handler answers 5xx.
pub async fn charge_upfront(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let bill = match Bill::for_route(req.request(), Entry::Own).await {
        Ok(Some(bill)) => bill,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(req.error_response(e)),
    };
    let state = match app_state(req.request()) {
        Ok(state) => state,
        Err(e) => return Ok(req.error_response(e)),
    };
    let path = req.match_info().as_str().to_owned();
    let key = if bill.is_keyed() {
        // Read the body once to fingerprint it, then hand it on to the handler unchanged.
        let mut payload = req.take_payload();
        let body = match web::Bytes::from_request(req.request(), &mut payload).await {
            Ok(body) => body,
            Err(e) => return Ok(req.error_response(e)),
        };
        let key = bill.key_for(Body::Raw(&body));
        req.set_payload(Payload::from(body));
        key
    } else {
        None
    };
    let reason = UsageReason::Route(format!("{} {}", req.method(), req.match_pattern().unwrap_or(path)));
    let metering = &state.services.metering;
    let metered = match metering.consume(bill.payer, bill.cost, key, reason).await {
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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::{fingerprint, Bill, Entry};

    #[test]
    fn a_fingerprint_changes_with_the_method_the_path_and_the_body() {
        let print = |method: &str, path: &str, body: &[u8]| {
            fingerprint(&[method.as_bytes(), path.as_bytes(), body, b""])
        };
        let base = print("POST", "/a", b"{}");
        assert_eq!(base, print("POST", "/a", b"{}"));
        assert_eq!(base.len(), 64);
        assert_ne!(base, print("PUT", "/a", b"{}"));
        assert_ne!(base, print("POST", "/b", b"{}"));
        assert_ne!(base, print("POST", "/a", b"{ }"));
        // Length prefixes keep the parts apart.
        assert_ne!(print("POST", "/a\n", b"x"), print("POST", "/a", b"\nx"));
        // No member is the fingerprint of before; a member makes another.
        assert_eq!(base, fingerprint(&[b"POST", b"/a", b"{}"]));
        assert_ne!(base, fingerprint(&[b"POST", b"/a", b"{}", b"member"]));
    }

    #[actix_web::test]
    async fn a_request_without_the_applications_state_is_a_server_fault_not_the_callers() {
        let req = TestRequest::default().to_http_request();
        let err = Bill::for_route(&req, Entry::Own).await.expect_err("no state");
        assert_eq!(
            actix_web::ResponseError::status_code(&err),
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
