//! Configuration, layered: built-in defaults → `config/default.toml` → `config/{TOLLGATE_ENV}.toml`
//! → environment, the environment last. Files use the environment's names in lower case
//! (`tollgate_listen = "0.0.0.0:8080"`). Every bad value stops start-up with a message naming the
//! variable.

use std::net::SocketAddr;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tollgate_domain::plan::{CatalogError, RunCount, RunLimit, TrialTerms};
use tollgate_domain::{Currency, Money, PlanCatalog, PlanId};
use tollgate_ports::redirect::RedirectPolicy;

/// `dev` or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Dev,
    Production,
}

/// A setting that cannot be used. The message names the variable, never its (maybe secret) value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("could not read the configuration: {0}")]
    Load(#[from] config::ConfigError),
}

fn invalid(key: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid { key, reason: reason.into() }
}

/// Everything Tollgate reads from its configuration, validated.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub mode: RunMode,
    pub database_url: String,
    pub jwt_secret: SecretString,
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_webhook_secret: Option<SecretString>,
    pub stripe_api_base: String,
    pub catalog: PlanCatalog,
    pub redirects: RedirectPolicy,
    pub past_due_grace_hours: u32,
    pub auth_rate_per_minute: u32,
    /// Connection-pool size of the store.
    pub db_max_connections: u32,
    /// How long a request waits for a pooled connection before failing as unavailable.
    pub db_acquire_timeout_secs: u32,
    /// `METHOD PATTERN[=COST]` entries whose requests consume runs (SPEC §7.1).
    pub metered_routes: tollgate_http::RouteTable,
    /// Reuse of a just-rotated refresh token within this many seconds revokes nothing.
    pub refresh_reuse_grace_secs: u32,
    /// Checkout sessions per user per minute (0 = off).
    pub checkout_rate_per_minute: u32,
    /// A request body must have arrived within this many seconds (else 408).
    pub body_timeout_secs: u32,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Body limit of the JSON API, in bytes.
    pub max_body_bytes: usize,
    /// Access-token lifetime.
    pub access_ttl_secs: u32,
    /// Refresh-token lifetime.
    pub refresh_ttl_days: u32,
}

/// The raw layer, every value as text so errors can name their key.
#[derive(Debug, Default, Deserialize)]
struct Raw {
    tollgate_listen: Option<String>,
    tollgate_env: Option<String>,
    database_url: Option<String>,
    jwt_secret_key: Option<SecretString>,
    stripe_secret_key: Option<SecretString>,
    stripe_webhook_secret: Option<SecretString>,
    stripe_price_id_basic: Option<String>,
    stripe_price_id_pro: Option<String>,
    stripe_api_base: Option<String>,
    tollgate_allowed_redirect_origins: Option<String>,
    tollgate_past_due_grace_hours: Option<String>,
    tollgate_auth_rate_per_minute: Option<String>,
    tollgate_plan_currency: Option<String>,
    tollgate_plan_free_runs: Option<String>,
    tollgate_plan_basic_runs: Option<String>,
    tollgate_plan_pro_runs: Option<String>,
    tollgate_plan_enterprise_runs: Option<String>,
    tollgate_plan_basic_price_cents: Option<String>,
    tollgate_plan_pro_price_cents: Option<String>,
    tollgate_trial_days: Option<String>,
    tollgate_trial_runs: Option<String>,
    tollgate_db_max_connections: Option<String>,
    tollgate_db_acquire_timeout_secs: Option<String>,
    tollgate_metered_routes: Option<String>,
    tollgate_refresh_reuse_grace_secs: Option<String>,
    tollgate_checkout_rate_per_minute: Option<String>,
    tollgate_body_timeout_secs: Option<String>,
    tollgate_cors_origins: Option<String>,
    tollgate_max_body_bytes: Option<String>,
    tollgate_access_token_ttl_secs: Option<String>,
    tollgate_refresh_token_ttl_days: Option<String>,
}

/// Secrets that only a placeholder would contain.
const PLACEHOLDERS: [&str; 5] = ["change-me", "changeme", "placeholder", "your-secret", "example"];

