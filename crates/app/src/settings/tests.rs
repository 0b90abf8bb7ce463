use std::collections::HashMap;

use tollgate_domain::plan::{RunCount, RunLimit, TrialTerms};
use tollgate_domain::{Currency, Money, PlanId};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).expect("write");
    }
    dir
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn the_defaults_match_the_spec() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(dir.path(), env(&[])).expect("defaults load");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.mode(), RunMode::Dev);
    assert_eq!(s.store.database_url.0, "sqlite://data/tollgate.db");
    assert_eq!(s.stripe.api_base.0, "https://api.stripe.com");
    assert!(s.stripe.secret_key.is_none() && s.stripe.webhook_secret.is_none());
    assert_eq!(s.billing.past_due_grace_hours, 72);
    assert_eq!(s.auth.rate_per_minute, 30);
    assert!(s.billing.redirect_origins.check("http://localhost:3000/x").is_ok());
    assert!(s.jwt_secret.expose_secret().len() >= 32, "dev generates a secret");
    assert_eq!(s.server.max_body_bytes.get(), 65_536);
    assert_eq!(s.server.body_timeout.0, std::time::Duration::from_secs(30));
    assert_eq!(s.auth.refresh_reuse_grace.0, std::time::Duration::from_secs(10));
    assert_eq!(s.billing.checkout_rate_per_minute, 10);
    assert_eq!(s.store.max_connections.get(), 16);
    assert_eq!(s.server.metered_routes, tollgate_http::RouteTable::default_table());
    assert_eq!(s.cors_origins, ["http://localhost:3000"]);
}

#[test]
fn every_setting_in_the_name_table_is_documented_in_env_example_and_the_readme() {
    let example = include_str!("../../../../.env.example");
    let readme = include_str!("../../../../README.md");
    for (name, _) in KEYS {
        assert!(example.contains(&format!("{name}=")), "{name} is not in .env.example");
        let in_readme = readme.contains(name)
            || (name.starts_with("TOLLGATE_PLAN_") || name.starts_with("TOLLGATE_TRIAL_"));
        assert!(in_readme, "{name} is not in the README's table");
    }
}

#[test]
fn every_name_in_the_table_reaches_its_section() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(
        dir.path(),
        env(&[
            ("TOLLGATE_MAX_BODY_BYTES", "1000"),
            ("TOLLGATE_BODY_TIMEOUT_SECS", "7"),
            ("TOLLGATE_METERED_ROUTES", "POST /x=3"),
            ("TOLLGATE_DB_MAX_CONNECTIONS", "3"),
            ("TOLLGATE_DB_ACQUIRE_TIMEOUT_SECS", "2"),
            ("TOLLGATE_ACCESS_TOKEN_TTL_SECS", "60"),
            ("TOLLGATE_REFRESH_TOKEN_TTL_DAYS", "2"),
            ("TOLLGATE_REFRESH_REUSE_GRACE_SECS", "0"),
            ("TOLLGATE_CHECKOUT_RATE_PER_MINUTE", "0"),
            ("TOLLGATE_CORS_ORIGINS", "https://app.example.com"),
            ("STRIPE_PRICE_ID_BASIC", ""),
        ]),
    )
    .expect("loads");
    assert_eq!(s.server.max_body_bytes.get(), 1000);
    assert_eq!(s.server.body_timeout.0.as_secs(), 7);
    assert_eq!(s.server.metered_routes.routes().len(), 1);
    assert_eq!((s.store.max_connections.get(), s.store.acquire_timeout.0.as_secs()), (3, 2));
    assert_eq!((s.auth.access_ttl.0.as_secs(), s.auth.refresh_ttl_days.get()), (60, 2));
    assert_eq!(s.auth.refresh_reuse_grace.0.as_secs(), 0);
    assert_eq!(s.billing.checkout_rate_per_minute, 0);
    assert_eq!(s.cors_origins, ["https://app.example.com"]);
    assert_eq!(s.stripe.price_id_basic, None, "blank is unset");
    for (key, value) in [
        ("TOLLGATE_MAX_BODY_BYTES", "0"),
        ("TOLLGATE_METERED_ROUTES", "POST /x=0"),
        ("TOLLGATE_CORS_ORIGINS", "not an origin"),
        ("TOLLGATE_BODY_TIMEOUT_SECS", "soon"),
        ("TOLLGATE_INBOX_RETENTION_DAYS", "6"),
    ] {
        let err = Settings::load_from(dir.path(), env(&[(key, value)])).expect_err(key);
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn a_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
    let dir = dir_with(&[(
        "default.toml",
        "tollgate_listen = \"0.0.0.0:9000\"\ntollgate_past_due_grace_hours = \"10\"\nstripe_price_id_pro = \"price_file\"\n",
    )]);
    let s = Settings::load_from(dir.path(), env(&[("TOLLGATE_LISTEN", "127.0.0.1:7000")])).expect("loads");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:7000", "environment wins over the file");
    assert_eq!(s.billing.past_due_grace_hours, 10, "the file wins over the default");
    assert_eq!(s.catalog.checkout_price(tollgate_domain::PlanId::Pro), Ok("price_file"));
}

