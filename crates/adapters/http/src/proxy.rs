//! The built-in proxy (SPEC §7.4) for single-binary deployments: requests that are not
//! Tollgate's own routes and match `TOLLGATE_PROXY_ROUTES` go to `TOLLGATE_UPSTREAM_URL`. A
//! metered route holds its cost as a reservation, committed when the upstream answers below 500
//! and released on 500 and above, a timeout (504) or a connection failure (502). Bodies stream
//! both ways without buffering, so an agent's server-sent events reach the client one by one.
//! WebSockets are out of scope (an `Upgrade` is not forwarded).

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use tollgate_domain::{RunCount, UserId};
use tollgate_ports::Reservation;
use tollgate_usecases::metering::Metered;

use crate::config::ProxyConfig;
use crate::forwarded::forwarding;
use crate::headers::{rate_limit_headers, CONSUMPTION_ID, PLAN, USER_ID};
use crate::metering::{forwarded_replay, Bill, Body, Entry};
use crate::path::RoutedPath;
use crate::problem::code::ErrorCode;
use crate::problem::{ApiError, AsIs};
use crate::state::AppState;

impl ProxyConfig {
    /// The upstream URL for `path` (decoded once, each segment encoded again) and the client's
    /// query: always below the upstream's base path. `None` if the URL would not keep exactly
    /// that path (it never should; the check makes it impossible to forward anything else).
    fn url_for(&self, path: &RoutedPath, query: Option<&str>) -> Option<reqwest::Url> {
        let mut url = self.upstream.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        let expected = format!("{base}{}", path.encoded());
        url.set_path(&expected);
        // A `#` cannot start a fragment here: the query is sent as it came, `#` escaped.
        url.set_query(query.map(|q| q.replace('#', "%23")).as_deref());
        url.set_fragment(None);
        (url.path() == expected).then_some(url)
    }
}

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), and the ones the
/// proxy sets itself or that only a trusted proxy may say (SPEC §12).
const NOT_FORWARDED: &[&str] = &[
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
    "forwarded",
    "x-real-ip",
];

/// `headers` without hop-by-hop ones (also those the `Connection` header names), without
/// `X-Tollgate-*` (only the proxy says who the user is) and without `X-Forwarded-*` (the proxy
/// sets its own, see [`crate::forwarded`]).
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
            !NOT_FORWARDED.contains(&name)
                && !named.iter().any(|n| n == name)
                && !name.starts_with("x-tollgate-")
                && !name.starts_with("x-forwarded-")
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// A `Cookie` header without Tollgate's own cookies (the page session is a 30-day refresh token:
/// an upstream holding it could mint the user's tokens); `None` when nothing else is left.
fn without_own_cookies(value: &HeaderValue, own: [&str; 2]) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let kept: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !own.contains(&pair.split_once('=').map_or(*pair, |(name, _)| name).trim()))
        .collect();
    if kept.is_empty() {
        return None;
    }
    HeaderValue::from_str(&kept.join("; ")).ok()
}

