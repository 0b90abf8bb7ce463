//! Configuration, layered: built-in defaults → `config/default.toml` → `config/{TOLLGATE_ENV}.toml`
//! → environment, the environment last. Files use the environment's names in lower case
//! (`tollgate_listen = "0.0.0.0:8080"`) or the sections of [`KEYS`] (`[server]` `listen = …`). A
//! name nobody reads (a `TOLLGATE_*` variable or a file key) stops start-up naming the closest one.
//!
//! [`KEYS`] is the one table of names: each setting's environment name and its place in the typed
//! sections below. The `config` crate layers the sources, the table moves each value to its
//! place, and the `config` crate deserialises the sections; every value parses through its type's
//! `FromStr` (addresses, durations, run limits, origins, the route table), and each section's
//! `Default` is the one source of its defaults. A bad value stops start-up with a message naming
//! the variable, never its (maybe secret) value.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use tollgate_domain::plan::{CatalogError, RunCount, RunLimit, TrialTerms};
use tollgate_domain::{Currency, Money, PlanCatalog, PlanId};
use tollgate_http::forwarded::TrustedProxies;
use tollgate_http::route_table::PathPatterns;
use tollgate_http::routes::gate::GateHeaders;
use tollgate_http::RouteTable;
use tollgate_ports::redirect::RedirectPolicy;

/// Every setting: its environment name and its place in [`Sections`].
pub const KEYS: &[(&str, &str)] = &[
    ("TOLLGATE_LISTEN", "server.listen"),
    ("TOLLGATE_METRICS_LISTEN", "server.metrics_listen"),
    ("TOLLGATE_ENV", "server.mode"),
    ("TOLLGATE_CORS_ORIGINS", "server.cors_origins"),
    ("TOLLGATE_MAX_BODY_BYTES", "server.max_body_bytes"),
    ("TOLLGATE_BODY_TIMEOUT_SECS", "server.body_timeout"),
    ("TOLLGATE_METERED_ROUTES", "server.metered_routes"),
    ("TOLLGATE_GATE_HEADERS", "server.gate_headers"),
    ("TOLLGATE_TRUSTED_PROXIES", "server.trusted_proxies"),
    ("DATABASE_URL", "store.database_url"),
    ("TOLLGATE_DB_MAX_CONNECTIONS", "store.max_connections"),
    ("TOLLGATE_DB_ACQUIRE_TIMEOUT_SECS", "store.acquire_timeout"),
    ("TOLLGATE_WRITE_QUEUE_LIMIT", "store.write_queue_limit"),
    ("JWT_SECRET_KEY", "auth.jwt_secret"),
    ("TOLLGATE_ACCESS_TOKEN_TTL_SECS", "auth.access_ttl"),
    ("TOLLGATE_REFRESH_TOKEN_TTL_DAYS", "auth.refresh_ttl_days"),
    ("TOLLGATE_AUTH_RATE_PER_MINUTE", "auth.rate_per_minute"),
    ("TOLLGATE_REFRESH_REUSE_GRACE_SECS", "auth.refresh_reuse_grace"),
    ("TOLLGATE_PASSWORD_HASH_WORKERS", "auth.hash_workers"),
    ("TOLLGATE_PASSWORD_HASH_QUEUE", "auth.hash_queue"),
    ("STRIPE_SECRET_KEY", "stripe.secret_key"),
    ("STRIPE_WEBHOOK_SECRET", "stripe.webhook_secret"),
    ("STRIPE_API_BASE", "stripe.api_base"),
    ("STRIPE_PRICE_ID_BASIC", "stripe.price_id_basic"),
    ("STRIPE_PRICE_ID_PRO", "stripe.price_id_pro"),
    ("TOLLGATE_ALLOWED_REDIRECT_ORIGINS", "billing.redirect_origins"),
    ("TOLLGATE_PAST_DUE_GRACE_HOURS", "billing.past_due_grace_hours"),
    ("TOLLGATE_CHECKOUT_RATE_PER_MINUTE", "billing.checkout_rate_per_minute"),
    ("TOLLGATE_RESERVATION_SWEEP_SECS", "billing.reservation_sweep"),
    ("TOLLGATE_HOUSEKEEPING_SECS", "billing.housekeeping"),
    ("TOLLGATE_INBOX_RETENTION_DAYS", "billing.inbox_retention_days"),
    ("TOLLGATE_UPSTREAM_URL", "proxy.upstream_url"),
    ("TOLLGATE_PROXY_ROUTES", "proxy.routes"),
    ("TOLLGATE_PROXY_PUBLIC_ROUTES", "proxy.public_routes"),
    ("TOLLGATE_UPSTREAM_TIMEOUT_SECS", "proxy.timeout"),
    ("TOLLGATE_UPSTREAM_DEDUPLICATES", "proxy.upstream_deduplicates"),
    ("TOLLGATE_PROXY_FORWARD_AUTHORIZATION", "proxy.forward_authorization"),
    ("TOLLGATE_PLAN_CURRENCY", "plans.currency"),
    ("TOLLGATE_PLAN_FREE_RUNS", "plans.free_runs"),
    ("TOLLGATE_PLAN_BASIC_RUNS", "plans.basic_runs"),
    ("TOLLGATE_PLAN_PRO_RUNS", "plans.pro_runs"),
    ("TOLLGATE_PLAN_ENTERPRISE_RUNS", "plans.enterprise_runs"),
    ("TOLLGATE_PLAN_BASIC_PRICE_CENTS", "plans.basic_price_cents"),
    ("TOLLGATE_PLAN_PRO_PRICE_CENTS", "plans.pro_price_cents"),
    ("TOLLGATE_TRIAL_DAYS", "plans.trial_days"),
    ("TOLLGATE_TRIAL_RUNS", "plans.trial_runs"),
];