#[test]
fn the_mode_file_is_layered_over_the_default_file() {
    let dir = dir_with(&[
        ("default.toml", "tollgate_auth_rate_per_minute = \"5\"\n"),
        ("production.toml", "tollgate_auth_rate_per_minute = \"50\"\n"),
    ]);
    let s =
        Settings::load_from(dir.path(), env(&[("TOLLGATE_ENV", "production"), ("JWT_SECRET_KEY", SECRET)]))
            .expect("loads");
    assert_eq!(s.auth.rate_per_minute, 50);
}

#[test]
fn a_bad_value_names_its_key_and_not_its_value() {
    let dir = dir_with(&[]);
    let cases = [
        ("TOLLGATE_LISTEN", "not-an-address"),
        ("TOLLGATE_ENV", "staging"),
        ("DATABASE_URL", "mysql://x"),
        ("TOLLGATE_PAST_DUE_GRACE_HOURS", "three"),
        ("TOLLGATE_AUTH_RATE_PER_MINUTE", "-1"),
        ("TOLLGATE_ALLOWED_REDIRECT_ORIGINS", "ftp://files.example.com"),
        ("STRIPE_API_BASE", "api.stripe.com"),
        ("JWT_SECRET_KEY", "short-secret-value"),
    ];
    for (key, value) in cases {
        let err = Settings::load_from(dir.path(), env(&[(key, value)])).expect_err(key);
        let message = err.to_string();
        assert!(message.contains(key), "{message}");
        if key == "JWT_SECRET_KEY" {
            assert!(!message.contains(value), "the secret leaked: {message}");
        }
    }
}

#[test]
fn production_refuses_a_missing_or_placeholder_jwt_secret() {
    let dir = dir_with(&[]);
    let missing = Settings::load_from(dir.path(), env(&[("TOLLGATE_ENV", "production")]));
    assert!(missing.expect_err("refused").to_string().contains("JWT_SECRET_KEY"));
    let placeholder = "change-me-change-me-change-me-change-me";
    let err = Settings::load_from(
        dir.path(),
        env(&[("TOLLGATE_ENV", "production"), ("JWT_SECRET_KEY", placeholder)]),
    );
    assert!(err.expect_err("refused").to_string().contains("placeholder"));
    let ok =
        Settings::load_from(dir.path(), env(&[("TOLLGATE_ENV", "production"), ("JWT_SECRET_KEY", SECRET)]));
    assert_eq!(ok.expect("accepted").mode(), RunMode::Production);
}

#[test]
fn secrets_are_not_printed_by_debug() {
    let dir = dir_with(&[]);
    let s = Settings::load_from(
        dir.path(),
        env(&[("JWT_SECRET_KEY", SECRET), ("STRIPE_SECRET_KEY", "sk_test_supersecret")]),
    )
    .expect("loads");
    let printed = format!("{s:?}");
    assert!(!printed.contains(SECRET) && !printed.contains("sk_test_supersecret"), "{printed}");
}

