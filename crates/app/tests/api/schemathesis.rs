//! schemathesis (pinned, installed by `scripts/schemathesis.sh`) against the running server's own
//! OpenAPI document, with every phase and every check, on this test run's store. Stripe is an
//! HTTP mock answering with Stripe's fixture objects, so Checkout and the portal answer 200.

use std::process::Command;

use serde_json::Value;
use tollgate_domain::{PlanId, RunLimit, UserId};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::spawn_app_with;
use crate::stripe_events::stripe_settings;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../adapters/stripe/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_against_schemathesis_with_every_phase_and_check() {
    let binary = std::env::var("TOLLGATE_TEST_SCHEMATHESIS")
        .unwrap_or_else(|_| format!("{}/../../.venv/bin/schemathesis", env!("CARGO_MANIFEST_DIR")));
    if !std::path::Path::new(&binary).exists() {
        assert!(!in_ci(), "schemathesis is not installed at {binary} (scripts/schemathesis.sh installs it)");
        eprintln!("SKIPPED: schemathesis not installed at {binary}; run scripts/schemathesis.sh");
        return;
    }
    let stripe = MockServer::start().await;
    for (route, name) in [
        ("/v1/customers", "customer"),
        ("/v1/checkout/sessions", "checkout.session"),
        ("/v1/billing_portal/sessions", "billing_portal.session"),
    ] {
        Mock::given(method("POST"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(name)))
            .mount(&stripe)
            .await;
    }
    let settings = stripe_settings(&stripe.uri());
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    // The token's user is on an unlimited plan, so generated sessions exercise creation (a spent
    // quota's 402 has tests of its own).
    let account = app.register("schemathesis@example.com").await;
    let user: UserId = account.id.parse().expect("user id");
    let subs = app.store.ports().subs;
    let mut sub = subs
        .get_by_account(tollgate_domain::AccountId::personal(user))
        .await
        .expect("store")
        .expect("subscription");
    let expected = sub.version();
    let effect =
        sub.set_plan_by_admin(PlanId::Enterprise, Some(RunLimit::Unlimited), sub.created_at()).expect("plan");
    subs.update(&sub, expected, effect).await.expect("unlimited");
    // And an admin, so the admin API is exercised beyond its 403.
    app.services
        .admin
        .set_role(
            &tollgate_domain::Email::parse("schemathesis@example.com").expect("email"),
            tollgate_domain::Role::Admin,
            &tollgate_usecases::admin::Actor::cli("schemathesis"),
        )
        .await
        .expect("admin");

    let work = tempfile::tempdir().expect("temp dir");
    let config = format!("{}/tests/schemathesis/schemathesis.toml", env!("CARGO_MANIFEST_DIR"));
    let schema = app.url("/api/v1/openapi.json");
    let token = account.access.clone();
    let service_key = app.service_key("schemathesis").await;
    let dir = work.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&binary)
            .args(["--config-file", &config, "run", &schema])
            .args(["--phases", "examples,coverage,fuzzing,stateful", "--checks", "all", "--no-color"])
            .env("TOLLGATE_TEST_ST_TOKEN", token)
            .env("TOLLGATE_TEST_ST_SERVICE_KEY", service_key)
            .env("HYPOTHESIS_STORAGE_DIRECTORY", dir.join("hypothesis"))
            .current_dir(&dir)
            .output()
            .expect("schemathesis runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Its summary goes into the test log either way.
    println!("{stdout}");
    // Exit 0: no failure and no warning (the configuration makes warnings fail the run).
    assert!(output.status.success(), "schemathesis found problems ({}):\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("Stateful"), "the stateful phase ran: {stdout}");
}