/// `dev` or `production`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunMode {
    #[default]
    Dev,
    Production,
}

impl FromStr for RunMode {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Self::Dev),
            "production" | "prod" => Ok(Self::Production),
            _ => Err("must be `dev` or `production`"),
        }
    }
}

/// A setting that cannot be used. The message names the variable, never its (maybe secret) value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("unknown setting `{name}` in {place}{}", closest.as_ref().map(|c| format!("; did you mean `{c}`?")).unwrap_or_default())]
    Unknown { name: String, place: String, closest: Option<String> },
    #[error("{file} is not valid TOML: {position} (the line is not shown: it may hold a secret)")]
    Syntax { file: String, position: String },
    #[error("could not read the configuration: {0}")]
    Load(#[from] config::ConfigError),
}

/// The entry of [`KEYS`] named `name`, in any case (`DATABASE_URL`, `tollgate_listen`).
fn setting(name: &str) -> Option<&'static (&'static str, &'static str)> {
    KEYS.iter().find(|(known, _)| known.eq_ignore_ascii_case(name))
}

/// Whether a name not in [`KEYS`] is one Tollgate must refuse: `TOLLGATE_*`, except the test
/// suite's `TOLLGATE_TEST_*`.
fn claimed(name: &str) -> bool {
    let upper = name.to_uppercase();
    upper.starts_with("TOLLGATE_") && !upper.starts_with("TOLLGATE_TEST_")
}

/// The process environment. A value that is not UTF-8 is refused when the name is one of ours
/// (without showing it); other programs' variables are not Tollgate's business.
fn process_environment() -> Result<HashMap<String, String>, SettingsError> {
    let mut vars = HashMap::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        match value.into_string() {
            Ok(value) => {
                vars.insert(name.to_owned(), value);
            }
            Err(_) => {
                if let Some((known, _)) = setting(name) {
                    return Err(invalid(known, "is not valid UTF-8"));
                }
                if claimed(name) {
                    vars.insert(name.to_owned(), String::new());
                }
            }
        }
    }
    Ok(vars)
}

/// A file that does not parse, said without quoting it: the parser's message shows the line, and
/// the line may hold a secret (`stripe_secret_key = sk_live_…` without quotes).
fn unreadable(file: &Path, e: config::ConfigError) -> SettingsError {
    match e {
        config::ConfigError::FileParse { cause, .. } => {
            let cause = cause.to_string();
            let position = cause.lines().next().unwrap_or("a syntax error").to_owned();
            SettingsError::Syntax { file: file.display().to_string(), position }
        }
        other => SettingsError::Load(other),
    }
}

/// The sections a file may use (`[server]` `listen = …`), from [`KEYS`].
fn is_section(name: &str) -> bool {
    KEYS.iter().any(|(_, path)| path.split_once('.').is_some_and(|(section, _)| section == name))
}

