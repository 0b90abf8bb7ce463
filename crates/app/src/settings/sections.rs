//! The typed sections (`[server]`, `[store]`, `[auth]`, `[stripe]`, `[billing]`, `[proxy]`,
//! `[plans]`), each with its `Default`: the one source of its defaults.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use super::error::RunMode;
use super::parsers::{optional, secret, text, DatabaseUrl, HttpUrl, MetricsListen, Secs};

use secrecy::SecretString;
use serde::Deserialize;
use tollgate_domain::plan::RunLimit;
use tollgate_domain::Currency;
use tollgate_http::forwarded::TrustedProxies;
use tollgate_http::headers::GateHeaders;
use tollgate_http::route_table::PathPatterns;
use tollgate_http::RouteTable;
use tollgate_usecases::redirect::RedirectPolicy;

/// The HTTP server.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    #[serde(deserialize_with = "text")]
    pub listen: SocketAddr,
    /// The Prometheus listener (its own address, so it can stay private).
    #[serde(deserialize_with = "text")]
    pub metrics_listen: MetricsListen,
    #[serde(deserialize_with = "text")]
    pub mode: RunMode,
    /// Origins allowed by CORS; the redirect origins when unset.
    #[serde(deserialize_with = "optional")]
    pub cors_origins: Option<RedirectPolicy>,
    /// Body limit of the JSON API, in bytes.
    #[serde(deserialize_with = "text")]
    pub max_body_bytes: NonZeroU32,
    /// A request body must have arrived within this time (else 408).
    #[serde(deserialize_with = "text")]
    pub body_timeout: Secs,
    /// `METHOD PATTERN[=COST]` entries whose requests consume runs (SPEC §7.1).
    #[serde(deserialize_with = "text")]
    pub metered_routes: RouteTable,
    /// The one header pair the gate reads the original request from (SPEC §12).
    #[serde(deserialize_with = "text")]
    pub gate_headers: GateHeaders,
    /// Peers whose `X-Forwarded-*` headers are believed (addresses or CIDR ranges).
    #[serde(deserialize_with = "text")]
    pub trusted_proxies: TrustedProxies,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: MetricsListen(Some(SocketAddr::from(([127, 0, 0, 1], 9464)))),
            mode: RunMode::Dev,
            cors_origins: None,
            max_body_bytes: NonZeroU32::new(65_536).unwrap_or(NonZeroU32::MIN),
            body_timeout: Secs(Duration::from_secs(30)),
            metered_routes: RouteTable::default_table(),
            gate_headers: GateHeaders::default(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// The store.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    #[serde(deserialize_with = "text")]
    pub database_url: DatabaseUrl,
    /// Connection-pool size.
    #[serde(deserialize_with = "text")]
    pub max_connections: NonZeroU32,
    /// How long a request waits for a pooled connection before failing as unavailable.
    #[serde(deserialize_with = "text")]
    pub acquire_timeout: Secs,
    /// Metered writes that may wait for group commit; past it 503 `OVERLOADED`.
    #[serde(deserialize_with = "text")]
    pub write_queue_limit: NonZeroU32,
}

impl StoreSettings {
    /// The SQLite file `DATABASE_URL` names (relative to the working folder when relative), or
    /// `None` for Postgres.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        let url = &self.database_url.0;
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        Some(Path::new(path.split('?').next().unwrap_or(path)).to_path_buf())
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            database_url: DatabaseUrl("sqlite://data/tollgate.db".to_owned()),
            max_connections: NonZeroU32::new(16).unwrap_or(NonZeroU32::MIN),
            acquire_timeout: Secs(Duration::from_secs(5)),
            write_queue_limit: NonZeroU32::new(4_096).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Sign-in and tokens.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Checked against the mode after loading; see [`Settings::jwt_secret`].
    #[serde(deserialize_with = "secret")]
    pub jwt_secret: Option<SecretString>,
    #[serde(deserialize_with = "text")]
    pub access_ttl: Secs,
    #[serde(deserialize_with = "text")]
    pub refresh_ttl_days: NonZeroU32,
    /// Login + register attempts per client address, failed logins per (email, address), per minute.
    #[serde(deserialize_with = "text")]
    pub rate_per_minute: u32,
    /// Reuse of a just-rotated refresh token within this time revokes nothing.
    #[serde(deserialize_with = "text")]
    pub refresh_reuse_grace: Secs,
    /// Password-hashing workers, each holding one argon2 memory block (~19 MiB); unset = one
    /// per core. See [`AuthSettings::hashing`].
    #[serde(deserialize_with = "optional")]
    pub hash_workers: Option<NonZeroU32>,
    /// Hashes that may wait for a worker (unset = 64 per worker); past it register and login
    /// answer 503 `OVERLOADED`.
    #[serde(deserialize_with = "optional")]
    pub hash_queue: Option<NonZeroU32>,
}

impl AuthSettings {
    /// The password hashers' workers and queue, defaults applied.
    pub fn hashing(&self) -> (u32, u32) {
        let workers = self.hash_workers.map_or_else(cores, NonZeroU32::get);
        let queue = self.hash_queue.map_or(workers.saturating_mul(64), NonZeroU32::get);
        (workers, queue)
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_ttl: Secs(Duration::from_secs(900)),
            refresh_ttl_days: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            rate_per_minute: 30,
            refresh_reuse_grace: Secs(Duration::from_secs(10)),
            hash_workers: None,
            hash_queue: None,
        }
    }
}

