//! The forward-auth gate (SPEC §7.3) for the proxies people already run: nginx `auth_request`,
//! Traefik `forwardAuth`, Caddy `forward_auth`. The proxy asks before forwarding a request; the
//! gate authenticates the user, matches the original request against the route table and
//! consumes the route's cost, so every request the proxy lets through to a metered upstream route
//! was paid for.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use tollgate_ports::outbound::UsageReason;

use crate::metering::{fingerprint, idempotency_key, rate_limit_headers};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;

pub const USER_ID: HeaderName = HeaderName::from_static("x-tollgate-user-id");
pub const PLAN: HeaderName = HeaderName::from_static("x-tollgate-plan");
pub const CONSUMPTION_ID: HeaderName = HeaderName::from_static("x-tollgate-consumption-id");
/// For nginx, whose `auth_request` only passes 2xx, 401 and 403: the refusal as problem+json
/// (one line) and its real status, for `error_page` to answer with.
pub const PROBLEM: HeaderName = HeaderName::from_static("x-tollgate-problem");
pub const STATUS: HeaderName = HeaderName::from_static("x-tollgate-status");

/// The original request, as the proxy reports it.
struct Original {
    method: Method,
    path: String,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn original(req: &HttpRequest) -> Result<Original, ApiError> {
    // nginx sends `X-Original-*`, Traefik and Caddy `X-Forwarded-*`.
    let (method, uri) = match (header(req, "x-original-method"), header(req, "x-original-uri")) {
        (Some(m), Some(u)) => (m, u),
        _ => match (header(req, "x-forwarded-method"), header(req, "x-forwarded-uri")) {
            (Some(m), Some(u)) => (m, u),
            _ => return Err(crate::errors::forward_headers_missing()),
        },
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| {
        ApiError::validation(vec![FieldError::new("X-Forwarded-Method", "is not an HTTP method")])
    })?;
    let path = normalise(uri).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "X-Forwarded-Uri",
            "is not a path this gate can decide on",
        )])
    })?;
    Ok(Original { method, path })
}

/// The path an upstream routes for `uri`: query dropped, percent-encodings of everything but
/// `/`, `%` and `+` decoded (as actix and most routers do), empty and `.` segments removed, `..`
/// resolved. `None` for what no router would take: not starting with `/`, `..` above the root,
/// control characters, invalid UTF-8.
pub fn normalise(uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if matches!(byte, b'/' | b'%' | b'+') {
                decoded.extend_from_slice(&bytes[i..i + 3]);
            } else {
                decoded.push(byte);
            }
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).ok()?;
    if decoded.chars().any(char::is_control) {
        return None;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    let trailing = decoded.ends_with('/') && !segments.is_empty();
    Some(format!("/{}{}", segments.join("/"), if trailing { "/" } else { "" }))
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
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method (Traefik, Caddy)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original URI (Traefik, Caddy)"),
        ("X-Original-Method" = Option<String>, Header, description = "The original method (nginx)"),
        ("X-Original-URI" = Option<String>, Header, description = "The original URI (nginx)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Forwarded from the client: a retry consumes nothing",
            min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, description = "Go ahead; `X-Tollgate-*` and `RateLimit-*` headers for the upstream"),
        (status = 400, body = Problem, description = "`FORWARD_HEADERS_MISSING`"),
        (status = 402, body = Problem, description = "`SUBSCRIPTION_LIMIT_REACHED` or `SUBSCRIPTION_INACTIVE` (403 with `X-Tollgate-Status: 402` to nginx)"),
        (status = 403, body = Problem, description = "To nginx (`X-Original-URI` sent), every refusal but 401: its real status in `X-Tollgate-Status`, the problem also in `X-Tollgate-Problem`"),
        (status = 422, body = Problem, description = "An unusable forwarded method, URI or Idempotency-Key")))]
pub async fn gate(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let nginx = header(&req, "x-original-uri").is_some();
    match decide(&state, &req).await {
        Ok(res) => res,
        Err(e) => refuse(e, nginx),
    }
}

async fn decide(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    // Who asks comes first: an unauthenticated caller learns nothing else.
    let claims = crate::extract::authenticate(req)?;
    let original = original(req)?;
    let mut res = HttpResponse::Ok();
    res.insert_header((USER_ID, claims.user_id.to_string()));
    let Some(cost) = state.config.metered_routes.cost(&original.method, &original.path) else {
        return Ok(res.finish());
    };
    let key = idempotency_key(req)?
        .map(|k| k.for_request(fingerprint(original.method.as_str(), &original.path, b"")));
    let reason = UsageReason::Route(format!("gate {} {}", original.method, original.path));
    let metered = state.services.metering.consume(claims.user_id, cost, key, reason).await?;
    res.insert_header((PLAN, metered.quota.plan.as_str()));
    if let Some(id) = metered.value {
        res.insert_header((CONSUMPTION_ID, id.to_string()));
    }
    for header in rate_limit_headers(&metered.quota) {
        res.insert_header(header);
    }
    Ok(res.finish())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn a_forwarded_uri_is_normalised_as_an_upstream_routes_it() {
        for (raw, routed) in [
            ("/v1/agents/7/run", "/v1/agents/7/run"),
            ("/v1/agents/7/run?x=1#f", "/v1/agents/7/run"),
            ("/v1//agents/./7/run", "/v1/agents/7/run"),
            ("/v1/x/../agents/7/run", "/v1/agents/7/run"),
            ("/v1/%61gents/7/r%75n", "/v1/agents/7/run"),
            ("/v1/agents/a%2Fb/run", "/v1/agents/a%2Fb/run"),
            ("/v1/agents/", "/v1/agents/"),
            ("/", "/"),
        ] {
            assert_eq!(normalise(raw).as_deref(), Some(routed), "{raw}");
        }
        for bad in ["v1/agents", "/..", "/a/../../b", "/a%0a", "/a%zz", "/a%ff", "http://x/a"] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }
}