/// The settings one top-level key of a file sets: a name in lower case, or a section's table.
fn file_entries(
    key: &str,
    value: config::Value,
    file: &Path,
) -> Result<Vec<(&'static str, config::Value)>, SettingsError> {
    if let Some((_, path)) = setting(key) {
        return Ok(vec![(*path, value)]);
    }
    let lower = key.to_lowercase();
    let unknown = |name: String, closest: Option<String>| SettingsError::Unknown {
        name,
        place: file.display().to_string(),
        closest,
    };
    if is_section(&lower) {
        let table = value.into_table().map_err(|_| unknown(lower.clone(), None))?;
        let mut entries = Vec::with_capacity(table.len());
        for (inner, value) in table {
            let path = format!("{lower}.{}", inner.to_lowercase());
            match KEYS.iter().find(|(_, known)| *known == path) {
                Some((_, known)) => entries.push((*known, value)),
                None => {
                    let closest = closest(&path, KEYS.iter().map(|(_, known)| (*known).to_owned()));
                    return Err(unknown(format!("[{lower}] {inner}"), closest.map(|c| section_form(&c))));
                }
            }
        }
        return Ok(entries);
    }
    let candidates = KEYS.iter().map(|(name, _)| name.to_lowercase());
    Err(unknown(key.to_owned(), closest(&lower, candidates)))
}

/// `server.listen` as a file writes it: `[server] listen`.
fn section_form(path: &str) -> String {
    path.split_once('.').map_or_else(|| path.to_owned(), |(section, key)| format!("[{section}] {key}"))
}

/// The candidate nearest to `name`, if it is near enough to be the one meant.
fn closest(name: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    candidates
        .map(|c| (strsim::levenshtein(name, &c), c))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, c)| *distance <= (name.len().max(c.len()) / 3).max(2))
        .map(|(_, c)| c)
}

fn invalid(key: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key, reason: reason.into() }
}

/// Whole seconds (`TOLLGATE_…_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secs(pub Duration);

impl FromStr for Secs {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim().parse().map(|s| Self(Duration::from_secs(s))).map_err(|_| "must be whole seconds ≥ 0")
    }
}

/// Where `/metrics` is served: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

impl FromStr for MetricsListen {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "off" => Ok(Self(None)),
            address => {
                address.parse().map(|a| Self(Some(a))).map_err(|_| "must be an address (host:port) or `off`")
            }
        }
    }
}

/// `sqlite://…` or `postgres://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl FromStr for DatabaseUrl {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = text.trim();
        if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self(url.to_owned()))
        } else {
            Err("must start with sqlite:// or postgres://")
        }
    }
}

/// An `http(s)://` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub String);

impl FromStr for HttpUrl {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = text.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("must be an http(s) URL");
        }
        match url::Url::parse(url) {
            Ok(parsed) if parsed.query().is_none() && parsed.fragment().is_none() => Ok(Self(url.to_owned())),
            Ok(_) => Err("must be an http(s) URL without a query or fragment"),
            Err(_) => Err("must be an http(s) URL"),
        }
    }
}

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
fn cores() -> u32 {
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
    #[serde(deserialize_with = "optional")]
    pub trial_days: Option<u16>,
    #[serde(deserialize_with = "optional")]
    pub trial_runs: Option<u32>,
}

/// Every section, as the `config` crate deserialises them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Sections {
    server: ServerSettings,
    store: StoreSettings,
    auth: AuthSettings,
    stripe: StripeSettings,
    billing: BillingSettings,
    plans: PlanSettings,
    proxy: ProxySettings,
}

/// Everything Tollgate reads from its configuration, validated.
#[derive(Debug)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub auth: AuthSettings,
    pub stripe: StripeSettings,
    pub billing: BillingSettings,
    pub proxy: ProxySettings,
    /// The plan catalog with its overrides applied.
    pub catalog: PlanCatalog,
    /// The JWT secret (generated in dev when unset; see [`Settings::keep_dev_secret`]).
    pub jwt_secret: SecretString,
    /// Whether [`Self::jwt_secret`] was generated (dev, `JWT_SECRET_KEY` unset).
    pub jwt_secret_generated: bool,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
}

/// Secrets that only a placeholder would contain.
const PLACEHOLDERS: [&str; 5] = ["change-me", "changeme", "placeholder", "your-secret", "example"];

