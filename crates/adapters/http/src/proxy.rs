//! The built-in proxy (SPEC §7.4) for single-binary deployments: requests that are not
//! Tollgate's own routes and match `TOLLGATE_PROXY_ROUTES` go to `TOLLGATE_UPSTREAM_URL`. A
//! metered route holds its cost as a reservation, committed when the upstream answers below 500
//! and released on 500 and above, a timeout (504) or a connection failure (502). Bodies stream
//! both ways without buffering, so an agent's server-sent events reach the client one by one.
//! WebSockets are out of scope (an `Upgrade` is not forwarded).

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::error_code::ErrorCode;
use crate::metering::{fingerprint, idempotency_key, rate_limit_headers};
use crate::problem::ApiError;
use crate::route_table::PathPatterns;
use crate::routes::gate::{normalise, CONSUMPTION_ID, PLAN, USER_ID};
use crate::state::AppState;

/// Marks an answer that is the upstream's (problem+json rendering leaves it alone).
#[derive(Debug, Clone, Copy)]
pub struct Proxied;

/// The proxy's settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http(s)://host[:port][/base]`, without a trailing slash.
    pub upstream: String,
    /// Paths forwarded (default `/**`).
    pub routes: PathPatterns,
    /// Paths forwarded without a token.
    pub public: PathPatterns,
    /// How long the upstream may take to answer (its headers).
    pub timeout: Duration,
}

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), and the ones the
/// proxy sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// `headers` without hop-by-hop ones (also those the `Connection` header names) and without
/// `X-Tollgate-*` (only the proxy says who the user is).
fn forwardable(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !HOP_BY_HOP.contains(&name)
                && !named.iter().any(|n| n == name)
                && !name.starts_with("x-tollgate-")
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

fn upstream_failed(code: ErrorCode, status: StatusCode, detail: &str) -> ApiError {
    ApiError::new(status, code, detail.to_owned())
}

/// The default service when a proxy is configured: everything the router did not route.
pub async fn forward(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (Some(config), Some(client)) = (state.config.proxy.as_ref(), state.upstream.as_ref()) else {
        return Err(ApiError::not_found());
    };
    let path = normalise(req.path()).ok_or_else(ApiError::not_found)?;
    if !config.routes.matches(&path) {
        return Err(ApiError::not_found());
    }
    let public = config.public.matches(&path);
    let caller = if public {
        crate::extract::authenticate(&req).ok()
    } else {
        Some(crate::extract::authenticate(&req)?)
    };
    let cost = state.config.metered_routes.cost(req.method(), &path);
    // A metered route needs a caller to pay, public or not.
    let caller = match (cost, caller) {
        (Some(_), None) => return Err(ApiError::unauthenticated()),
        (_, caller) => caller,
    };
    let reservations = &state.services.reservations;
    let hold = match (cost, caller) {
        (Some(cost), Some(claims)) => {
            let key =
                idempotency_key(&req)?.map(|k| k.for_request(fingerprint(req.method().as_str(), &path, b"")));
            let ttl = time::Duration::try_from(config.timeout).unwrap_or(time::Duration::MINUTE)
                + time::Duration::MINUTE;
            let held = reservations.reserve(claims.user_id, cost, ttl, key).await?;
            Some(held)
        }
        _ => None,
    };

    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let url = format!("{}{path}{query}", config.upstream);
    let method =
        reqwest::Method::from_bytes(req.method().as_str().as_bytes()).map_err(|_| ApiError::not_found())?;
    let mut upstream = client.request(method, url);
    for (name, value) in forwardable(req.headers()) {
        upstream = upstream.header(name.as_str(), value.as_bytes());
    }
    let peer = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let forwarded_for = match req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(chain) => format!("{chain}, {peer}"),
        None => peer,
    };
    upstream = upstream
        .header("x-forwarded-for", forwarded_for)
        .header("x-forwarded-proto", req.connection_info().scheme().to_owned())
        .header("x-forwarded-host", req.connection_info().host().to_owned());
    if let Some(claims) = caller {
        upstream = upstream.header(USER_ID.as_str(), claims.user_id.to_string());
    }
    if let Some(held) = &hold {
        upstream = upstream.header(PLAN.as_str(), held.quota.plan.as_str());
        if let Some(r) = &held.value {
            upstream = upstream.header(CONSUMPTION_ID.as_str(), r.id.to_string());
        }
    }
    // The request body streams to the upstream as it arrives (the actix payload stays on this
    // thread; a channel hands its chunks over).
    if !crate::body::has_no_body(&req) {
        let (tx, rx) = futures_channel::mpsc::channel(4);
        actix_web::rt::spawn(pump(payload, tx));
        upstream = upstream.body(reqwest::Body::wrap_stream(rx));
    }
    let answer = actix_web::rt::time::timeout(config.timeout, upstream.send()).await;
    let settle = |commit: bool| {
        let reservations = state.services.reservations.clone();
        let id = hold.as_ref().and_then(|h| h.value.as_ref()).map(|r| r.id);
        let replayed = hold.as_ref().is_some_and(|h| h.replayed);
        async move {
            let (Some(id), false) = (id, replayed) else { return };
            let settled = if commit {
                reservations.commit(id, None).await.map(|_| ()).map_err(|e| e.to_string())
            } else {
                reservations.release(id).await.map(|_| ()).map_err(|e| e.to_string())
            };
            if let Err(e) = settled {
                tracing::error!(error = %e, "could not settle a proxied request's reservation");
            }
        }
    };
    let response = match answer {
        Err(_) => {
            settle(false).await;
            return Err(upstream_failed(
                ErrorCode::UpstreamTimeout,
                StatusCode::GATEWAY_TIMEOUT,
                "The upstream did not answer in time; nothing was charged.",
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the upstream could not be reached");
            settle(false).await;
            return Err(upstream_failed(
                ErrorCode::UpstreamUnavailable,
                StatusCode::BAD_GATEWAY,
                "The upstream could not be reached; nothing was charged.",
            ));
        }
        Ok(Ok(response)) => response,
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    settle(!status.is_server_error()).await;
    let mut out = HttpResponse::build(status);
    // The upstream's own answer, errors included, reaches the client as it is.
    out.extensions_mut().insert(Proxied);
    let mut upstream_headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            upstream_headers.append(name, value);
        }
    }
    for (name, value) in forwardable(&upstream_headers) {
        out.append_header((name, value));
    }
    if let Some(held) = &hold {
        for header in rate_limit_headers(&held.quota) {
            out.insert_header(header);
        }
    }
    Ok(out.streaming(response.bytes_stream().map(|chunk| chunk.map_err(std::io::Error::other))))
}

/// Hands the client's body to the upstream request, chunk by chunk.
async fn pump(
    mut payload: web::Payload,
    mut tx: futures_channel::mpsc::Sender<Result<web::Bytes, std::io::Error>>,
) {
    use futures_util::SinkExt;
    while let Some(chunk) = payload.next().await {
        let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
}
