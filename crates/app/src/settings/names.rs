//! The one table of setting names ([`KEYS`]) and what reads it: the environment and the files,
//! each refusing a name nobody reads (naming the closest one).

use std::collections::HashMap;
use std::path::Path;

use super::error::{invalid, SettingsError};

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
    ("TOLLGATE_PLAN_BASIC_PER_SEAT", "plans.basic_per_seat"),
    ("TOLLGATE_PLAN_PRO_PER_SEAT", "plans.pro_per_seat"),
    ("TOLLGATE_TRIAL_DAYS", "plans.trial_days"),
    ("TOLLGATE_TRIAL_RUNS", "plans.trial_runs"),
];

/// The entry of [`KEYS`] named `name`, in any case (`DATABASE_URL`, `tollgate_listen`).
pub(crate) fn setting(name: &str) -> Option<&'static (&'static str, &'static str)> {
    KEYS.iter().find(|(known, _)| known.eq_ignore_ascii_case(name))
}

/// Whether a name not in [`KEYS`] is one Tollgate must refuse: `TOLLGATE_*`, except the test
/// suite's `TOLLGATE_TEST_*`.
pub(crate) fn claimed(name: &str) -> bool {
    let upper = name.to_uppercase();
    upper.starts_with("TOLLGATE_") && !upper.starts_with("TOLLGATE_TEST_")
}

/// The process environment. A value that is not UTF-8 is refused when the name is one of ours
/// (without showing it); other programs' variables are not Tollgate's business.
pub(crate) fn process_environment() -> Result<HashMap<String, String>, SettingsError> {
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
pub(crate) fn unreadable(file: &Path, e: config::ConfigError) -> SettingsError {
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
pub(crate) fn is_section(name: &str) -> bool {
    KEYS.iter().any(|(_, path)| path.split_once('.').is_some_and(|(section, _)| section == name))
}

/// The settings one top-level key of a file sets: a name in lower case, or a section's table.
pub(crate) fn file_entries(
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
pub(crate) fn section_form(path: &str) -> String {
    path.split_once('.').map_or_else(|| path.to_owned(), |(section, key)| format!("[{section}] {key}"))
}

/// The candidate nearest to `name`, if it is near enough to be the one meant.
pub(crate) fn closest(name: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    candidates
        .map(|c| (strsim::levenshtein(name, &c), c))
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, c)| *distance <= (name.len().max(c.len()) / 3).max(2))
        .map(|(_, c)| c)
}