#[test]
fn the_plan_catalog_can_be_overridden_and_is_validated() {
    let dir = dir_with(&[("default.toml", "tollgate_plan_pro_runs = \"8000\"\n")]);
    let s = Settings::load_from(
        dir.path(),
        env(&[
            ("TOLLGATE_PLAN_FREE_RUNS", "25"),
            ("TOLLGATE_PLAN_BASIC_PRICE_CENTS", "2900"),
            ("TOLLGATE_PLAN_ENTERPRISE_RUNS", "100000"),
            ("TOLLGATE_TRIAL_DAYS", "7"),
            ("TOLLGATE_TRIAL_RUNS", "20"),
        ]),
    )
    .expect("loads");
    let c = &s.catalog;
    assert_eq!(c.get(PlanId::Free).runs, RunLimit::limited(25));
    assert_eq!(c.get(PlanId::Pro).runs, RunLimit::limited(8000));
    assert_eq!(c.get(PlanId::Basic).price, Some(Money::new(2900, Currency::USD)));
    assert_eq!(c.get(PlanId::Enterprise).runs, RunLimit::limited(100_000));
    assert_eq!(c.trial(), TrialTerms { days: 7, runs: RunCount::new(20) });
    for (key, value) in [
        ("TOLLGATE_PLAN_FREE_RUNS", "unlimited"),
        ("TOLLGATE_PLAN_PRO_RUNS", "lots"),
        ("TOLLGATE_PLAN_PRO_PRICE_CENTS", "49.00"),
        ("TOLLGATE_TRIAL_DAYS", "0"),
        ("TOLLGATE_PLAN_CURRENCY", "dollars"),
    ] {
        let err = Settings::load_from(dir.path(), env(&[(key, value)])).expect_err(key);
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn a_generated_dev_secret_is_kept_beside_the_store_and_survives_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir_with(&[]);
    let url = format!("sqlite://{}/store/tollgate.db", dir.path().display());
    let load = || Settings::load_from(dir.path(), env(&[("DATABASE_URL", url.as_str())])).expect("loads");
    let mut first = load();
    let file = first.keep_dev_secret().expect("kept").expect("a generated secret");
    assert_eq!(file, dir.path().join("store/dev-jwt-secret"));
    assert_eq!(std::fs::metadata(&file).expect("file").permissions().mode() & 0o777, 0o600);
    // The next start generates another, then reads the kept one instead.
    let mut second = load();
    assert_ne!(second.jwt_secret.expose_secret(), first.jwt_secret.expose_secret());
    second.keep_dev_secret().expect("kept");
    assert_eq!(second.jwt_secret.expose_secret(), first.jwt_secret.expose_secret());
    // A configured secret is used as it is, and nothing is written.
    let other = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/tollgate.db", other.path().display());
    let mut configured =
        Settings::load_from(dir.path(), env(&[("DATABASE_URL", url.as_str()), ("JWT_SECRET_KEY", SECRET)]))
            .expect("loads");
    assert_eq!(configured.keep_dev_secret().expect("nothing to do"), None);
    assert!(!other.path().join("dev-jwt-secret").exists());
}

#[test]
fn an_unknown_tollgate_variable_is_refused_naming_the_closest_valid_one() {
    let dir = dir_with(&[]);
    let err = Settings::load_from(dir.path(), env(&[("TOLLGATE_PLAN_PRO_RUN", "7")])).expect_err("a typo");
    assert_eq!(
        err.to_string(),
        "unknown setting `TOLLGATE_PLAN_PRO_RUN` in the environment; did you mean `TOLLGATE_PLAN_PRO_RUNS`?"
    );
    let err =
        Settings::load_from(dir.path(), env(&[("TOLLGATE_COMPLETELY_DIFFERENT", "1")])).expect_err("unknown");
    assert_eq!(err.to_string(), "unknown setting `TOLLGATE_COMPLETELY_DIFFERENT` in the environment");
    // The test suite's own names, and other programs' variables, are not Tollgate's to refuse.
    let s = Settings::load_from(
        dir.path(),
        env(&[("TOLLGATE_TEST_STORE", "postgres"), ("STRIPE_DEVICE_NAME", "laptop"), ("HOME", "/root")]),
    );
    assert!(s.is_ok(), "{:?}", s.err());
}

#[test]
fn an_unknown_file_key_is_refused_and_the_sectioned_form_is_read() {
    let unknown = |body: &str| {
        let dir = dir_with(&[("default.toml", body)]);
        Settings::load_from(dir.path(), env(&[])).expect_err(body).to_string()
    };
    let message = unknown("tollgate_listn = \"0.0.0.0:9000\"\n");
    assert!(message.contains("`tollgate_listn`") && message.contains("default.toml"), "{message}");
    assert!(message.ends_with("did you mean `tollgate_listen`?"), "{message}");
    let message = unknown("[server]\nlisen = \"0.0.0.0:9000\"\n");
    assert!(
        message.contains("`[server] lisen`") && message.ends_with("did you mean `[server] listen`?"),
        "{message}"
    );
    let message = unknown("[server]\ndatabase_url = \"sqlite://x.db\"\n");
    assert!(message.ends_with("did you mean `[store] database_url`?"), "{message}");

    let dir = dir_with(&[(
        "default.toml",
        "[server]\nlisten = \"0.0.0.0:9000\"\n[plans]\npro_runs = 7\n[store]\ndatabase_url = \"sqlite://x.db\"\n",
    )]);
    let s =
        Settings::load_from(dir.path(), env(&[("TOLLGATE_PLAN_PRO_RUNS", "8")])).expect("the sectioned form");
    assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(s.store.database_url.0, "sqlite://x.db");
    assert_eq!(s.catalog.get(PlanId::Pro).runs, RunLimit::limited(8), "the environment still wins");
}

#[test]
fn a_negative_number_gets_a_sentence() {
    let dir = dir_with(&[]);
    for key in
        ["TOLLGATE_DB_MAX_CONNECTIONS", "TOLLGATE_AUTH_RATE_PER_MINUTE", "TOLLGATE_PAST_DUE_GRACE_HOURS"]
    {
        let message = Settings::load_from(dir.path(), env(&[(key, "-1")])).expect_err(key).to_string();
        assert_eq!(message, format!("invalid setting `{key}`: must be a whole number, not a negative one"));
    }
    let message = Settings::load_from(dir.path(), env(&[("TOLLGATE_DB_MAX_CONNECTIONS", "0")]))
        .expect_err("zero")
        .to_string();
    assert!(message.ends_with("must be at least 1"), "{message}");
}

#[test]
fn production_on_sqlite_or_without_stripe_is_warned_about() {
    let dir = dir_with(&[]);
    let production = [("TOLLGATE_ENV", "production"), ("JWT_SECRET_KEY", SECRET)];
    let s = Settings::load_from(dir.path(), env(&production)).expect("loads");
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("SQLite") && warnings[1].contains("STRIPE_SECRET_KEY"), "{warnings:?}");
    let paid_but_deaf =
        [("STRIPE_SECRET_KEY", "sk_test_x"), ("DATABASE_URL", "postgres://postgres@127.0.0.1/x")];
    let s =
        Settings::load_from(dir.path(), env(&[&production[..], &paid_but_deaf[..]].concat())).expect("loads");
    assert_eq!(s.warnings().len(), 1);
    assert!(s.warnings()[0].contains("paid plans never take effect"), "{:?}", s.warnings());
    let configured = [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1/x"),
        ("STRIPE_SECRET_KEY", "sk_test_x"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ];
    let s =
        Settings::load_from(dir.path(), env(&[&production[..], &configured[..]].concat())).expect("loads");
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    let s = Settings::load_from(dir.path(), env(&[])).expect("dev");
    assert!(s.warnings().is_empty(), "dev is not warned about");
}

#[test]
fn a_file_that_does_not_parse_is_named_without_quoting_its_line() {
    let dir = dir_with(&[("default.toml", "stripe_secret_key = sk_live_do_not_print_me\n")]);
    let message = Settings::load_from(dir.path(), env(&[])).expect_err("bad toml").to_string();
    assert!(message.contains("default.toml is not valid TOML: TOML parse error at line 1"), "{message}");
    assert!(!message.contains("sk_live_do_not_print_me"), "the secret leaked: {message}");
}

#[test]
fn the_mode_is_read_whatever_the_case_of_its_name() {
    let dir = dir_with(&[("production.toml", "tollgate_auth_rate_per_minute = 50\n")]);
    let s =
        Settings::load_from(dir.path(), env(&[("tollgate_env", "production"), ("JWT_SECRET_KEY", SECRET)]))
            .expect("loads");
    assert_eq!((s.mode(), s.auth.rate_per_minute), (RunMode::Production, 50));
}