/// The cores this process may use (1 if unknown).
pub(crate) fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Stripe.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct StripeSettings {
    #[serde(deserialize_with = "secret")]
    pub secret_key: Option<SecretString>,
    #[serde(deserialize_with = "secret")]
    pub webhook_secret: Option<SecretString>,
    #[serde(deserialize_with = "text")]
    pub api_base: HttpUrl,
    #[serde(deserialize_with = "optional")]
    pub price_id_basic: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub price_id_pro: Option<String>,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: HttpUrl("https://api.stripe.com".to_owned()),
            price_id_basic: None,
            price_id_pro: None,
        }
    }
}

/// Billing rules that are deployment choices.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct BillingSettings {
    /// Origins allowed in Checkout and portal redirect URLs.
    #[serde(deserialize_with = "text")]
    pub redirect_origins: RedirectPolicy,
    /// Metered use stays allowed this long after a failed payment.
    #[serde(deserialize_with = "text")]
    pub past_due_grace_hours: u32,
    /// Checkout sessions per user per minute (0 = off).
    #[serde(deserialize_with = "text")]
    pub checkout_rate_per_minute: u32,
    /// How often expired reservations are swept (0 = never; expiry is also lazy).
    #[serde(deserialize_with = "text")]
    pub reservation_sweep: Secs,
    /// How often housekeeping runs (0 = never).
    #[serde(deserialize_with = "text")]
    pub housekeeping: Secs,
    /// Webhook inbox entries are kept this many days (at least 7).
    #[serde(deserialize_with = "text")]
    pub inbox_retention_days: u32,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            redirect_origins: RedirectPolicy::new(["http://localhost:3000"]).unwrap_or_else(|_| {
                RedirectPolicy::new(std::iter::empty())
                    .unwrap_or_else(|_| unreachable!("no origins is valid"))
            }),
            past_due_grace_hours: 72,
            checkout_rate_per_minute: 10,
            reservation_sweep: Secs(Duration::from_secs(60)),
            housekeeping: Secs(Duration::from_secs(3600)),
            inbox_retention_days: 90,
        }
    }
}

/// The built-in proxy (SPEC §7.4); off while `upstream_url` is unset.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct ProxySettings {
    #[serde(deserialize_with = "optional")]
    pub upstream_url: Option<HttpUrl>,
    /// Paths forwarded to the upstream (patterns as the route table's).
    #[serde(deserialize_with = "text")]
    pub routes: PathPatterns,
    /// Paths forwarded without a token.
    #[serde(deserialize_with = "text")]
    pub public_routes: PathPatterns,
    /// How long the upstream may take to answer (and a proxied body to arrive).
    #[serde(deserialize_with = "text")]
    pub timeout: Secs,
    /// The upstream answers a repeated `Idempotency-Key` without redoing the work: a request
    /// whose key already paid passes uncharged instead of 409 (the gate too).
    #[serde(deserialize_with = "text")]
    pub upstream_deduplicates: bool,
    /// Send the user's bearer token on to the upstream (off: it is removed).
    #[serde(deserialize_with = "text")]
    pub forward_authorization: bool,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            upstream_url: None,
            routes: "/**".parse().unwrap_or_default(),
            public_routes: PathPatterns::default(),
            timeout: Secs(Duration::from_secs(300)),
            upstream_deduplicates: false,
            forward_authorization: false,
        }
    }
}

/// Overrides of the plan catalog; its defaults are the domain's (`PlanCatalog::with_defaults`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PlanSettings {
    #[serde(deserialize_with = "optional")]
    pub currency: Option<Currency>,
    #[serde(deserialize_with = "optional")]
    pub free_runs: Option<RunLimit>,
    #[serde(deserialize_with = "optional")]
    pub basic_runs: Option<RunLimit>,
    #[serde(deserialize_with = "optional")]
    pub pro_runs: Option<RunLimit>,
    #[serde(deserialize_with = "optional")]
    pub enterprise_runs: Option<RunLimit>,
    #[serde(deserialize_with = "optional")]
    pub basic_price_cents: Option<u64>,
    #[serde(deserialize_with = "optional")]
    pub pro_price_cents: Option<u64>,
    /// Sold per seat: the pool is the plan's runs × the account's members, and the Stripe
    /// subscription's quantity is kept at the member count.
    #[serde(deserialize_with = "optional")]
    pub basic_per_seat: Option<bool>,
    #[serde(deserialize_with = "optional")]
    pub pro_per_seat: Option<bool>,
    #[serde(deserialize_with = "optional")]
    pub trial_days: Option<u16>,
    #[serde(deserialize_with = "optional")]
    pub trial_runs: Option<u32>,
}

/// Every section, as the `config` crate deserialises them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Sections {
    pub(crate) server: ServerSettings,
    pub(crate) store: StoreSettings,
    pub(crate) auth: AuthSettings,
    pub(crate) stripe: StripeSettings,
    pub(crate) billing: BillingSettings,
    pub(crate) plans: PlanSettings,
    pub(crate) proxy: ProxySettings,
}