impl Settings {
    /// Loads from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        Self::load_from(config_dir, None)
    }

    /// Loads from `config_dir` and `env` (the process environment when `None`); for tests.
    pub fn load_from(
        config_dir: &Path,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, SettingsError> {
        let environment = config::Environment::default().source(env.clone());
        // The mode picks the file layer, so it is read from the environment first.
        let mode_hint = match &env {
            Some(map) => map.get("TOLLGATE_ENV").cloned(),
            None => std::env::var("TOLLGATE_ENV").ok(),
        };
        let mut builder = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")).required(false));
        if let Some(mode) = mode_hint.filter(|m| !m.contains(['/', '\\', '.'])) {
            let file = config_dir.join(format!("{}.toml", mode.to_lowercase()));
            builder = builder.add_source(config::File::from(file).required(false));
        }
        let raw: Raw = builder.add_source(environment).build()?.try_deserialize()?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Self, SettingsError> {
        let non_empty_text = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let catalog = catalog(
            &raw,
            non_empty_text(raw.stripe_price_id_basic.clone()),
            non_empty_text(raw.stripe_price_id_pro.clone()),
        )?;
        let mode = match raw.tollgate_env.as_deref().map(str::trim).unwrap_or("dev") {
            m if m.eq_ignore_ascii_case("dev") || m.eq_ignore_ascii_case("development") => RunMode::Dev,
            m if m.eq_ignore_ascii_case("production") || m.eq_ignore_ascii_case("prod") => {
                RunMode::Production
            }
            _ => return Err(invalid("TOLLGATE_ENV", "must be `dev` or `production`")),
        };
        let listen = raw
            .tollgate_listen
            .as_deref()
            .unwrap_or("127.0.0.1:8080")
            .trim()
            .parse()
            .map_err(|_| invalid("TOLLGATE_LISTEN", "must be an address like 127.0.0.1:8080"))?;
        let database_url = raw.database_url.unwrap_or_else(|| "sqlite://data/tollgate.db".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid("DATABASE_URL", "must start with sqlite:// or postgres://"));
        }
        let jwt_secret = jwt_secret(raw.jwt_secret_key, mode)?;
        let stripe_api_base = raw.stripe_api_base.unwrap_or_else(|| "https://api.stripe.com".to_owned());
        if !(stripe_api_base.starts_with("https://") || stripe_api_base.starts_with("http://")) {
            return Err(invalid("STRIPE_API_BASE", "must be an http(s) URL"));
        }
        let origins =
            raw.tollgate_allowed_redirect_origins.unwrap_or_else(|| "http://localhost:3000".to_owned());
        let redirects = RedirectPolicy::new(origins.split(',')).map_err(|bad| {
            invalid("TOLLGATE_ALLOWED_REDIRECT_ORIGINS", format!("`{bad}` is not an http(s) origin"))
        })?;
        let metered_routes =
            raw.tollgate_metered_routes.as_deref().unwrap_or("POST /api/v1/sessions").parse().map_err(
                |e: tollgate_http::route_table::RouteTableError| {
                    invalid("TOLLGATE_METERED_ROUTES", e.to_string())
                },
            )?;
        let cors_origins = match raw.tollgate_cors_origins.as_deref() {
            None => origins.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
            Some(list) => {
                let parsed: Vec<String> =
                    list.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect();
                RedirectPolicy::new(parsed.iter().map(String::as_str)).map_err(|bad| {
                    invalid("TOLLGATE_CORS_ORIGINS", format!("`{bad}` is not an http(s) origin"))
                })?;
                parsed
            }
        };
        let non_empty_secret = |v: Option<SecretString>| v.filter(|s| !s.expose_secret().trim().is_empty());
        Ok(Self {
            listen,
            mode,
            database_url,
            jwt_secret,
            stripe_secret_key: non_empty_secret(raw.stripe_secret_key),
            stripe_webhook_secret: non_empty_secret(raw.stripe_webhook_secret),
            stripe_api_base,
            catalog,
            redirects,
            past_due_grace_hours: number(
                raw.tollgate_past_due_grace_hours,
                "TOLLGATE_PAST_DUE_GRACE_HOURS",
                72,
            )?,
            auth_rate_per_minute: number(
                raw.tollgate_auth_rate_per_minute,
                "TOLLGATE_AUTH_RATE_PER_MINUTE",
                30,
            )?,
            db_max_connections: positive(raw.tollgate_db_max_connections, "TOLLGATE_DB_MAX_CONNECTIONS", 16)?,
            db_acquire_timeout_secs: positive(
                raw.tollgate_db_acquire_timeout_secs,
                "TOLLGATE_DB_ACQUIRE_TIMEOUT_SECS",
                5,
            )?,
            metered_routes,
            refresh_reuse_grace_secs: number(
                raw.tollgate_refresh_reuse_grace_secs,
                "TOLLGATE_REFRESH_REUSE_GRACE_SECS",
                10,
            )?,
            checkout_rate_per_minute: number(
                raw.tollgate_checkout_rate_per_minute,
                "TOLLGATE_CHECKOUT_RATE_PER_MINUTE",
                10,
            )?,
            body_timeout_secs: positive(raw.tollgate_body_timeout_secs, "TOLLGATE_BODY_TIMEOUT_SECS", 30)?,
            cors_origins,
            max_body_bytes: positive(raw.tollgate_max_body_bytes, "TOLLGATE_MAX_BODY_BYTES", 65_536)?
                as usize,
            access_ttl_secs: positive(
                raw.tollgate_access_token_ttl_secs,
                "TOLLGATE_ACCESS_TOKEN_TTL_SECS",
                900,
            )?,
            refresh_ttl_days: positive(
                raw.tollgate_refresh_token_ttl_days,
                "TOLLGATE_REFRESH_TOKEN_TTL_DAYS",
                30,
            )?,
        })
    }
}