impl Settings {
    /// Loads from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        Self::load_from(config_dir, None)
    }

    /// Loads from `config_dir` and `env` (the process environment when `None`); for tests.
    ///
    /// A name nobody reads is refused, naming the closest valid one: a `TOLLGATE_*` variable not in
    /// [`KEYS`] (names starting `TOLLGATE_TEST_` belong to the test suite and are left alone), and
    /// any key of a file that is neither a name in lower case (`tollgate_listen`) nor a section's
    /// key (`[server]` `listen`).
    pub fn load_from(config_dir: &Path, env: Option<HashMap<String, String>>) -> Result<Self, SettingsError> {
        let env = match env {
            Some(env) => env,
            None => process_environment()?,
        };
        let mut sections = config::Config::builder();
        // The mode picks the file layer, so it is read from the environment first.
        let mut files = vec![config_dir.join("default.toml")];
        let mode =
            env.iter().find(|(name, _)| name.eq_ignore_ascii_case("TOLLGATE_ENV")).map(|(_, mode)| mode);
        if let Some(mode) = mode.filter(|m| !m.contains(['/', '\\', '.'])) {
            files.push(config_dir.join(format!("{}.toml", mode.to_lowercase())));
        }
        for file in files.iter().filter(|f| f.is_file()) {
            let table = config::Config::builder()
                .add_source(config::File::from(file.as_path()))
                .build()
                .map_err(|e| unreadable(file, e))?
                .try_deserialize::<config::Map<String, config::Value>>()?;
            for (key, value) in table {
                for (path, value) in file_entries(&key, value, file)? {
                    sections = sections.set_override(path, value)?;
                }
            }
        }
        // The environment last; its values replace the files'.
        let mut names: Vec<_> = env.iter().collect();
        names.sort();
        for (name, value) in names {
            if let Some((_, path)) = setting(name) {
                sections = sections.set_override(*path, value.as_str())?;
            } else if claimed(name) {
                let closest =
                    closest(&name.to_uppercase(), KEYS.iter().map(|(known, _)| (*known).to_owned()));
                return Err(SettingsError::Unknown {
                    name: name.clone(),
                    place: "the environment".into(),
                    closest,
                });
            }
        }
        let sections: Sections = serde_path_to_error::deserialize(sections.build()?).map_err(|e| {
            let path = e.path().to_string();
            let key = KEYS.iter().find(|(_, p)| *p == path).map_or("configuration", |(name, _)| name);
            // The `config` crate appends its own path (`… for key `server.listen``): the name is enough.
            let reason = e.into_inner().to_string();
            let reason = reason.find(" for key `").map_or(reason.as_str(), |at| &reason[..at]).to_owned();
            invalid(key, reason)
        })?;
        Self::validate(sections)
    }

    fn validate(s: Sections) -> Result<Self, SettingsError> {
        if s.billing.inbox_retention_days < 7 {
            // Stripe retries a delivery for 3 days: a shorter memory would apply a redelivery again.
            return Err(invalid("TOLLGATE_INBOX_RETENTION_DAYS", "must be at least 7"));
        }
        let catalog = catalog(&s.plans, &s.stripe)?;
        let jwt_secret_generated = s.auth.jwt_secret.is_none();
        let jwt_secret = jwt_secret(s.auth.jwt_secret.clone(), s.server.mode)?;
        let cors_origins = s.server.cors_origins.as_ref().unwrap_or(&s.billing.redirect_origins).origins();
        Ok(Self {
            server: s.server,
            store: s.store,
            auth: s.auth,
            stripe: s.stripe,
            billing: s.billing,
            proxy: s.proxy,
            catalog,
            jwt_secret,
            jwt_secret_generated,
            cors_origins,
        })
    }

    pub fn mode(&self) -> RunMode {
        self.server.mode
    }

    /// What a production server should not run with, said at start-up (it still starts).
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut warnings = Vec::new();
        if self.mode() == RunMode::Production {
            if self.store.sqlite_file().is_some() {
                warnings.push(
                    "production on SQLite: one server process only (replicas need Postgres); back the file up \
                     with `tollgate backup`",
                );
            }
            match (self.stripe.secret_key.is_some(), self.stripe.webhook_secret.is_some()) {
                (true, true) => {}
                (false, _) => warnings.push(
                    "production without STRIPE_SECRET_KEY: nobody can buy a plan (Checkout and the portal \
                     answer 503)",
                ),
                (true, false) => warnings.push(
                    "production without STRIPE_WEBHOOK_SECRET: Checkout takes payments but the webhook answers \
                     503, so paid plans never take effect",
                ),
            }
        }
        warnings
    }

    /// In dev without `JWT_SECRET_KEY`, the generated secret is kept in a file beside the SQLite
    /// store (`data/` for Postgres), readable by its owner only, so tokens survive a restart: the
    /// first start writes it, later starts read it. Returns the file, or `None` when a secret was
    /// configured.
    ///
    /// # Errors
    /// The file cannot be read or written, or holds fewer than 32 bytes.
    pub fn keep_dev_secret(&mut self) -> std::io::Result<Option<std::path::PathBuf>> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if !self.jwt_secret_generated {
            return Ok(None);
        }
        let folder = self
            .store
            .sqlite_file()
            .and_then(|path| path.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| "data".into());
        std::fs::create_dir_all(&folder)?;
        let file = folder.join("dev-jwt-secret");
        match std::fs::read_to_string(&file) {
            Ok(kept) if kept.trim().len() >= 32 => {
                self.jwt_secret = SecretString::from(kept.trim().to_owned());
            }
            Ok(_) => {
                return Err(std::io::Error::other(format!("{} holds fewer than 32 bytes", file.display())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut out =
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file)?;
                out.write_all(self.jwt_secret.expose_secret().as_bytes())?;
            }
            Err(e) => return Err(e),
        }
        Ok(Some(file))
    }
}

