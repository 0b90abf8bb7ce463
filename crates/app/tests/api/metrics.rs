//! Prometheus metrics (SPEC §8): the exposition passes `promtool check metrics`, the counters
//! match what a scripted scenario did, and request labels are route patterns (bounded).

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::stripe_events::{stripe_settings, Billing};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

async fn scrape(app: &TestApp) -> String {
    let address = app.metrics_address.as_deref().expect("the metrics listener is on");
    let res = app.client.get(format!("{address}/metrics")).send().await.expect("scraped");
    assert_eq!(res.status(), StatusCode::OK);
    let media = res.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(media.starts_with("text/plain; version=0.0.4"), "{media}");
    res.text().await.expect("text")
}

/// One sample: its name, labels and value.
type Sample = (String, Vec<(String, String)>, f64);

/// Every sample of the exposition.
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().expect("a number"))
        })
        .collect()
}

/// The value of the series `name` with (at least) these labels; 0 when absent.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name && labels.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// `promtool check metrics` (Debian's `prometheus` package, installed by scripts/test.sh) on `text`.
fn promtool(text: &str) {
    use std::io::Write;
    let binary = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(!in_ci(), "promtool is not installed (scripts/test.sh installs Debian's prometheus)");
        eprintln!("SKIPPED: promtool not installed; run scripts/test.sh");
        return;
    };
    let mut child = std::process::Command::new(binary)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("promtool finished");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_counters_match_a_scripted_scenario_and_promtool_accepts_the_exposition() {
    let stripe = wiremock::MockServer::start().await;
    let settings = stripe_settings(&stripe.uri());
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&pairs).await;
    let before = scrape(&app).await;
    promtool(&before);
    assert_eq!(value(&before, "tollgate_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    for outcome in ["allowed", "replayed", "limit_reached", "inactive"] {
        assert!(
            before.contains(&format!("tollgate_quota_decisions_total{{outcome=\"{outcome}\"}} 0")),
            "{before}"
        );
    }

    // Ada: 10 sessions (the free limit), one replayed, one refused.
    let ada = app.register("ada@example.com").await;
    let keyed = |key: &'static str| {
        app.client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", key)
            .json(&json!({"title": "run"}))
    };
    assert_eq!(keyed("k-1").send().await.expect("sent").status(), StatusCode::CREATED);
    for _ in 0..9 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    assert_eq!(keyed("k-1").send().await.expect("sent").status(), StatusCode::CREATED, "a replay");
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::PAYMENT_REQUIRED);

    // Grace, through the service API: consume 4 and refund them, hold 3 and commit 2, hold 1 more.
    let grace = app.register("grace@example.com").await;
    let key = app.service_key("agents").await;
    let service =
        |path: &str, body: Value| app.client.post(app.url(path)).bearer_auth(&key).json(&body).send();
    let consumed: Value = service("/api/v1/usage/consume", json!({"user_id": grace.id, "runs": 4}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let refund = service("/api/v1/usage/refund", json!({"consumption_id": consumed["consumption_id"]})).await;
    assert_eq!(refund.expect("sent").status(), StatusCode::OK);
    let held: Value = service("/api/v1/reservations", json!({"user_id": grace.id, "runs": 3}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let commit = service(
        &format!("/api/v1/reservations/{}/commit", held["id"].as_str().expect("id")),
        json!({"runs": 2}),
    );
    assert_eq!(commit.await.expect("sent").status(), StatusCode::OK);
    let open = service("/api/v1/reservations", json!({"user_id": grace.id, "runs": 1})).await.expect("sent");
    assert_eq!(open.status(), StatusCode::CREATED);

    // Webhooks: one Tollgate acts on, one type it does not, one with a bad signature.
    let billing = Billing::for_account(&app, &grace).await;
    let t = app.clock_now().unix_timestamp();
    let event = billing.checkout_completed(t, "pro", true);
    assert_eq!(app.deliver(&event).await.status(), StatusCode::OK);
    let mut other = event.clone();
    other["id"] = json!("evt_other_1");
    other["type"] = json!("charge.refunded");
    assert_eq!(app.deliver(&other).await.status(), StatusCode::OK);
    let forged = app
        .client
        .post(app.url("/api/v1/billing/webhook"))
        .header("stripe-signature", "t=1,v1=00")
        .header("content-type", "application/json")
        .body(json!({"type": "attacker.chosen.type"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    let after = scrape(&app).await;
    promtool(&after);
    let decisions = |outcome| value(&after, "tollgate_quota_decisions_total", &[("outcome", outcome)]);
    // 10 sessions + 1 consumption + 2 holds allowed; 1 replay; 1 refusal.
    assert_eq!(decisions("allowed"), 13.0);
    assert_eq!(decisions("replayed"), 1.0);
    assert_eq!(decisions("limit_reached"), 1.0);
    assert_eq!(decisions("inactive"), 0.0);
    // 10 sessions + 4 consumed + 2 committed; a hold consumes nothing until its commit.
    assert_eq!(value(&after, "tollgate_runs_consumed_total", &[]), 16.0);
    assert_eq!(value(&after, "tollgate_runs_refunded_total", &[]), 4.0);
    assert_eq!(value(&after, "tollgate_reservations_held", &[]), 1.0);
    let webhook = |kind, outcome| {
        value(&after, "tollgate_webhook_events_total", &[("type", kind), ("outcome", outcome)])
    };
    assert_eq!(webhook("checkout.session.completed", "processed"), 1.0);
    assert_eq!(webhook("other", "ignored"), 1.0);
    assert_eq!(webhook("unverified", "rejected"), 1.0);
    assert!(!after.contains("attacker.chosen.type") && !after.contains("charge.refunded"));
    let sessions = [("method", "POST"), ("route", "/api/v1/sessions")];
    assert_eq!(
        value(&after, "tollgate_http_requests_total", &[sessions[0], sessions[1], ("status", "201")]),
        11.0
    );
    assert_eq!(
        value(&after, "tollgate_http_requests_total", &[sessions[0], sessions[1], ("status", "402")]),
        1.0
    );
    assert_eq!(value(&after, "tollgate_http_request_duration_seconds_count", &sessions), 12.0);
    assert!(value(&after, "tollgate_store_pool_connections", &[("state", "idle")]) >= 1.0);
}

#[tokio::test]
async fn request_labels_are_route_patterns_whatever_the_paths_and_methods() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..25 {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            app.get(&format!("/api/v1/sessions/{id}"), Some(&ada.access)).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get(&format!("/no/such/{id}"), None).await.status(), StatusCode::NOT_FOUND);
        let odd = reqwest::Method::from_bytes(format!("X{}", id.simple()).as_bytes()).expect("a method");
        app.request(odd, "/api/v1/sessions", Some(&ada.access), None).await;
    }
    let text = scrape(&app).await;
    promtool(&text);
    let series: Vec<_> =
        samples(&text).into_iter().filter(|(n, ..)| n == "tollgate_http_requests_total").collect();
    let routes: BTreeSet<String> = series
        .iter()
        .flat_map(|(_, l, _)| l.iter().filter(|(k, _)| k == "route").map(|(_, v)| v.clone()))
        .collect();
    let methods: BTreeSet<String> = series
        .iter()
        .flat_map(|(_, l, _)| l.iter().filter(|(k, _)| k == "method").map(|(_, v)| v.clone()))
        .collect();
    let known: BTreeSet<String> = tollgate_http::routes::ROUTES
        .iter()
        .map(|(_, path)| (*path).to_owned())
        .chain([tollgate_http::metrics::UNMATCHED.to_owned()])
        .collect();
    assert!(routes.is_subset(&known), "{routes:?}");
    assert!(routes.contains("/api/v1/sessions/{id}") && routes.contains("unmatched"), "{routes:?}");
    assert_eq!(methods, BTreeSet::from(["GET".to_owned(), "POST".to_owned(), "OTHER".to_owned()]));
    assert!(series.len() <= 8, "75 distinct requests, a handful of series: {series:?}");
    let by_pattern = value(
        &text,
        "tollgate_http_requests_total",
        &[("route", "/api/v1/sessions/{id}"), ("status", "404")],
    );
    assert_eq!(by_pattern, 25.0);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only_and_can_be_turned_off() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::NOT_FOUND, "not on the API's address");
    let address = app.metrics_address.clone().expect("on");
    let head = app.client.head(format!("{address}/metrics")).send().await.expect("sent");
    assert_eq!(head.status(), StatusCode::OK, "HEAD answers like GET");
    let other = app.client.get(format!("{address}/api/v1/openapi.json")).send().await.expect("sent");
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "and nothing else on the metrics address");
    let off = spawn_app_with(&[("TOLLGATE_METRICS_LISTEN", "off")]).await;
    assert!(off.metrics_address.is_none());
}
