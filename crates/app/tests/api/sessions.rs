use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;
use tollgate_domain::{SubscriptionStatus, UsageEffect, UserId};

use crate::helpers::{problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn forty_concurrent_creates_by_one_free_user_give_ten_created_and_thirty_refused() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let requests = (0..40).map(|_| app.create_session(&account.access));
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.iter().map(|r| r.status()).collect();
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!((created, refused), (10, 30), "{statuses:?}");
    let sub = app.subscription(&account.access).await;
    assert_eq!(sub["monthly_agent_runs"], 10);
    assert_eq!(sub["remaining_runs"], 0);
    let page: Value =
        app.get("/api/v1/sessions?limit=100", Some(&account.access)).await.json().await.unwrap();
    assert_eq!(page["total"], 10);
}

#[tokio::test]
async fn the_eleventh_run_is_refused_with_what_to_do_while_reads_keep_working() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    for _ in 0..10 {
        assert_eq!(app.create_session(&account.access).await.status(), StatusCode::CREATED);
    }
    let body = problem(
        app.create_session(&account.access).await,
        StatusCode::PAYMENT_REQUIRED,
        "SUBSCRIPTION_LIMIT_REACHED",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("upgrade"));
    let quota = &body["subscription"];
    assert_eq!((quota["plan"].as_str(), quota["status"].as_str()), (Some("free"), Some("active")));
    assert_eq!(
        (quota["monthly_agent_runs"].as_u64(), quota["monthly_agent_runs_limit"].as_u64()),
        (Some(10), Some(10))
    );
    let sub = app.subscription(&account.access).await;
    assert_eq!(quota["resets_at"], sub["current_period_end"]);
    // Reads are never blocked.
    assert_eq!(app.get("/api/v1/sessions", Some(&account.access)).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/auth/me", Some(&account.access)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metered_answers_carry_the_remaining_quota() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let res = app.create_session(&account.access).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let header = |name: &str| res.headers().get(name).unwrap().to_str().unwrap().parse::<i64>().unwrap();
    assert_eq!(header("ratelimit-limit"), 10);
    assert_eq!(header("ratelimit-remaining"), 9);
    assert!(header("ratelimit-reset") > 27 * 86_400);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_original_and_consumes_nothing() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let send = || {
        app.client
            .post(app.url("/api/v1/sessions"))
            .bearer_auth(&account.access)
            .header("idempotency-key", "run-42")
            .json(&json!({"title": "first"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.subscription(&account.access).await["monthly_agent_runs"], 1);
    // Even once the quota is spent, the retry still gets its original answer.
    for _ in 0..9 {
        app.create_session(&account.access).await;
    }
    let late = send().await.unwrap();
    assert_eq!(late.status(), StatusCode::CREATED);
    assert_eq!(late.json::<Value>().await.unwrap(), first);
    // Another user's identical key is theirs alone.
    let bob = app.register("bob@example.com").await;
    let theirs = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&bob.access)
        .header("idempotency-key", "run-42")
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert_ne!(theirs.json::<Value>().await.unwrap()["id"], first["id"]);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused_before_anything_is_consumed() {
    let app = spawn_app().await;
    let account = app.register("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&account.access)
        .header("idempotency-key", "x".repeat(300))
        .send()
        .await
        .unwrap();
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.subscription(&account.access).await["monthly_agent_runs"], 0);
}

#[tokio::test]
async fn another_users_session_is_not_found() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let created: Value = app.create_session(&ada.access).await.json().await.unwrap();
    let path = format!("/api/v1/sessions/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some(&ada.access)).await.status(), StatusCode::OK);
    problem(app.get(&path, Some(&bob.access)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let delete = app.request(reqwest::Method::DELETE, &path, Some(&bob.access), None).await;
    problem(delete, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let page: Value = app.get("/api/v1/sessions", Some(&bob.access)).await.json().await.unwrap();
    assert_eq!(page["total"], 0);
    assert_eq!(app.get(&path, Some(&ada.access)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    for i in 0..5 {
        app.post("/api/v1/sessions", Some(&ada.access), json!({"title": format!("s{i}")})).await;
        app.clock.advance(Duration::seconds(1));
    }
    let page: Value =
        app.get("/api/v1/sessions?limit=2&offset=1", Some(&ada.access)).await.json().await.unwrap();
    let titles: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["s3", "s2"]);
    assert_eq!(
        (page["total"].as_u64(), page["limit"].as_u64(), page["offset"].as_u64()),
        (Some(5), Some(2), Some(1))
    );
    let bad = app.get("/api/v1/sessions?limit=0", Some(&ada.access)).await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let bad = app.get("/api/v1/sessions?limit=abc", Some(&ada.access)).await;
    problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn deleting_a_session_gives_no_run_back() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let created: Value = app.create_session(&ada.access).await.json().await.unwrap();
    let path = format!("/api/v1/sessions/{}", created["id"].as_str().unwrap());
    assert_eq!(
        app.request(reqwest::Method::DELETE, &path, Some(&ada.access), None).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(app.get(&path, Some(&ada.access)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 1);
}

#[tokio::test]
async fn an_unpaid_subscription_is_refused_as_inactive() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let user: UserId = ada.id.parse().unwrap();
    let subs = app.store.ports().subs;
    let sub = subs.get_by_account(tollgate_domain::AccountId::personal(user)).await.unwrap().unwrap();
    let mut parts = sub.parts();
    parts.status = SubscriptionStatus::Unpaid;
    parts.version += 1;
    subs.update(&tollgate_domain::Subscription::from_parts(parts), sub.version(), UsageEffect::Keep)
        .await
        .unwrap();
    let body =
        problem(app.create_session(&ada.access).await, StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_INACTIVE")
            .await;
    assert_eq!(body["subscription"]["status"], "unpaid");
    assert!(body["detail"].as_str().unwrap().contains("payment method"));
}

#[tokio::test]
async fn a_new_period_gives_the_runs_back_once() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..10 {
        app.create_session(&ada.access).await;
    }
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::PAYMENT_REQUIRED);
    app.clock.advance(Duration::days(32));
    assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 1);
}

#[tokio::test]
async fn metering_needs_authentication_first() {
    let app = spawn_app().await;
    problem(app.post("/api/v1/sessions", None, json!({})).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
        .await;
}

#[tokio::test]
async fn an_unmetered_configuration_creates_sessions_without_counting() {
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", "POST /api/v1/something-else")]).await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..12 {
        assert_eq!(app.create_session(&ada.access).await.status(), StatusCode::CREATED);
    }
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
}

#[tokio::test]
async fn a_generic_metered_route_that_fails_with_a_5xx_is_refunded() {
    // Checkout answers 503 without Stripe: metered, it must not cost a run.
    let routes = "POST /api/v1/sessions, POST /api/v1/billing/create-checkout-session, POST /api/v1/billing/activate-trial";
    let app = spawn_app_with(&[("TOLLGATE_METERED_ROUTES", routes)]).await;
    let ada = app.register("ada@example.com").await;
    let res =
        app.post("/api/v1/billing/create-checkout-session", Some(&ada.access), json!({"plan": "pro"})).await;
    assert_eq!(res.headers().get("ratelimit-limit").unwrap(), "10");
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "STRIPE_NOT_CONFIGURED").await;
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 0);
    // A metered route that succeeds, or fails with a 4xx, stays counted.
    assert_eq!(
        app.post("/api/v1/billing/activate-trial", Some(&ada.access), json!({})).await.status(),
        StatusCode::OK
    );
    let again = app.post("/api/v1/billing/activate-trial", Some(&ada.access), json!({})).await;
    problem(again, StatusCode::CONFLICT, "TRIAL_UNAVAILABLE").await;
    assert_eq!(app.subscription(&ada.access).await["monthly_agent_runs"], 1);
}
