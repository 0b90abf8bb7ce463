//! The forward-auth gate (SPEC §7.3) for the proxies people already run: nginx `auth_request`,
//! Traefik `forwardAuth`, Caddy `forward_auth`. The proxy asks before forwarding a request; the
//! gate authenticates the user, matches the original request against the route table and
//! consumes the route's cost, so every request the proxy lets through to a metered upstream route
//! was paid for.

use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use tollgate_ports::UsageReason;

use crate::headers::{
    rate_limit_headers, GateHeaders, ACCOUNT, CONSUMPTION_ID, GATE_CLIENT, PLAN, PROBLEM, STATUS, USER_ID,
};
use crate::metering::{forwarded_replay, Bill, Body, Entry};
use crate::path::RoutedPath;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

/// The original request, as the proxy reports it.
struct Original {
    method: Method,
    path: RoutedPath,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn original(req: &HttpRequest, pair: GateHeaders) -> Result<Original, ApiError> {
    let (method_name, uri_name) = pair.names();
    let (Some(method), Some(uri)) = (header(req, method_name), header(req, uri_name)) else {
        return Err(crate::problem::catalog::forward_headers_missing());
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::validation(vec![FieldError::new(method_name, "is not an HTTP method")]))?;
    // The query is not part of the route; everything before it is decided on as sent.
    let raw_path = uri.split_once('?').map_or(uri, |(path, _)| path);
    let path = RoutedPath::parse(raw_path).map_err(crate::problem::catalog::invalid_path)?;
    Ok(Original { method, path })
}

/// A refusal, shaped for the proxy that asked.
fn refuse(error: ApiError, nginx: bool) -> HttpResponse {
    let mut res = error.error_response();
    if nginx && res.status().is_client_error() && res.status() != StatusCode::UNAUTHORIZED {
        // nginx turns anything but 2xx/401/403 from the gate into a 500: answer 403 and carry
        // the problem and its status for `error_page` (docs/integration.md has the config).
        let status = res.status();
        *res.status_mut() = StatusCode::FORBIDDEN;
        if let Ok(value) = HeaderValue::from_str(status.as_str()) {
            res.headers_mut().insert(STATUS, value);
        }
    }
    if nginx {
        if let Ok(value) = HeaderValue::from_str(&error.problem_json()) {
            res.headers_mut().insert(PROBLEM, value);
        }
    }
    res
}

/// Forward-auth: may this user's original request go through? Metered routes are paid here.
/// The proxy asks with the original method (GET, POST, PUT, PATCH or DELETE).
#[utoipa::path(get, path = "/api/v1/gate", tag = "gate", security(("bearer" = [])),
    params(
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method (`TOLLGATE_GATE_HEADERS=forwarded`, the default: Traefik, Caddy, the documented nginx config)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original URI (`forwarded`)"),
        ("X-Original-Method" = Option<String>, Header, description = "The original method (`TOLLGATE_GATE_HEADERS=original`; ignored otherwise)"),
        ("X-Original-URI" = Option<String>, Header, description = "The original URI (`original`)"),
        ("X-Tollgate-Account" = Option<uuid::Uuid>, Header, nullable = false, description = "The account that pays (default: the user's personal account); 403 `NOT_A_MEMBER` for one not theirs. Answered back to the upstream"),
        ("X-Tollgate-Gate-Client" = Option<String>, Header, description = "`nginx`: refusals answered as 403 for `auth_request`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Forwarded from the client: a key that already paid for a request is refused (409), unless the upstream deduplicates",
            min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, description = "Go ahead; `X-Tollgate-*` and `RateLimit-*` headers for the upstream"),
        (status = 400, body = Problem, description = "`FORWARD_HEADERS_MISSING`, or `INVALID_PATH` (a spelling that could route elsewhere)"),
        (status = 402, body = Problem, description = "`SUBSCRIPTION_LIMIT_REACHED` or `SUBSCRIPTION_INACTIVE` (403 with `X-Tollgate-Status: 402` to nginx)"),
        (status = 403, body = Problem, description = "`NOT_A_MEMBER`; and to nginx (`X-Tollgate-Gate-Client: nginx`, or `TOLLGATE_GATE_HEADERS=original`), every refusal but 401: its real status in `X-Tollgate-Status`, the problem also in `X-Tollgate-Problem`"),
        (status = 409, body = Problem, description = "`IDEMPOTENCY_KEY_REUSED`: the key already paid for a request (and the upstream does not deduplicate)"),
        (status = 422, body = Problem, description = "An unusable forwarded method, URI or Idempotency-Key")))]
pub async fn gate(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    // nginx's `auth_request` passes on only 2xx, 401 and 403: its config says so with this
    // header (or uses nginx's own pair, `original`).
    let nginx = header(&req, GATE_CLIENT).is_some_and(|c| c.eq_ignore_ascii_case("nginx"))
        || state.config.gate_headers == GateHeaders::Original;
    match decide(&state, &req).await {
        Ok(res) => res,
        Err(e) => refuse(e, nginx),
    }
}

async fn decide(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // Who asks comes first: an unauthenticated caller learns nothing else.
    let claims = crate::extract::authenticate(req)?;
    let original = original(req, state.config.gate_headers)?;
    let mut res = HttpResponse::Ok();
    res.insert_header((USER_ID, claims.user_id.to_string()));
    let entry = Entry::Forwarded { method: &original.method, path: &original.path };
    // The account is resolved for every request, metered or not: the upstream is told which
    // account the user acts for, and a non-member is refused either way.
    let acting = crate::extract::acting(req, claims.user_id).await?;
    res.insert_header((ACCOUNT, acting.account.to_string()));
    let Some(bill) = Bill::for_route_as(req, entry, &acting)? else {
        return Ok(res.finish());
    };
    let key = bill.key_for(Body::Unread);
    let reason = UsageReason::Route(format!("gate {} {}", original.method, original.path));
    let metered = state.services.metering.consume(bill.payer, bill.cost, key, reason).await?;
    forwarded_replay(metered.replayed, state)?;
    res.insert_header((PLAN, metered.quota.plan.as_str()));
    if let Some(id) = metered.value {
        res.insert_header((CONSUMPTION_ID, id.to_string()));
    }
    for header in rate_limit_headers(&metered.quota) {
        res.insert_header(header);
    }
    Ok(res.finish())
}