/// The plan catalog: SPEC defaults, each limit, price and trial term overridable.
fn catalog(
    raw: &Raw,
    basic_price: Option<String>,
    pro_price: Option<String>,
) -> Result<PlanCatalog, SettingsError> {
    let defaults = PlanCatalog::with_defaults(basic_price, pro_price);
    let currency = match raw.tollgate_plan_currency.as_deref() {
        None => Currency::USD,
        Some(code) => {
            code.parse().map_err(|_| invalid("TOLLGATE_PLAN_CURRENCY", "must be a 3-letter ISO 4217 code"))?
        }
    };
    let runs = |value: &Option<String>, key: &'static str, default: RunLimit| match value
        .as_deref()
        .map(str::trim)
    {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("unlimited") => Ok(RunLimit::Unlimited),
        Some(v) => v
            .parse()
            .map(RunLimit::limited)
            .map_err(|_| invalid(key, "must be a whole number or `unlimited`")),
    };
    let cents = |value: &Option<String>, key: &'static str, default: Option<Money>| match value {
        None => Ok(default.map(|m| Money::new(m.amount_minor(), currency))),
        Some(v) => v
            .trim()
            .parse()
            .map(|c| Some(Money::new(c, currency)))
            .map_err(|_| invalid(key, "must be whole cents ≥ 0")),
    };
    let mut plans = defaults.plans().to_vec();
    for plan in &mut plans {
        let (runs_value, runs_key, price_value, price_key) = match plan.id {
            PlanId::Free => (&raw.tollgate_plan_free_runs, "TOLLGATE_PLAN_FREE_RUNS", &None, ""),
            PlanId::Basic => (
                &raw.tollgate_plan_basic_runs,
                "TOLLGATE_PLAN_BASIC_RUNS",
                &raw.tollgate_plan_basic_price_cents,
                "TOLLGATE_PLAN_BASIC_PRICE_CENTS",
            ),
            PlanId::Pro => (
                &raw.tollgate_plan_pro_runs,
                "TOLLGATE_PLAN_PRO_RUNS",
                &raw.tollgate_plan_pro_price_cents,
                "TOLLGATE_PLAN_PRO_PRICE_CENTS",
            ),
            PlanId::Enterprise => {
                (&raw.tollgate_plan_enterprise_runs, "TOLLGATE_PLAN_ENTERPRISE_RUNS", &None, "")
            }
        };
        plan.runs = runs(runs_value, runs_key, plan.runs)?;
        plan.price = cents(price_value, price_key, plan.price)?;
    }
    let trial = TrialTerms {
        days: match &raw.tollgate_trial_days {
            None => defaults.trial().days,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| invalid("TOLLGATE_TRIAL_DAYS", "must be a whole number of days"))?,
        },
        runs: RunCount::new(number(
            raw.tollgate_trial_runs.clone(),
            "TOLLGATE_TRIAL_RUNS",
            defaults.trial().runs.get(),
        )?),
    };
    PlanCatalog::new(plans, trial).map_err(|e| {
        let key = match e {
            CatalogError::FreeMustBeLimited => "TOLLGATE_PLAN_FREE_RUNS",
            CatalogError::EmptyTrial => "TOLLGATE_TRIAL_DAYS",
            CatalogError::SharedStripePrice(_) => "STRIPE_PRICE_ID_PRO",
            _ => "TOLLGATE_PLAN_*",
        };
        invalid(key, e.to_string())
    })
}

fn positive(raw: Option<String>, key: &'static str, default: u32) -> Result<u32, SettingsError> {
    match number(raw, key, default)? {
        0 => Err(invalid(key, "must be at least 1")),
        n => Ok(n),
    }
}

fn number(raw: Option<String>, key: &'static str, default: u32) -> Result<u32, SettingsError> {
    match raw {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| invalid(key, "must be a whole number ≥ 0")),
    }
}

/// The JWT secret: required, ≥ 32 bytes and not a placeholder in production; generated per
/// process in dev when unset (tokens then do not survive a restart).
fn jwt_secret(raw: Option<SecretString>, mode: RunMode) -> Result<SecretString, SettingsError> {
    const KEY: &str = "JWT_SECRET_KEY";
    let given = raw.filter(|s| !s.expose_secret().trim().is_empty());
    match (given, mode) {
        (None, RunMode::Production) => Err(invalid(KEY, "is required when TOLLGATE_ENV=production")),
        (None, RunMode::Dev) => {
            #[allow(clippy::disallowed_methods)] // randomness for a dev-only secret, not an id
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