/// Whether a `Set-Cookie` from the upstream would set one of Tollgate's own cookies.
fn sets_own_cookie(value: &HeaderValue, own: [&str; 2]) -> bool {
    let name = value.to_str().ok().and_then(|v| v.split_once('=')).map(|(name, _)| name.trim());
    name.is_some_and(|name| own.contains(&name))
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
    // Decoded once: what is matched, metered and forwarded is this very path.
    let path = RoutedPath::parse(req.uri().path()).map_err(crate::problem::catalog::invalid_path)?;
    if !config.routes.matches(path.as_str()) {
        return Err(ApiError::not_found());
    }
    let url = config
        .url_for(&path, req.uri().query())
        .ok_or_else(|| crate::problem::catalog::invalid_path(crate::path::InvalidPath::Ambiguous))?;
    let bill = Bill::for_route(&req, Entry::Proxied { path: &path }).await?;
    // Who the user is: the payer of a metered route (authenticated once, by the bill); else the
    // token's owner, required unless the route is public.
    let caller = match &bill {
        Some(bill) => bill.payer.member,
        None if config.public.matches(path.as_str()) => {
            crate::extract::authenticate(&req).ok().map(|c| c.user_id)
        }
        None => Some(crate::extract::authenticate(&req)?.user_id),
    };
    let held = match &bill {
        Some(bill) => Some(hold(&state, config, bill).await?),
        None => None,
    };
    let upstream = upstream_request(&state, config, client, &req, payload, url, caller, held.as_ref())?;
    let answer = actix_web::rt::time::timeout(config.timeout, upstream.send()).await;
    let response = match answer {
        Err(_) => {
            settle(&state, held.as_ref(), false).await;
            return Err(upstream_failed(
                ErrorCode::UpstreamTimeout,
                StatusCode::GATEWAY_TIMEOUT,
                "The upstream did not answer in time; nothing was charged.",
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the upstream could not be reached");
            settle(&state, held.as_ref(), false).await;
            return Err(upstream_failed(
                ErrorCode::UpstreamUnavailable,
                StatusCode::BAD_GATEWAY,
                "The upstream could not be reached; nothing was charged.",
            ));
        }
        Ok(Ok(response)) => response,
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    settle(&state, held.as_ref(), !status.is_server_error()).await;
    Ok(relay(&state, response, status, held.as_ref()))
}

/// A metered route's cost, held for as long as the upstream may take (and a minute more).
async fn hold(state: &AppState, config: &ProxyConfig, bill: &Bill) -> Result<Metered<Reservation>, ApiError> {
    let ttl =
        time::Duration::try_from(config.timeout).unwrap_or(time::Duration::MINUTE) + time::Duration::MINUTE;
    let key = bill.key_for(Body::Unread);
    let held = state.services.reservations.reserve(bill.payer, bill.cost, ttl, key).await?;
    forwarded_replay(held.replayed, state)?;
    Ok(held)
}

/// The request to the upstream: the client's method, forwardable headers (never Tollgate's own
/// cookies, nor the token Tollgate authenticated unless configured), `X-Forwarded-*` as Tollgate
/// saw them, the `X-Tollgate-*` facts, and the body streaming as it arrives.
#[allow(clippy::too_many_arguments, reason = "one request's parts, each used once")]
fn upstream_request(
    state: &AppState,
    config: &ProxyConfig,
    client: &reqwest::Client,
    req: &HttpRequest,
    payload: web::Payload,
    url: reqwest::Url,
    caller: Option<UserId>,
    held: Option<&Metered<Reservation>>,
) -> Result<reqwest::RequestBuilder, ApiError> {
    let method =
        reqwest::Method::from_bytes(req.method().as_str().as_bytes()).map_err(|_| ApiError::not_found())?;
    let mut upstream = client.request(method, url);
    let own_cookies = own_cookies(state);
    for (name, value) in forwardable(req.headers()) {
        let value = if name == header::COOKIE {
            match without_own_cookies(&value, own_cookies) {
                Some(value) => value,
                None => continue,
            }
        } else if name == header::AUTHORIZATION && caller.is_some() && !config.forward_authorization {
            // The token Tollgate authenticated is Tollgate's, not the upstream's.
            continue;
        } else {
            value
        };
        upstream = upstream.header(name.as_str(), value.as_bytes());
    }
    let seen = forwarding(req, &state.config.trusted_proxies);
    upstream = upstream
        .header("x-forwarded-for", seen.forwarded_for)
        .header("x-forwarded-proto", seen.proto)
        .header("x-forwarded-host", seen.host);
    if let Some(user) = caller {
        upstream = upstream.header(USER_ID.as_str(), user.to_string());
    }
    if let Some(held) = held {
        upstream = upstream.header(PLAN.as_str(), held.quota.plan.as_str());
        if let Some(r) = &held.value {
            upstream = upstream.header(CONSUMPTION_ID.as_str(), r.id.to_string());
        }
    }
    // The request body streams to the upstream as it arrives (the actix payload stays on this
    // thread; a channel hands its chunks over).
    if !crate::body::has_no_body(req) {
        let (tx, rx) = futures_channel::mpsc::channel(4);
        actix_web::rt::spawn(pump(payload, tx));
        upstream = upstream.body(reqwest::Body::wrap_stream(rx));
    }
    Ok(upstream)
}

/// The names of the pages' cookies, which never go to the upstream nor come from it.
fn own_cookies(state: &AppState) -> [&str; 2] {
    [state.config.pages.names.session, state.config.pages.names.csrf]
}

/// Commits the hold (the upstream answered below 500) or releases it; a replayed hold is the
/// first request's to settle.
async fn settle(state: &AppState, held: Option<&Metered<Reservation>>, commit: bool) {
    let Some(held) = held.filter(|h| !h.replayed) else { return };
    let Some(id) = held.value.as_ref().map(|r| r.id) else { return };
    let reservations = &state.services.reservations;
    let settled = if commit {
        reservations.commit(id, None).await.map(|_| ()).map_err(|e| e.to_string())
    } else {
        reservations.release(id).await.map(|_| ()).map_err(|e| e.to_string())
    };
    if let Err(e) = settled {
        tracing::error!(error = %e, "could not settle a proxied request's reservation");
    }
}

/// The upstream's answer as it is, errors included: its status, its forwardable headers (never a
/// cookie of Tollgate's), `RateLimit-*` after settling, and its body streaming.
fn relay(
    state: &AppState,
    response: reqwest::Response,
    status: StatusCode,
    held: Option<&Metered<Reservation>>,
) -> HttpResponse {
    let mut out = HttpResponse::build(status);
    out.extensions_mut().insert(AsIs);
    let mut upstream_headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            upstream_headers.append(name, value);
        }
    }
    let own_cookies = own_cookies(state);
    for (name, value) in forwardable(&upstream_headers) {
        if name == header::SET_COOKIE && sets_own_cookie(&value, own_cookies) {
            continue;
        }
        out.append_header((name, value));
    }
    if let Some(held) = held {
        // The quota after settling: a released hold (5xx) gave its runs back.
        let mut quota = held.quota;
        if status.is_server_error() && !held.replayed {
            let runs = held.value.as_ref().map_or(0, |r| r.runs.get());
            quota.runs_reserved = RunCount::new(quota.runs_reserved.get().saturating_sub(runs));
        }
        for header in rate_limit_headers(&quota) {
            out.insert_header(header);
        }
    }
    out.streaming(response.bytes_stream().map(|chunk| chunk.map_err(std::io::Error::other)))
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