/// A value parsed through its type's `FromStr`, from text or from a number or boolean in a file.
fn text<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let raw = Text::deserialize(deserializer)?.0;
    raw.trim().parse().map_err(|e| de::Error::custom(sentence(raw.trim(), &e)))
}

/// A parse error as a sentence: the standard library's integer errors ("invalid digit found in
/// string") say what the value must be instead.
fn sentence(raw: &str, error: &dyn fmt::Display) -> String {
    let message = error.to_string();
    match message.as_str() {
        "invalid digit found in string" if raw.starts_with('-') => {
            "must be a whole number, not a negative one".to_owned()
        }
        "invalid digit found in string" => "must be a whole number".to_owned(),
        "number too large to fit in target type" => "is larger than this setting allows".to_owned(),
        "number would be zero for non-zero type" => "must be at least 1".to_owned(),
        "cannot parse integer from empty string" => "must not be empty".to_owned(),
        _ => message,
    }
}

/// Like [`text`]; blank means unset.
fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let raw = Text::deserialize(deserializer)?.0;
    match raw.trim() {
        "" => Ok(None),
        value => value.parse().map(Some).map_err(|e| de::Error::custom(sentence(value, &e))),
    }
}

/// A secret; blank means unset. Its value never reaches an error message.
fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    let raw = Text::deserialize(deserializer)?.0;
    Ok((!raw.trim().is_empty()).then(|| SecretString::from(raw)))
}

/// Any scalar, as text.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The plan catalog: the domain's defaults, each limit, price and trial term overridable.
fn catalog(plans: &PlanSettings, stripe: &StripeSettings) -> Result<PlanCatalog, SettingsError> {
    let defaults = PlanCatalog::with_defaults(stripe.price_id_basic.clone(), stripe.price_id_pro.clone());
    let currency = plans.currency.unwrap_or(Currency::USD);
    let mut all = defaults.plans().to_vec();
    for plan in &mut all {
        let (runs, cents) = match plan.id {
            PlanId::Free => (plans.free_runs, None),
            PlanId::Basic => (plans.basic_runs, plans.basic_price_cents),
            PlanId::Pro => (plans.pro_runs, plans.pro_price_cents),
            PlanId::Enterprise => (plans.enterprise_runs, None),
        };
        plan.runs = runs.unwrap_or(plan.runs);
        plan.price = cents
            .map(|c| Money::new(c, currency))
            .or(plan.price.map(|m| Money::new(m.amount_minor(), currency)));
    }
    let trial = TrialTerms {
        days: plans.trial_days.unwrap_or(defaults.trial().days),
        runs: plans.trial_runs.map_or(defaults.trial().runs, RunCount::new),
    };
    PlanCatalog::new(all, trial).map_err(|e| {
        let key = match e {
            CatalogError::FreeMustBeLimited => "TOLLGATE_PLAN_FREE_RUNS",
            CatalogError::EmptyTrial => "TOLLGATE_TRIAL_DAYS",
            CatalogError::SharedStripePrice(_) => "STRIPE_PRICE_ID_PRO",
            _ => "TOLLGATE_PLAN_*",
        };
        invalid(key, e.to_string())
    })
}

/// The JWT secret: required, ≥ 32 bytes and not a placeholder in production; generated per
/// process in dev when unset (tokens then do not survive a restart).
fn jwt_secret(given: Option<SecretString>, mode: RunMode) -> Result<SecretString, SettingsError> {
    const KEY: &str = "JWT_SECRET_KEY";
    match (given, mode) {
        (None, RunMode::Production) => Err(invalid(KEY, "is required when TOLLGATE_ENV=production")),
        (None, RunMode::Dev) => {
            #[allow(clippy::disallowed_methods, reason = "randomness for a dev-only secret, not an id")]
            let generated = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            Ok(SecretString::from(generated))
        }
        (Some(secret), mode) => {
            let text = secret.expose_secret();
            if text.len() < 32 {
                return Err(invalid(KEY, "must be at least 32 bytes"));
            }
            let lower = text.to_lowercase();
            if mode == RunMode::Production && PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
                return Err(invalid(KEY, "is a placeholder; generate one with `openssl rand -hex 32`"));
            }
            Ok(secret)
        }
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
