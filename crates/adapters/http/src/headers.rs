//! The headers Tollgate reads and writes by name, and the values it derives from a quota: the
//! `X-Tollgate-*` facts the gate and the proxy hand the upstream, the gate's header pair,
//! `Idempotency-Key`, `RateLimit-*` and the request id. Every module names them from here.

use actix_web::http::header::{HeaderName, HeaderValue};
use tollgate_domain::quota::QuotaSnapshot;

/// A client's correlation id, echoed on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The key a metered request is charged under once (`docs/integration.md`).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What the gate and the proxy tell the upstream about the paying user.
pub const USER_ID: HeaderName = HeaderName::from_static("x-tollgate-user-id");
/// Which account a user's request acts for (SPEC §13; default: their personal account). The gate
/// and the proxy also tell the upstream which account paid.
pub const ACCOUNT: HeaderName = HeaderName::from_static("x-tollgate-account");
pub const PLAN: HeaderName = HeaderName::from_static("x-tollgate-plan");
pub const CONSUMPTION_ID: HeaderName = HeaderName::from_static("x-tollgate-consumption-id");
/// For nginx, whose `auth_request` only passes 2xx, 401 and 403: the refusal as problem+json
/// (one line) and its real status, for `error_page` to answer with.
pub const PROBLEM: HeaderName = HeaderName::from_static("x-tollgate-problem");
pub const STATUS: HeaderName = HeaderName::from_static("x-tollgate-status");
/// Sent by the documented nginx config (`X-Tollgate-Gate-Client: nginx`): refusals are shaped
/// for `auth_request` (see `routes::gate`).
pub const GATE_CLIENT: &str = "x-tollgate-gate-client";

/// Which header pair carries the original request (`TOLLGATE_GATE_HEADERS`); the other pair is
/// ignored, so a client cannot choose what is metered by sending it through a proxy that passes
/// headers on (Caddy and Traefik do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GateHeaders {
    /// `X-Forwarded-Method` + `X-Forwarded-Uri`: Traefik, Caddy, the documented nginx config.
    #[default]
    Forwarded,
    /// `X-Original-Method` + `X-Original-URI`: nginx configs that send those.
    Original,
}

impl GateHeaders {
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Forwarded => ("x-forwarded-method", "x-forwarded-uri"),
            Self::Original => ("x-original-method", "x-original-uri"),
        }
    }
}

impl std::str::FromStr for GateHeaders {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "forwarded" => Ok(Self::Forwarded),
            "original" => Ok(Self::Original),
            _ => Err("must be `forwarded` (X-Forwarded-Method/-Uri) or `original` (X-Original-Method/-URI)"),
        }
    }
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
