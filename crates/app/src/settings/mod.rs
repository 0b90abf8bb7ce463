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
//!
//! Here: `names` (the table and the sources), `sections` (the typed sections), `parsers` (the value
//! types), `error`; this module assembles [`Settings`] and checks it as a whole.

mod error;
mod names;
mod parsers;
mod sections;

use std::collections::HashMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use tollgate_domain::plan::{CatalogError, RunCount, TrialTerms};
use tollgate_domain::{Currency, Money, PlanCatalog, PlanId};

pub use error::{RunMode, SettingsError};
pub use names::KEYS;
pub use parsers::{DatabaseUrl, HttpUrl, MetricsListen, Secs};
pub use sections::{
    AuthSettings, BillingSettings, PlanSettings, ProxySettings, ServerSettings, StoreSettings, StripeSettings,
};

use error::invalid;
use names::{claimed, closest, file_entries, process_environment, setting, unreadable};
use sections::Sections;

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

/// The plan catalog: the domain's defaults, each limit, price and trial term overridable.
fn catalog(plans: &PlanSettings, stripe: &StripeSettings) -> Result<PlanCatalog, SettingsError> {
    let defaults = PlanCatalog::with_defaults(stripe.price_id_basic.clone(), stripe.price_id_pro.clone());
    let currency = plans.currency.unwrap_or(Currency::USD);
    let mut all = defaults.plans().to_vec();
    for plan in &mut all {
        let (runs, cents, per_seat) = match plan.id {
            PlanId::Free => (plans.free_runs, None, None),
            PlanId::Basic => (plans.basic_runs, plans.basic_price_cents, plans.basic_per_seat),
            PlanId::Pro => (plans.pro_runs, plans.pro_price_cents, plans.pro_per_seat),
            PlanId::Enterprise => (plans.enterprise_runs, None, None),
        };
        plan.runs = runs.unwrap_or(plan.runs);
        plan.per_seat = per_seat.unwrap_or(false);
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
mod tests;
